"""OpenPanel analytics for ASGI apps (Starlette, FastAPI): pure ASGI middleware, proxy routes, webhook helpers."""

from __future__ import annotations

from openpanel_core import __version__

__all__ = ["__version__"]
