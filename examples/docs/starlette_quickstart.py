"""Starlette quick start: the middleware creates and owns its client."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from openpanel_asgi import OpenPanelMiddleware, snippet


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(f"<html><head>{snippet(request)}</head><body>Welcome</body></html>")


# client_id, client_secret and api_url come from OPENPANEL_CLIENT_ID, OPENPANEL_CLIENT_SECRET
# and OPENPANEL_API_URL; the middleware flushes its client at lifespan shutdown.
app = Starlette(
    routes=[Route("/", home)],
    middleware=[
        Middleware(OpenPanelMiddleware, track_requests=True, browser={"trackLocalhost": True})
    ],
)
