"""The shop: FastAPI routes, a cookie session for demo users, OpenPanel wired in.

What OpenPanel does here:

- ``OpenPanelMiddleware`` opens a request context for every page, so the server-side events
  below carry the visitor's IP and user agent (the server derives the *same* device and
  session as for the browser's events) and the logged-in user as their profile;
- it records one ``server_request`` event per request (``track_requests``), identifies the
  logged-in user once per session and serves the browser script and the ingestion proxy
  under ``/_op`` (the snippet in each page points there);
- ``/buy/{slug}`` tracks ``purchase`` and ``revenue`` server-side;
- ``/webhooks/openpanel`` accepts only verified webhooks (``verified_webhook`` dependency).
"""

# No `from __future__ import annotations` here: FastAPI reads the webhook endpoint's
# `Annotated[..., Depends(openpanel_webhook)]`, whose dependency is local to create_app.
import html
import os
import secrets
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openpanel_asgi import OpenPanelMiddleware, snippet
from openpanel_asgi.fastapi import verified_webhook
from openpanel_core import AsyncOpenPanel
from openpanel_core.webhooks import WebhookMessage
from openpanel_web_bridge import BridgeConfig

__all__ = ["PRODUCTS", "USERS", "Product", "create_app"]

DEFAULT_API_URL = "http://127.0.0.1:3333"
SESSION_COOKIE = "shop_session"


@dataclass(frozen=True, slots=True)
class Product:
    slug: str
    name: str
    price_cents: int


PRODUCTS: dict[str, Product] = {
    p.slug: p
    for p in (
        Product("green-tea", "Green tea, 100 g", 900),
        Product("mug", "Stoneware mug", 1500),
        Product("kettle", "Gooseneck kettle", 4900),
    )
}

USERS: dict[str, dict[str, str]] = {
    "alice": {"profile_id": "user-alice", "first_name": "Alice", "email": "alice@example.com"},
    "bob": {"profile_id": "user-bob", "first_name": "Bob", "email": "bob@example.com"},
}


def _cookie(scope: Mapping[str, Any], name: str) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, sep, v = part.strip().partition("=")
                if sep and k == name:
                    return v
    return None


