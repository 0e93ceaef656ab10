"""Flask-WTF's CSRFProtect does not block the browser's posts to the proxy.

Flask-WTF is optional; these tests run when it is installed
(``uv run --with flask-wtf pytest packages/flask``).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_helpers import CLIENT_ID, recording_client
from pytest_httpserver import HTTPServer

from openpanel_flask import OpenPanel

flask_wtf: Any = pytest.importorskip("flask_wtf")


@pytest.mark.parametrize("openpanel_first", [True, False])
def test_proxy_is_exempt_from_csrf(httpserver: HTTPServer, openpanel_first: bool) -> None:
    httpserver.expect_request("/track", method="POST").respond_with_json(
        {"deviceId": "d", "sessionId": "s"}
    )
    client, _ = recording_client()
    app = Flask("csrf_app")
    app.config.from_mapping(
        SECRET_KEY="k",
        OPENPANEL_CLIENT_ID=CLIENT_ID,
        OPENPANEL_API_URL=httpserver.url_for("").rstrip("/"),
    )
    csrf = flask_wtf.CSRFProtect()
    if openpanel_first:
        OpenPanel(app, client=client)
        csrf.init_app(app)
    else:
        csrf.init_app(app)
        OpenPanel(app, client=client)

    @app.post("/form")
    def form() -> str:
        return "ok"

    web = app.test_client()
    assert web.post("/form", data={"a": "1"}).status_code == 400  # the app stays protected
    r = web.post("/_op/track", json={"type": "track", "payload": {"name": "x"}})
    assert r.status_code == 200
