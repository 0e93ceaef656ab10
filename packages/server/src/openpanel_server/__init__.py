"""Reference OpenPanel-compatible ingestion server (work in progress)."""

from __future__ import annotations

from openpanel_core import __version__

__all__ = ["__version__"]