def _page(request: Request, title: str, body: str, *, user: str | None) -> HTMLResponse:
    who = (
        f'Signed in as {html.escape(user)} <form method="post" action="/logout" '
        'style="display:inline"><button>Log out</button></form>'
        if user
        else '<a href="/login">Log in</a>'
    )
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · Tea shop</title>
{snippet(request)}
</head><body>
<header><a href="/">Tea shop</a> · {who}</header>
<main><h1>{html.escape(title)}</h1>{body}</main>
</body></html>"""
    )


def create_app(
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    api_url: str | None = None,
    webhook_secret: str | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> FastAPI:
    """Build the shop.

    Every argument defaults to its environment variable: ``OPENPANEL_CLIENT_ID``,
    ``OPENPANEL_CLIENT_SECRET``, ``OPENPANEL_API_URL`` (default ``http://127.0.0.1:3333``,
    the reference server) and ``OPENPANEL_WEBHOOK_SECRET`` (the webhook route exists only
    when a secret is set). Without a client id OpenPanel is disabled and the shop still works.

    Args:
        client_id: The OpenPanel client id.
        client_secret: Its secret (server-side events need it for revenue).
        api_url: The ingestion server.
        webhook_secret: The ``whsec_...`` secret of the webhook endpoint.
        client_options: Extra options for the ``AsyncOpenPanel`` client.
    """
    client_id = client_id or os.environ.get("OPENPANEL_CLIENT_ID")
    webhook_secret = webhook_secret or os.environ.get("OPENPANEL_WEBHOOK_SECRET")
    config = BridgeConfig.from_mapping(
        {
            "client_id": client_id or "",
            "client_secret": client_secret or os.environ.get("OPENPANEL_CLIENT_SECRET"),
            "api_url": api_url or os.environ.get("OPENPANEL_API_URL") or DEFAULT_API_URL,
            "disabled": not client_id,
            "track_requests": True,
            "exclude_paths": ["/healthz", "/favicon.ico"],
            "webhook_secrets": [webhook_secret] if webhook_secret else [],
        },
        source="examples.fastapi_app",
    )
    client: AsyncOpenPanel = config.make_async_client(**dict(client_options or {}))
    sessions: dict[str, str] = {}  # session token -> user name (in memory: a demo)

    def current_user(scope: Mapping[str, Any]) -> str | None:
        token = _cookie(scope, SESSION_COOKIE)
        return sessions.get(token) if token else None

    def identify(scope: Mapping[str, Any]) -> dict[str, str] | None:
        user = current_user(scope)
        return USERS[user] if user else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        yield
        await client.shutdown(5.0)  # send what is queued before the process ends

    app = FastAPI(title="Tea shop", lifespan=lifespan)
    app.state.openpanel = client
    app.state.webhooks = []
    app.add_middleware(OpenPanelMiddleware, client=client, config=config, identify=identify)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        items = "".join(
            f'<li><a href="/products/{p.slug}">{html.escape(p.name)}</a> '
            f"${p.price_cents / 100:.2f}</li>"
            for p in PRODUCTS.values()
        )
        return _page(request, "Welcome", f"<ul>{items}</ul>", user=current_user(request.scope))

    @app.get("/products/{slug}", response_class=HTMLResponse)
    async def product(request: Request, slug: str) -> Response:
        item = PRODUCTS.get(slug)
        if item is None:
            return _page(request, "Not found", "<p>No such product.</p>", user=None)
        body = (
            f"<p>{html.escape(item.name)}: ${item.price_cents / 100:.2f}</p>"
            f'<form method="post" action="/buy/{item.slug}"><button>Buy now</button></form>'
        )
        return _page(request, item.name, body, user=current_user(request.scope))

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> HTMLResponse:
        options = "".join(f'<option value="{u}">{u}</option>' for u in USERS)
        body = (
            '<form method="post" action="/login"><select name="username">'
            f"{options}</select><button>Log in</button></form>"
        )
        return _page(request, "Log in", body, user=current_user(request.scope))

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        username = (form.get("username") or [""])[0]
        if username not in USERS:
            return _page(request, "Log in", "<p>Unknown user.</p>", user=None)
        token = secrets.token_urlsafe(24)
        sessions[token] = username
        # This request started anonymous: name the profile explicitly.
        client.track("login", {"method": "demo"}, profile_id=USERS[username]["profile_id"])
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        token = _cookie(request.scope, SESSION_COOKIE)
        if token:
            sessions.pop(token, None)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.post("/buy/{slug}", response_class=HTMLResponse)
    async def buy(request: Request, slug: str) -> Response:
        user = current_user(request.scope)
        item = PRODUCTS.get(slug)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if item is None:
            return _page(request, "Not found", "<p>No such product.</p>", user=user)
        order_id = f"order-{secrets.token_hex(4)}"
        # The middleware's context gives these events the visitor's device, session and
        # profile: no ip, user agent or profile to pass here.
        client.track("purchase", {"product": item.slug, "order_id": order_id})
        client.revenue(item.price_cents, {"product": item.slug, "order_id": order_id})
        body = f"<p>Thanks! Order {order_id}: {html.escape(item.name)}.</p>"
        return _page(request, "Order placed", body, user=user)

    @app.get("/api/products")
    async def api_products() -> list[dict[str, Any]]:
        return [
            {"slug": p.slug, "name": p.name, "price_cents": p.price_cents}
            for p in PRODUCTS.values()
        ]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if config.webhook_secrets:
        # Replays are refused by the dependency's in-memory cache (this single process);
        # with several workers, pass seen= a shared store (see openpanel_core.webhooks).
        openpanel_webhook = verified_webhook(config=config)

        @app.post("/webhooks/openpanel", status_code=204)
        async def receive_webhook(
            message: Annotated[WebhookMessage, Depends(openpanel_webhook)],
        ) -> None:
            # Runs only for a verified, fresh webhook not processed before. If this raises, the
            # id is released and the sender's retry is accepted.
            app.state.webhooks.append({"id": message.id, "type": message.type})

    return app
