"""A URLconf without the OpenPanel URLs (for the system checks)."""

from __future__ import annotations

from typing import Any

urlpatterns: list[Any] = []
