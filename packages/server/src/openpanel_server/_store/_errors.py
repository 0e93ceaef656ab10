"""Errors raised by the event store.

Hierarchy::

    StoreError(Exception)
    └── StoreOpenError   (the engine or data directory cannot be opened as asked)
"""

from __future__ import annotations

__all__ = ["StoreError", "StoreOpenError"]


class StoreError(Exception):
    """Base class for event-store errors."""


class StoreOpenError(StoreError):
    """The store cannot be opened (for example a second chDB data directory in one process)."""
