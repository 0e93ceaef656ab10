"""Proxy against a real upstream (pytest-httpserver on 127.0.0.1): no open proxy, exact headers."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from bridge_helpers import BROWSER_UA, CLIENT_ID, SECRET, closed_port, config
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from openpanel_core import _guard
from openpanel_web_bridge import PROXY_ROUTES, BridgeConfig, Proxy, ProxyResponse

ORIGIN = "http://127.0.0.1:8000"
ANSWER = {"deviceId": "d" * 32, "sessionId": "s-1"}
BROWSER_HEADERS = {
    "content-type": "application/json",
    "user-agent": BROWSER_UA,
    "origin": ORIGIN,
    "referer": f"{ORIGIN}/pricing",
    "openpanel-sdk-name": "openpanel-browser",
    "openpanel-sdk-version": "0.1.0",
    "openpanel-event-id": "evt-1",
    # Never forwarded:
    "openpanel-client-id": "00000000-0000-4000-8000-000000000000",
    "openpanel-client-secret": "browser-cannot-have-this",
    "openpanel-client-ip": "198.51.100.66",
    "cookie": "sessionid=app-session; op_did=abcdefgh1234",
    "authorization": "Bearer app-token",
    "x-forwarded-for": "198.51.100.77",
    "host": "shop.example",
    "accept-language": "en",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-origin",
    "sec-ch-ua": '"Chromium";v="124"',
}
# What httpx itself adds to every request.
TRANSPORT_HEADERS = {"host", "accept", "accept-encoding", "connection", "content-length"}


def track_body(**properties: Any) -> bytes:
    payload: dict[str, Any] = {"name": "signup"}
    if properties:
        payload["properties"] = properties
    return json.dumps({"type": "track", "payload": payload}).encode()


class Upstream:
    """Records what the proxy sent and answers like the ingestion server."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.status = 200
        self.body = json.dumps(ANSWER).encode()
        self.content_type = "application/json"
        self.extra_headers: dict[str, str] = {}
        for route, methods in PROXY_ROUTES.items():
            for method in methods:
                server.expect_request(f"/{route}", method=method).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((request.method, request.path, headers, request.get_data()))
        return Response(
            self.body,
            status=self.status,
            headers={"content-type": self.content_type, **self.extra_headers},
        )

    @property
    def last(self) -> tuple[str, str, dict[str, str], bytes]:
        assert self.requests, "nothing reached the upstream"
        return self.requests[-1]

    def config(self, **overrides: Any) -> BridgeConfig:
        return config(api_url=self.server.url_for("/").rstrip("/"), **overrides)


@pytest.fixture
def upstream(httpserver: HTTPServer) -> Upstream:
    return Upstream(httpserver)


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[Proxy]:
    p = Proxy(upstream.config())
    yield p
    p.close()


def as_dict(response: ProxyResponse) -> dict[str, str]:
    return dict(response.headers)


# --------------------------------------------------------------------------- forwarding


def test_forwarded_headers_exactly(proxy: Proxy, upstream: Upstream) -> None:
    body = track_body(plan="pro")
    r = proxy.forward("POST", "track", BROWSER_HEADERS, body, "203.0.113.9")
    assert r.status == 200
    assert json.loads(r.body) == ANSWER
    method, path, sent, sent_body = upstream.last
    assert (method, path, sent_body) == ("POST", "/track", body)
    assert set(sent) - TRANSPORT_HEADERS == {
        "content-type",
        "user-agent",
        "origin",
        "referer",
        "openpanel-sdk-name",
        "openpanel-sdk-version",
        "openpanel-event-id",
        "openpanel-client-id",
        "openpanel-client-ip",
        "accept-language",
        "sec-fetch-mode",
        "sec-fetch-site",
        "sec-ch-ua",
    }
    for name in ("content-type", "user-agent", "origin", "referer", "openpanel-sdk-name",
                 "openpanel-sdk-version", "openpanel-event-id", "accept-language",
                 "sec-fetch-mode", "sec-fetch-site", "sec-ch-ua"):  # fmt: skip
        assert sent[name] == BROWSER_HEADERS[name]
    assert sent["openpanel-client-id"] == CLIENT_ID  # the browser's one is replaced
    assert sent["openpanel-client-ip"] == "203.0.113.9"  # not the browser-sent one
    assert sent["content-length"] == str(len(body))
    assert SECRET not in json.dumps(sent)


def test_no_client_ip_means_no_header(proxy: Proxy, upstream: Upstream) -> None:
    proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    sent = upstream.last[2]
    assert "openpanel-client-ip" not in sent
    assert "openpanel-client-secret" not in sent


def test_no_user_agent_of_our_own(proxy: Proxy, upstream: Upstream) -> None:
    proxy.forward("POST", "track", {"content-type": "application/json"}, track_body(), None)
    assert "user-agent" not in upstream.last[2]


