"""OpenPanel analytics client for Python."""

from __future__ import annotations

from openpanel_core._version import __version__

__all__ = ["__version__"]
