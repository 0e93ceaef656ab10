"""Test helpers for openpanel-asgi (a unique module name: one flat import namespace)."""

from __future__ import annotations

__all__: list[str] = []
