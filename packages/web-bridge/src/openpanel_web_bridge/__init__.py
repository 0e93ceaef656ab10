"""Framework-neutral web glue for OpenPanel: script snippet, first-party script and proxy, request context."""

from __future__ import annotations

from openpanel_core import __version__

__all__ = ["__version__"]