def test_batch_and_device_id_routes(proxy: Proxy, upstream: Upstream) -> None:
    batch = json.dumps([{"type": "track", "payload": {"name": "a"}}]).encode()
    assert (
        proxy.forward("post", "/track/batch/", BROWSER_HEADERS, batch, "203.0.113.9").status == 200
    )
    assert upstream.last[1] == "/track/batch"
    assert upstream.last[3] == batch
    r = proxy.forward("GET", "track/device-id", BROWSER_HEADERS, b"ignored", "203.0.113.9")
    assert r.status == 200
    method, path, sent, sent_body = upstream.last
    assert (method, path, sent_body) == ("GET", "/track/device-id", b"")
    assert "content-type" not in sent
    assert sent["openpanel-client-ip"] == "203.0.113.9"


def test_response_headers_passed_through_selectively(proxy: Proxy, upstream: Upstream) -> None:
    upstream.status = 429
    upstream.body = b'{"status":429,"error":"Too Many Requests"}'
    upstream.extra_headers = {
        "retry-after": "7",
        "openpanel-batch": "1",
        "set-cookie": "upstream=1",
        "access-control-allow-origin": "*",
        "x-internal": "secret-topology",
    }
    r = proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    assert r.status == 429
    assert r.body == upstream.body
    assert as_dict(r) == {
        "content-type": "application/json",
        "retry-after": "7",
        "openpanel-batch": "1",
    }


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
def test_error_bodies_passed_through(proxy: Proxy, upstream: Upstream, status: int) -> None:
    upstream.status = status
    upstream.content_type = "text/plain; charset=utf-8"
    upstream.body = b"Ingestion: Invalid cors or secret"
    r = proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    assert (r.status, r.body) == (status, upstream.body)
    assert as_dict(r)["content-type"] == "text/plain; charset=utf-8"


def test_gzip_response_is_decoded(proxy: Proxy, upstream: Upstream) -> None:
    upstream.body = gzip.compress(json.dumps(ANSWER).encode())
    upstream.extra_headers = {"content-encoding": "gzip"}
    r = proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    assert json.loads(r.body) == ANSWER
    assert "content-encoding" not in as_dict(r)


def test_redirects_are_not_followed(upstream: Upstream, httpserver: HTTPServer) -> None:
    httpserver.clear_all_handlers()
    httpserver.expect_request("/track").respond_with_response(
        Response(status=307, headers={"location": httpserver.url_for("/elsewhere")})
    )
    p = Proxy(upstream.config())
    r = p.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    p.close()
    assert r.status == 502
    assert [req.path for req, _ in httpserver.log] == ["/track"]


def test_upstream_path_under_api_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/track", method="POST").respond_with_json(ANSWER)
    p = Proxy(config(api_url=httpserver.url_for("/api/")))
    assert p.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status == 200
    p.close()


def test_one_pooled_client(proxy: Proxy, upstream: Upstream) -> None:
    clients: set[int] = set()
    for _ in range(3):
        proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
        clients.add(id(proxy._client))  # pyright: ignore[reportPrivateUsage]
    assert len(clients) == 1, "one pooled httpx client for every request"
    assert proxy._client is not None  # pyright: ignore[reportPrivateUsage]
    assert not proxy._client.follow_redirects  # pyright: ignore[reportPrivateUsage]
    proxy.close()
    proxy.close()  # idempotent
    assert proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status == 200


# --------------------------------------------------------------------------- device id


@pytest.mark.parametrize(
    ("body", "injected"),
    [
        (track_body(), True),
        (track_body(plan="pro"), True),
        (json.dumps({"type": "track", "payload": {"name": "a", "properties": None}}), True),
        (track_body(__deviceId="already-set"), False),
        (json.dumps({"type": "identify", "payload": {"profileId": "u1"}}), False),
        (json.dumps({"type": "track", "payload": "x"}), False),
        (json.dumps({"type": "track", "payload": {"name": "a", "properties": [1]}}), False),
        (json.dumps([{"type": "track"}]), False),
        (b"{not json", False),
        (b"\xff\xfe", False),
    ],
)
def test_device_id_injection(
    proxy: Proxy, upstream: Upstream, body: bytes | str, injected: bool
) -> None:
    raw = body.encode() if isinstance(body, str) else body
    device = "0123456789abcdef0123456789abcdef"
    proxy.forward("POST", "track", BROWSER_HEADERS, raw, "203.0.113.9", device_id=device)
    sent = upstream.last[3]
    if injected:
        data = json.loads(sent)
        assert data["payload"]["properties"]["__deviceId"] == device
        original = json.loads(raw)
        props = data["payload"]["properties"]
        assert {k: v for k, v in props.items() if k != "__deviceId"} == (
            original["payload"].get("properties") or {}
        )
        assert upstream.last[2]["content-length"] == str(len(sent))
    else:
        assert sent == raw


