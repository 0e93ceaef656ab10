"""A small shop on Flask, instrumented with openpanel-flask.

Pages load the OpenPanel browser script through ``{{ openpanel_script() }}`` (served first-party
from ``/_op/op.js``, events proxied through ``/_op/track``); a demo login keeps the user in the
session and the extension identifies them; the purchase flow tracks ``purchase`` and
``revenue`` server-side, and those events join the browser's device and session; a webhook
receiver verifies OpenPanel's signed deliveries.

``create_app(config)`` builds the app (tests and demo runners start it in-process);
``python -m examples.flask_app`` serves it. See README.md beside this file.
"""

from __future__ import annotations

import os
import re
import secrets
from collections import deque
from collections.abc import Mapping
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from openpanel_flask import OpenPanel, current_client, openpanel_webhook, webhook_message

__all__ = ["PRODUCTS", "create_app", "openpanel"]

DEFAULT_API_URL = "http://127.0.0.1:3333"

PRODUCTS: dict[str, dict[str, Any]] = {
    "espresso-beans": {"name": "Espresso beans, 1 kg", "price_cents": 2400},
    "pour-over-kit": {"name": "Pour-over kit", "price_cents": 4900},
    "grinder": {"name": "Burr grinder", "price_cents": 12900},
}

#: One extension for any number of apps (app factory pattern).
openpanel = OpenPanel(identify=lambda: _current_profile())

shop = Blueprint("shop", __name__)


def _current_profile() -> dict[str, Any] | None:
    """The logged-in demo user as an OpenPanel profile (sent once per session)."""
    user: Mapping[str, Any] | None = session.get("user")
    if not user:
        return None
    return {"profile_id": user["id"], "first_name": user["name"], "email": user["email"]}


def _env_config() -> dict[str, Any]:
    webhook_secrets = [s for s in os.environ.get("OPENPANEL_WEBHOOK_SECRET", "").split(",") if s]
    return {
        "SECRET_KEY": os.environ.get("FLASK_SECRET_KEY") or secrets.token_hex(32),
        "OPENPANEL_CLIENT_ID": os.environ.get("OPENPANEL_CLIENT_ID", ""),
        "OPENPANEL_CLIENT_SECRET": os.environ.get("OPENPANEL_CLIENT_SECRET") or None,
        "OPENPANEL_API_URL": os.environ.get("OPENPANEL_API_URL") or DEFAULT_API_URL,
        "OPENPANEL_TRACK_REQUESTS": True,
        "OPENPANEL_EXCLUDE_PATHS": ["/healthz"],
        "OPENPANEL_WEBHOOK_SECRETS": webhook_secrets,
        "OPENPANEL_BROWSER": {"trackOutgoingLinks": True, "trackAttributes": True},
    }


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the shop.

    Args:
        config: Flask config overriding the environment (``OPENPANEL_CLIENT_ID``,
            ``OPENPANEL_CLIENT_SECRET``, ``OPENPANEL_API_URL``, ``OPENPANEL_WEBHOOK_SECRET``
            as a comma-separated list, ``FLASK_SECRET_KEY``).

    Raises:
        openpanel_core.ConfigurationError: No client id, or a bad ``OPENPANEL_*`` value.
    """
    app = Flask(__name__)
    app.config.from_mapping(_env_config())
    app.config.from_mapping(config or {})
    app.extensions["received_webhooks"] = deque(maxlen=50)
    openpanel.init_app(app)
    app.register_blueprint(shop)

    @app.before_request
    def csp_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def content_security_policy(response: Response) -> Response:
        # First-party script and proxy: the page needs no third-party origin at all.
        nonce = g.get("csp_nonce", "")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}'; connect-src 'self'",
        )
        return response

    return app


# ---------------------------------------------------------------------- pages


@shop.get("/")
def index() -> str:
    return render_template("index.html", products=PRODUCTS)


@shop.get("/products/<sku>")
def product(sku: str) -> str:
    if sku not in PRODUCTS:
        abort(404)
    return render_template("product.html", sku=sku, product=PRODUCTS[sku])


@shop.get("/healthz")
def healthz() -> str:
    return "ok"


# ---------------------------------------------------------------------- login (demo)


@shop.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", "/"))
    name = (request.form.get("name") or "").strip()[:40] or "Demo user"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "demo"
    user = {"id": f"user-{slug}", "name": name, "email": f"{slug}@example.com"}
    session["user"] = user
    # The profile is set from the next request on; this one names it explicitly.
    current_client().track("login", {"method": "demo"}, profile_id=user["id"])
    target = request.form.get("next") or "/"
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


@shop.post("/logout")
def logout() -> Response:
    session.pop("user", None)
    return redirect(url_for("shop.index"))


# ---------------------------------------------------------------------- purchase flow


@shop.post("/buy/<sku>")
def buy(sku: str) -> Response:
    item = PRODUCTS.get(sku)
    if item is None:
        abort(404)
    if not session.get("user"):
        return redirect(url_for("shop.login", next=url_for("shop.product", sku=sku)))
    quantity = max(1, min(10, request.form.get("quantity", 1, type=int) or 1))
    total = item["price_cents"] * quantity
    client = current_client()  # events carry the visitor's ip, user agent and profile
    client.track("purchase", {"sku": sku, "quantity": quantity, "total_cents": total})
    client.revenue(total, {"sku": sku, "currency": "USD"})
    return redirect(url_for("shop.thanks", sku=sku, quantity=quantity))


@shop.get("/thanks/<sku>")
def thanks(sku: str) -> str:
    item = PRODUCTS.get(sku)
    if item is None:
        abort(404)
    quantity = request.args.get("quantity", 1, type=int)
    return render_template("thanks.html", product=item, quantity=quantity)


# ---------------------------------------------------------------------- webhooks


@shop.post("/webhooks/openpanel")
@openpanel_webhook  # one process: the default in-memory replay cache; workers share seen=...
def openpanel_webhook_receiver() -> tuple[str, int]:
    message = webhook_message()  # verified: signature, timestamp, raw body, not a replay
    received: deque[dict[str, Any]] = current_app.extensions["received_webhooks"]
    received.appendleft({"id": message.id, "type": message.type, "data": message.data})
    return "", 204


@shop.get("/webhooks")
def webhooks() -> str:
    return render_template("webhooks.html", received=current_app.extensions["received_webhooks"])
