"""OpenPanel analytics for Flask: extension, Jinja snippet, first-party proxy blueprint, webhook decorator."""

from __future__ import annotations

from openpanel_core import __version__

__all__ = ["__version__"]