def test_device_id_not_injected_into_batch_gzip_or_when_invalid(
    proxy: Proxy, upstream: Upstream
) -> None:
    device = "0123456789abcdef0123456789abcdef"
    batch = json.dumps([{"type": "track", "payload": {"name": "a"}}]).encode()
    proxy.forward("POST", "track/batch", BROWSER_HEADERS, batch, None, device_id=device)
    assert upstream.last[3] == batch
    zipped = gzip.compress(track_body())
    headers = {**BROWSER_HEADERS, "content-encoding": "gzip"}
    proxy.forward("POST", "track", headers, zipped, None, device_id=device)
    assert upstream.last[3] == zipped
    assert upstream.last[2]["content-encoding"] == "gzip"
    proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None, device_id="bad id;")
    assert upstream.last[3] == track_body()


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "subpath",
    ["", "/", "export/events", "track/../export/events", "track/x", "op.js", "TRACK",
     "//evil.example/track", "http://evil.example/track", "track?x=1"],
)  # fmt: skip
def test_unknown_subpaths_are_404(proxy: Proxy, upstream: Upstream, subpath: str) -> None:
    r = proxy.forward("POST", subpath, BROWSER_HEADERS, track_body(), None)
    assert r.status == 404
    assert json.loads(r.body) == {"error": "not found"}
    assert as_dict(r)["content-type"] == "application/json"
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("method", "subpath", "allow"),
    [("GET", "track", "POST"), ("PUT", "track/batch", "POST"), ("POST", "track/device-id", "GET"),
     ("DELETE", "track", "POST"), ("OPTIONS", "track", "POST")],
)  # fmt: skip
def test_wrong_method_is_405_with_allow(
    proxy: Proxy, upstream: Upstream, method: str, subpath: str, allow: str
) -> None:
    r = proxy.forward(method, subpath, BROWSER_HEADERS, b"", None)
    assert r.status == 405
    assert as_dict(r)["allow"] == allow
    assert upstream.requests == []


def test_body_over_the_limit_is_413(upstream: Upstream) -> None:
    p = Proxy(upstream.config(max_proxy_body_bytes=100))
    assert p.forward("POST", "track", BROWSER_HEADERS, b"x" * 101, None).status == 413
    announced = {**BROWSER_HEADERS, "content-length": "5000"}
    assert p.forward("POST", "track", announced, b"{}", None).status == 413
    assert upstream.requests == []
    assert p.forward("POST", "track", BROWSER_HEADERS, track_body()[:100], None).status == 200
    p.close()


def test_too_large() -> None:
    p = Proxy(config(max_proxy_body_bytes=100))
    assert p.too_large("101")
    assert p.too_large(" 5000 ")
    assert not p.too_large("100")
    assert not p.too_large(None)
    assert not p.too_large("")
    assert not p.too_large("lots")


def test_disabled_config_forwards_nothing(upstream: Upstream) -> None:
    p = Proxy(upstream.config(disabled=True))
    assert p.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status == 404
    assert upstream.requests == []


# --------------------------------------------------------------------------- upstream failures


def test_upstream_down_is_502() -> None:
    p = Proxy(config(api_url=f"http://127.0.0.1:{closed_port()}"))
    r = p.forward("POST", "track", BROWSER_HEADERS, track_body(), "203.0.113.9")
    assert r.status == 502
    assert json.loads(r.body) == {"error": "the ingestion server cannot be reached"}
    assert as_dict(r)["content-type"] == "application/json"
    p.close()


def test_unknown_host_is_502() -> None:
    p = Proxy(config(api_url="http://openpanel-upstream.invalid"))
    assert p.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status == 502
    p.close()


@pytest.fixture
def slow_upstream() -> Iterator[HTTPServer]:
    """An upstream that answers after 1 s (threaded, so a late answer blocks nobody)."""
    server = HTTPServer(threaded=True)

    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(json.dumps(ANSWER), content_type="application/json")

    server.expect_request("/track").respond_with_handler(slow)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_slow_upstream_is_504(slow_upstream: HTTPServer) -> None:
    p = Proxy(config(api_url=slow_upstream.url_for("/").rstrip("/"), proxy_timeout=0.2))
    started = time.monotonic()
    r = p.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    assert r.status == 504
    assert json.loads(r.body) == {"error": "the ingestion server did not answer in time"}
    assert time.monotonic() - started < 0.9
    p.close()


