"""Test helpers for openpanel-django (a unique module name: one flat import namespace)."""

from __future__ import annotations

__all__: list[str] = []
