from __future__ import annotations

import gzip
import json
from collections.abc import Generator
from typing import Any

import pytest
from django_helpers import BROWSER_UA, CLIENT_ID, OpenPanelFixture, Web
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from openpanel_web_bridge import script_response

EVENT = {"type": "track", "payload": {"name": "screen_view", "properties": {"__path": "/x"}}}
BROWSER: dict[str, Any] = {
    "HTTP_USER_AGENT": BROWSER_UA,
    "HTTP_ORIGIN": "http://testserver",
    "REMOTE_ADDR": "203.0.113.20",
}


@pytest.fixture
def upstream(op: OpenPanelFixture, httpserver: HTTPServer) -> Generator[HTTPServer]:
    """The ingestion server the proxy forwards to."""
    with op.settings(api_url=httpserver.url_for("/").rstrip("/")):
        yield httpserver


def answer(request: Request) -> Response:
    return Response(
        json.dumps({"deviceId": "dev-1", "sessionId": "ses-1"}),
        content_type="application/json",
        headers={"openpanel-batch": "1", "x-internal": "hidden"},
    )


def last_request(server: HTTPServer) -> Request:
    request, _ = server.log[-1]
    return request


def test_track_is_forwarded_with_the_configured_client_and_the_visitors_ip(
    upstream: HTTPServer, op: OpenPanelFixture
) -> None:
    upstream.expect_request("/track", method="POST").respond_with_handler(answer)
    response = Web().post(
        "/_op/track",
        json.dumps(EVENT),
        HTTP_OPENPANEL_CLIENT_ID="someone-elses-id",
        HTTP_OPENPANEL_CLIENT_SECRET="stolen",
        HTTP_OPENPANEL_CLIENT_IP="6.6.6.6",
        HTTP_COOKIE="sessionid=private",
        **BROWSER,
    )
    assert response.status_code == 200
    assert response.json() == {"deviceId": "dev-1", "sessionId": "ses-1"}
    assert response["Content-Type"] == "application/json"
    assert response["openpanel-batch"] == "1"
    assert "x-internal" not in response
    sent = last_request(upstream)
    assert json.loads(sent.get_data()) == EVENT
    assert sent.headers["openpanel-client-id"] == CLIENT_ID
    assert "openpanel-client-secret" not in sent.headers
    assert sent.headers["openpanel-client-ip"] == "203.0.113.20"
    assert sent.headers["user-agent"] == BROWSER_UA
    assert sent.headers["origin"] == "http://testserver"
    assert "cookie" not in sent.headers
    assert op.events == []  # the proxy's own requests are not tracked by the middleware


def test_batch_and_device_id_routes(upstream: HTTPServer) -> None:
    upstream.expect_request("/track/batch", method="POST").respond_with_json({"results": []})
    upstream.expect_request("/track/device-id", method="GET").respond_with_json(
        {"deviceId": "dev-2", "sessionId": "ses-2"}
    )
    batch = Web().post("/_op/track/batch", json.dumps([{"id": "1", **EVENT}]), **BROWSER)
    assert (batch.status_code, batch.json()) == (200, {"results": []})
    assert json.loads(last_request(upstream).get_data()) == [{"id": "1", **EVENT}]
    device = Web().get("/_op/track/device-id", **BROWSER)
    assert device.json() == {"deviceId": "dev-2", "sessionId": "ses-2"}
    assert last_request(upstream).headers["openpanel-client-ip"] == "203.0.113.20"


def test_csrf_does_not_block_browser_events(upstream: HTTPServer) -> None:
    upstream.expect_request("/track", method="POST").respond_with_handler(answer)
    web = Web(enforce_csrf_checks=True)
    assert web.post("/_op/track", json.dumps(EVENT), **BROWSER).status_code == 200


def test_wrong_method_unknown_route_and_not_an_open_proxy(upstream: HTTPServer) -> None:
    wrong = Web().get("/_op/track", **BROWSER)
    assert wrong.status_code == 405
    assert wrong["Allow"] == "POST"
    assert Web().post("/_op/export/events", "{}", **BROWSER).status_code == 404
    assert Web().get("/_op/http://evil.example/", **BROWSER).status_code == 404
    assert upstream.log == []


def test_body_limit_is_checked_before_reading(upstream: HTTPServer, op: OpenPanelFixture) -> None:
    upstream.expect_request("/track", method="POST").respond_with_handler(answer)
    with op.settings(api_url=upstream.url_for("/").rstrip("/"), max_proxy_body_bytes=64):
        big = Web().post("/_op/track", json.dumps({**EVENT, "pad": "x" * 100}), **BROWSER)
        small = Web().post("/_op/track", "{}", **BROWSER)
    assert big.status_code == 413
    assert big.json() == {"error": "payload too large"}
    assert small.status_code == 200
    assert len(upstream.log) == 1


def test_upstream_errors_pass_through(upstream: HTTPServer) -> None:
    upstream.expect_request("/track", method="POST").respond_with_json(
        {"error": "slow down"}, status=429, headers={"Retry-After": "7"}
    )
    response = Web().post("/_op/track", json.dumps(EVENT), **BROWSER)
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response.json() == {"error": "slow down"}


def test_ingestion_server_down_is_a_502(op: OpenPanelFixture) -> None:
    from server_helpers import free_port

    with op.settings(api_url=f"http://127.0.0.1:{free_port()}"):
        response = Web().post("/_op/track", json.dumps(EVENT), **BROWSER)
    assert response.status_code == 502
    assert "error" in response.json()


def test_device_cookie_reaches_browser_events(upstream: HTTPServer, op: OpenPanelFixture) -> None:
    upstream.expect_request("/track", method="POST").respond_with_handler(answer)
    web = Web()
    with op.settings(api_url=upstream.url_for("/").rstrip("/"), device_cookie=True):
        page = web.get("/", **BROWSER)  # the middleware sets the cookie
        device_id = page.cookies["op_did"].value
        web.post("/_op/track", json.dumps(EVENT), **BROWSER)
    sent: Any = json.loads(last_request(upstream).get_data())
    assert sent["payload"]["properties"]["__deviceId"] == device_id
    assert op.named("home_viewed")[0].properties["__deviceId"] == device_id


def test_proxy_off_is_a_404(upstream: HTTPServer, op: OpenPanelFixture) -> None:
    with op.settings(api_url=upstream.url_for("/").rstrip("/"), proxy=False):
        assert Web().post("/_op/track", json.dumps(EVENT), **BROWSER).status_code == 404
    with op.settings(disabled=True):
        assert Web().post("/_op/track", json.dumps(EVENT), **BROWSER).status_code == 404
    assert upstream.log == []


# ---------------------------------------------------------------- the first-party script


def test_script_is_served_with_long_caching_and_304() -> None:
    expected = script_response()
    response = Web().get("/_op/op.js")
    assert response.status_code == 200
    assert response.content == expected.body
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = response["ETag"]
    assert etag.startswith('"')
    again = Web().get("/_op/op.js", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_script_gzip_head_and_methods() -> None:
    zipped = Web().get("/_op/op.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == script_response().body
    head = Web().head("/_op/op.js")
    assert head.status_code == 200
    assert head.content == b""
    assert Web().post("/_op/op.js", "{}").status_code == 405


def test_script_off_is_a_404(op: OpenPanelFixture) -> None:
    with op.settings(script=False):
        assert Web().get("/_op/op.js").status_code == 404
