"""The blueprint: first-party op.js and the proxy to a real upstream on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from typing import Any

from flask_helpers import BROWSER_UA, CLIENT_ID, build_app, recording_client
from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from openpanel_web_bridge import script_version

PEER = "198.51.100.23"
TRACK_BODY = {"type": "track", "payload": {"name": "screen_view", "properties": {"a": 1}}}


def _browser(**extra: str) -> dict[str, Any]:
    return {
        "REMOTE_ADDR": PEER,
        "HTTP_USER_AGENT": BROWSER_UA,
        "HTTP_ORIGIN": "http://localhost",
        **extra,
    }


class Upstream:
    """Records what the ingestion server received and answers like OpenPanel."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.received: list[WRequest] = []
        self.bodies: list[bytes] = []

    def handle(self, request: WRequest) -> WResponse:
        self.received.append(request)
        self.bodies.append(request.get_data())
        return WResponse(
            b'{"deviceId":"dev-1","sessionId":"ses-1"}',
            200,
            {"Content-Type": "application/json", "openpanel-batch": "1", "x-internal": "no"},
        )


def _app(httpserver: HTTPServer, config: dict[str, Any] | None = None) -> tuple[Any, Upstream]:
    upstream = Upstream(httpserver)
    for path in ("/track", "/track/batch", "/track/device-id"):
        httpserver.expect_request(path).respond_with_handler(upstream.handle)
    client, _ = recording_client()
    app = build_app(
        {"OPENPANEL_API_URL": httpserver.url_for("").rstrip("/"), **(config or {})},
        client=client,
    )
    return app, upstream


def test_script_is_served_with_etag_and_304() -> None:
    client, _ = recording_client()
    web = build_app(client=client).test_client()
    r = web.get("/_op/op.js")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in r.headers["Cache-Control"]
    etag = r.headers["ETag"]
    assert etag.startswith('"') and len(r.data) > 500
    again = web.get("/_op/op.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    gz = web.get("/_op/op.js", headers={"Accept-Encoding": "gzip"})
    assert gz.headers.get("Content-Encoding") == "gzip"
    assert len(gz.data) < len(r.data)


def test_script_version_in_snippet_matches() -> None:
    client, _ = recording_client()
    page = build_app(client=client).test_client().get("/page").text
    assert f"/_op/op.js?v={script_version()}" in page


def test_proxy_forwards_a_browser_event_with_the_visitors_ip(httpserver: HTTPServer) -> None:
    app, upstream = _app(httpserver)
    body = json.dumps(TRACK_BODY).encode()
    r = app.test_client().post(
        "/_op/track",
        data=body,
        content_type="application/json",
        headers={"openpanel-client-id": "someone-else", "openpanel-client-secret": "stolen"},
        environ_base=_browser(),
    )
    assert r.status_code == 200
    assert r.json == {"deviceId": "dev-1", "sessionId": "ses-1"}
    assert r.headers["openpanel-batch"] == "1"
    assert "x-internal" not in r.headers
    [seen] = upstream.received
    assert seen.path == "/track"
    assert upstream.bodies == [body]
    assert seen.headers["openpanel-client-id"] == CLIENT_ID
    assert "openpanel-client-secret" not in seen.headers
    assert seen.headers["openpanel-client-ip"] == PEER
    assert seen.headers["user-agent"] == BROWSER_UA
    assert seen.headers["origin"] == "http://localhost"


def test_proxy_batch_and_device_id_routes(httpserver: HTTPServer) -> None:
    app, upstream = _app(httpserver)
    web = app.test_client()
    r = web.post(
        "/_op/track/batch",
        data=json.dumps([TRACK_BODY]),
        content_type="application/json",
        environ_base=_browser(),
    )
    assert r.status_code == 200
    r = web.get("/_op/track/device-id", environ_base=_browser())
    assert r.status_code == 200
    assert [(q.method, q.path) for q in upstream.received] == [
        ("POST", "/track/batch"),
        ("GET", "/track/device-id"),
    ]


def test_proxy_is_not_an_open_proxy(httpserver: HTTPServer) -> None:
    app, upstream = _app(httpserver)
    web = app.test_client()
    assert web.post("/_op/other", data=b"{}").status_code == 404
    assert web.get("/_op/..%2Fadmin").status_code == 404
    assert web.get("/_op/http://evil.example/track").status_code == 404
    r = web.get("/_op/track")
    assert r.status_code == 405
    assert upstream.received == []


def test_proxy_refuses_large_bodies_before_reading(httpserver: HTTPServer) -> None:
    app, upstream = _app(httpserver, {"OPENPANEL_MAX_PROXY_BODY_BYTES": 1000})
    web = app.test_client()
    r = web.post("/_op/track", data=b"x" * 1001, content_type="application/json")
    assert r.status_code == 413
    assert r.json == {"error": "payload_too_large"}

    # A lying Content-Length: the app never reads more than the declared length anyway, and
    # a declared length over the limit is refused without reading the stream at all.
    class Exploding:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read")

    r = web.post(
        "/_op/track",
        environ_overrides={"wsgi.input": Exploding(), "CONTENT_LENGTH": "5000000"},
        content_type="application/json",
    )
    assert r.status_code == 413
    assert upstream.received == []


def test_proxy_adds_the_first_party_device_id(httpserver: HTTPServer) -> None:
    app, upstream = _app(httpserver, {"OPENPANEL_DEVICE_COOKIE": True})
    web = app.test_client()
    page = web.get("/", environ_base=_browser())
    device_id = page.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    web.post(
        "/_op/track",
        data=json.dumps(TRACK_BODY),
        content_type="application/json",
        environ_base=_browser(),
    )
    sent = json.loads(upstream.bodies[0])
    assert sent["payload"]["properties"]["__deviceId"] == device_id


def test_proxy_answers_502_when_the_ingestion_server_is_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client, _ = recording_client()
    app = build_app({"OPENPANEL_API_URL": f"http://127.0.0.1:{port}"}, client=client)
    r = app.test_client().post(
        "/_op/track", data=json.dumps(TRACK_BODY), content_type="application/json"
    )
    assert r.status_code == 502
    assert r.json is not None and "error" in r.json


def test_custom_prefix_and_blueprint_switches(httpserver: HTTPServer) -> None:
    app, upstream = _app(httpserver, {"OPENPANEL_PREFIX": "/stats/"})
    web = app.test_client()
    assert web.get("/stats/op.js").status_code == 200
    assert web.post("/stats/track", json=TRACK_BODY).status_code == 200
    assert web.get("/_op/op.js").status_code == 404
    assert len(upstream.received) == 1

    client, _ = recording_client()
    off = build_app({"OPENPANEL_REGISTER_BLUEPRINT": False}, client=client).test_client()
    assert off.get("/_op/op.js").status_code == 404
    no_script = build_app({"OPENPANEL_SCRIPT": False}, client=client).test_client()
    assert no_script.get("/_op/op.js").status_code == 404
    no_proxy = build_app({"OPENPANEL_PROXY": False}, client=client).test_client()
    assert no_proxy.post("/_op/track", json=TRACK_BODY).status_code == 404
    assert no_proxy.get("/_op/op.js").status_code == 200
