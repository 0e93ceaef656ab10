"""Test helpers for openpanel-flask (a unique module name: one flat import namespace)."""

from __future__ import annotations

__all__: list[str] = []
