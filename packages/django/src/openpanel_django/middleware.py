"""``MIDDLEWARE = [..., "openpanel_django.middleware.OpenPanelMiddleware"]``."""

from __future__ import annotations

from openpanel_django._middleware import OpenPanelMiddleware

__all__ = ["OpenPanelMiddleware"]
