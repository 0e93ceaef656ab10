"""OpenPanel analytics for ASGI apps (Starlette, FastAPI, any ASGI app).

::

    from fastapi import FastAPI
    from openpanel_asgi import OpenPanelMiddleware

    app = FastAPI()
    app.add_middleware(OpenPanelMiddleware, client_id="...", client_secret="...")

:class:`OpenPanelMiddleware` is a pure ASGI middleware: every ``track`` in an endpoint carries
the end user's IP, user agent and profile; it can record one event per request, identify the
logged-in user once per session, set a first-party device cookie and serve the browser script
and the ingestion proxy under ``/_op``. :func:`routes` is the same script and proxy as an app to
mount, :func:`snippet` renders the ``<script>`` tags for a page. Webhook helpers live in
:mod:`openpanel_asgi.fastapi` and :mod:`openpanel_asgi.starlette` (each imports its framework;
this package imports neither).
"""

from __future__ import annotations

from openpanel_asgi._identity import IdentifyHook, IdentifyResult, Identity
from openpanel_asgi._middleware import OpenPanelMiddleware
from openpanel_asgi._routes import OpenPanelRoutes, routes
from openpanel_asgi._snippet import register_jinja2, snippet
from openpanel_core import __version__

__all__ = [
    "IdentifyHook",
    "IdentifyResult",
    "Identity",
    "OpenPanelMiddleware",
    "OpenPanelRoutes",
    "__version__",
    "register_jinja2",
    "routes",
    "snippet",
]
