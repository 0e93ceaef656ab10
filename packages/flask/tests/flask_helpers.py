"""Test helpers for openpanel-flask (a unique module name: one flat import namespace)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, g, jsonify, render_template_string, session

from openpanel_core import OpenPanel as OpenPanelClient
from openpanel_core.testing import RecordedEvent, RecordingTransport
from openpanel_flask import IdentifyFunc, OpenPanel, current_client

__all__ = [
    "BROWSER_UA",
    "CLIENT_ID",
    "build_app",
    "recording_client",
    "session_identify",
    "tracks",
]

CLIENT_ID = "3f1c2b7e-8d4a-4c55-9e0f-1a2b3c4d5e6f"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def recording_client() -> tuple[OpenPanelClient, RecordingTransport]:
    """A core client that records what it sends, delivering on the caller's thread."""
    transport = RecordingTransport()
    client = OpenPanelClient(
        CLIENT_ID,
        "sec_test",
        api_url="http://openpanel.test",
        transport=transport,
        sync_mode=True,
    )
    return client, transport


def tracks(transport: RecordingTransport, name: str | None = None) -> list[RecordedEvent]:
    """The ``track`` events recorded (of one name)."""
    return [e for e in transport.events if e.type == "track" and (name is None or e.name == name)]


def session_identify() -> Any:
    """The demo ``identify``: the user kept in the session by ``/login``."""
    user: Mapping[str, Any] | None = session.get("user")
    if not user:
        return None
    return {"profile_id": user["id"], "email": user["email"], "first_name": user["name"]}


def build_app(
    config: Mapping[str, Any] | None = None,
    *,
    extension: bool = True,
    client: OpenPanelClient | None = None,
    identify: IdentifyFunc | None = None,
    name: str = "flask_test_app",
) -> Flask:
    """A small but real app: pages, an error, a template, a login kept in the session."""
    app = Flask(name)
    app.config.from_mapping(
        TESTING=True,
        SECRET_KEY="test-secret-key",
        OPENPANEL_CLIENT_ID=CLIENT_ID,
        OPENPANEL_API_URL="http://openpanel.test",
    )
    app.config.from_mapping(config or {})

    @app.get("/")
    def home() -> str:
        return "home"

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        resp = jsonify(item=item_id)
        resp.headers["X-Item"] = str(item_id)
        resp.set_cookie("seen", str(item_id))
        return resp

    @app.post("/buy")
    def buy() -> tuple[str, int]:
        if extension:
            current_client().track("purchase", {"sku": "A1"})
        return "bought", 201

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("view failed")

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    @app.errorhandler(RuntimeError)
    def on_runtime_error(exc: RuntimeError) -> tuple[str, int]:
        return f"handled: {exc}", 500

    @app.get("/page")
    def page() -> str:
        nonce = g.get("csp_nonce")
        return render_template_string(
            "<html><head>{{ openpanel_script() if openpanel_script is defined }}</head>"
            "<body>{{ nonce }}</body></html>",
            nonce=nonce,
        )

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.post("/login")
    def login() -> str:
        session["user"] = {"id": "user-42", "email": "ada@example.com", "name": "Ada"}
        return "logged in"

    if extension:
        OpenPanel(app, client=client, identify=identify)
    return app
