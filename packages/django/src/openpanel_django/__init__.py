"""OpenPanel analytics for Django: middleware, template tag, first-party proxy, webhook views."""

from __future__ import annotations

from openpanel_core import __version__

__all__ = ["__version__"]