def test_concurrent_threads_share_the_proxy(proxy: Proxy, upstream: Upstream) -> None:
    results: list[int] = []

    def run() -> None:
        results.append(proxy.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8


# --------------------------------------------------------------------------- async


def test_async_forward(upstream: Upstream, slow_upstream: HTTPServer) -> None:
    async def main() -> list[ProxyResponse]:
        p = Proxy(upstream.config())
        slow = Proxy(config(api_url=slow_upstream.url_for("/").rstrip("/"), proxy_timeout=0.2))
        down = Proxy(config(api_url=f"http://127.0.0.1:{closed_port()}"))
        try:
            return [
                await p.aforward("POST", "track", BROWSER_HEADERS, track_body(), "203.0.113.9",
                                 device_id="abcdefgh1234"),
                await p.aforward("GET", "track", BROWSER_HEADERS, b"", None),
                await p.aforward("POST", "nope", BROWSER_HEADERS, b"", None),
                await down.aforward("POST", "track", BROWSER_HEADERS, track_body(), None),
                await slow.aforward("POST", "track", BROWSER_HEADERS, track_body(), None),
            ]  # fmt: skip
        finally:
            await p.aclose()
            await p.aclose()
            await slow.aclose()
            await down.aclose()

    ok, wrong_method, unknown, down, slow = asyncio.run(main())
    assert (ok.status, json.loads(ok.body)) == (200, ANSWER)
    sent = upstream.last[2]
    assert sent["openpanel-client-id"] == CLIENT_ID
    assert sent["openpanel-client-ip"] == "203.0.113.9"
    assert "openpanel-client-secret" not in sent
    assert json.loads(upstream.last[3])["payload"]["properties"]["__deviceId"] == "abcdefgh1234"
    assert (wrong_method.status, unknown.status, down.status, slow.status) == (405, 404, 502, 504)


def test_custom_transports() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"ok": True})

    p = Proxy(
        config(api_url="http://upstream.test"),
        transport=httpx.MockTransport(handler),
        async_transport=httpx.MockTransport(handler),
    )
    assert p.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status == 202
    assert (
        asyncio.run(p.aforward("POST", "track", BROWSER_HEADERS, track_body(), None)).status == 202
    )
    assert [str(r.url) for r in seen] == ["http://upstream.test/track"] * 2
    p.close()


# --------------------------------------------------------------------------- never raises


def broken_proxy() -> Proxy:
    def handler(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug inside the SDK")

    return Proxy(
        config(api_url="http://upstream.test"),
        transport=httpx.MockTransport(handler),
        async_transport=httpx.MockTransport(handler),
    )


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("swallow_internal_errors")
def test_internal_errors_become_502_in_production() -> None:
    p = broken_proxy()
    r = p.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    assert (r.status, json.loads(r.body)) == (502, {"error": "proxy error"})
    r = asyncio.run(p.aforward("POST", "track", BROWSER_HEADERS, track_body(), None))
    assert r.status == 502
    assert len(_guard.recorded) == 2
    assert SECRET not in repr(_guard.recorded)


@pytest.mark.tests_internal_errors
def test_internal_errors_raise_under_tests() -> None:
    p = broken_proxy()
    with pytest.raises(RuntimeError, match="bug inside the SDK"):
        p.forward("POST", "track", BROWSER_HEADERS, track_body(), None)
    with pytest.raises(RuntimeError, match="bug inside the SDK"):
        asyncio.run(p.aforward("POST", "track", BROWSER_HEADERS, track_body(), None))


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP/1.1 upstream that keeps connections open (werkzeug's test server closes them)."""

    protocol_version = "HTTP/1.1"
    peers: ClassVar[list[tuple[str, int]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.peers.append(self.client_address)
        body = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def keepalive_upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    KeepAliveHandler.peers = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sync_forward_reuses_connections(keepalive_upstream: str) -> None:
    p = Proxy(config(api_url=keepalive_upstream))
    for _ in range(3):
        assert p.forward("POST", "track", BROWSER_HEADERS, track_body(), None).status == 200
    p.close()
    assert len(set(KeepAliveHandler.peers)) == 1, "one pooled keep-alive connection"


def test_async_forward_from_another_event_loop(keepalive_upstream: str) -> None:
    # The pool lives on the app's loop; a call from a thread's own loop (async_to_sync) must
    # not touch connections of another loop.
    p = Proxy(config(api_url=keepalive_upstream))

    def from_another_loop() -> int:
        return asyncio.run(p.aforward("POST", "track", BROWSER_HEADERS, track_body(), None)).status

    async def main() -> list[int]:
        statuses = [(await p.aforward("POST", "track", BROWSER_HEADERS, track_body(), None)).status]
        statuses.append(await asyncio.to_thread(from_another_loop))
        statuses.append(
            (await p.aforward("POST", "track", BROWSER_HEADERS, track_body(), None)).status
        )
        await p.aclose()
        return statuses

    assert asyncio.run(main()) == [200, 200, 200]
    first, other, third = KeepAliveHandler.peers
    assert first == third, "the pooled connection was reused on its own loop"
    assert other != first, "the other loop used a connection of its own"
