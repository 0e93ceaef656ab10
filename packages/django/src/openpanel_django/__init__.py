"""OpenPanel analytics for Django: middleware, template tag, first-party proxy, webhook views.

::

    # settings.py
    INSTALLED_APPS = [..., "openpanel_django"]
    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "openpanel_django.middleware.OpenPanelMiddleware",
    ]
    OPENPANEL = {"client_id": "...", "client_secret": "..."}

    # urls.py
    urlpatterns = [..., path("_op/", include("openpanel_django.urls"))]

    # a view
    import openpanel_django

    openpanel_django.track("checkout_started", {"items": 3})

In templates: ``{% load openpanel %}`` and ``{% openpanel_script %}`` in ``<head>``.
Webhooks: :func:`openpanel_webhook` or :class:`WebhookView`.
"""

from __future__ import annotations

from openpanel_core import __version__
from openpanel_django._api import identify, revenue, track
from openpanel_django._middleware import OpenPanelMiddleware
from openpanel_django._runtime import get_client, get_config
from openpanel_django._settings import default_identify, default_profile_id
from openpanel_django._snippet import script_tag
from openpanel_django._webhooks import WebhookView, openpanel_webhook, webhook_message

__all__ = [
    "OpenPanelMiddleware",
    "WebhookView",
    "__version__",
    "default_identify",
    "default_profile_id",
    "get_client",
    "get_config",
    "identify",
    "openpanel_webhook",
    "revenue",
    "script_tag",
    "track",
    "webhook_message",
]
