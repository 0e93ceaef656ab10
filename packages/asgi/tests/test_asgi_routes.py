from __future__ import annotations

import gzip
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_helpers import API_URL, BROWSER_UA, CLIENT_ID, PEER, asgi_client, demo_app
from fastapi import FastAPI
from pytest_httpserver import HTTPServer
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from openpanel_asgi import OpenPanelMiddleware, OpenPanelRoutes, routes
from openpanel_web_bridge import BridgeConfig, script_response

pytestmark = pytest.mark.anyio

ORIGIN = "http://localhost:8000"


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def config_for(upstream: str, **options: Any) -> BridgeConfig:
    return BridgeConfig.from_mapping({"client_id": CLIENT_ID, "api_url": upstream, **options})


@pytest.fixture
def upstream(httpserver: HTTPServer) -> HTTPServer:
    def answer(request: WerkzeugRequest) -> WerkzeugResponse:
        if request.path == "/track/device-id":
            body = {"deviceId": "dev-from-upstream", "sessionId": "sess-1"}
        else:
            body = {"deviceId": "d1", "sessionId": "s1"}
        return WerkzeugResponse(
            json.dumps(body),
            status=200,
            headers={
                "content-type": "application/json",
                "openpanel-batch": "1",
                "x-internal": "no",
            },
        )

    httpserver.expect_request("/track").respond_with_handler(answer)
    httpserver.expect_request("/track/batch").respond_with_handler(answer)
    httpserver.expect_request("/track/device-id").respond_with_handler(answer)
    return httpserver


def mounted_starlette(config: BridgeConfig) -> tuple[Starlette, OpenPanelRoutes]:
    r = routes(config)
    return Starlette(routes=[Mount("/_op", app=r)]), r


def mounted_fastapi(config: BridgeConfig) -> tuple[FastAPI, OpenPanelRoutes]:
    app = FastAPI()
    r = OpenPanelRoutes(config)
    app.mount("/_op", r)
    return app, r


def with_middleware(config: BridgeConfig) -> tuple[OpenPanelMiddleware, OpenPanelMiddleware]:
    mw = OpenPanelMiddleware(demo_app(None), config=config)
    return mw, mw


SETUPS = [mounted_starlette, mounted_fastapi, with_middleware]


# --------------------------------------------------------------------------- script


@pytest.mark.parametrize("setup", SETUPS)
async def test_script_200_then_304_head_and_gzip(setup: Any) -> None:
    app, owner = setup(config_for(API_URL))
    expected = script_response()
    async with asgi_client(app) as http:
        plain = await http.get("/_op/op.js", headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        assert plain.content == expected.body
        assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        etag = plain.headers["etag"]
        again = await http.get("/_op/op.js", headers={"if-none-match": etag})
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["etag"]
        head = await http.head("/_op/op.js", headers={"accept-encoding": "identity"})
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(expected.body))
        zipped = await http.get("/_op/op.js", headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == expected.body  # httpx decoded it
        post = await http.post("/_op/op.js")
        assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    await owner.aclose()


async def test_script_off_is_not_served() -> None:
    app, owner = mounted_starlette(config_for(API_URL, script=False))
    async with asgi_client(app) as http:
        assert (await http.get("/_op/op.js")).status_code == 404
    await owner.aclose()


# --------------------------------------------------------------------------- proxy


@pytest.mark.parametrize("setup", SETUPS)
async def test_proxy_forwards_browser_event_to_configured_upstream_only(
    upstream: HTTPServer, setup: Any
) -> None:
    app, owner = setup(config_for(upstream.url_for("").rstrip("/")))
    body = {"type": "track", "payload": {"name": "click", "properties": {"button": "buy"}}}
    async with asgi_client(app) as http:
        response = await http.post(
            "/_op/track",
            json=body,
            headers={
                "user-agent": BROWSER_UA,
                "origin": ORIGIN,
                "openpanel-client-id": "someone-elses-project",
                "openpanel-client-secret": "stolen",
                "openpanel-client-ip": "6.6.6.6",
                "cookie": "session=private",
                "authorization": "Bearer private",
            },
        )
    assert response.status_code == 200
    assert response.json() == {"deviceId": "d1", "sessionId": "s1"}
    assert response.headers["openpanel-batch"] == "1"
    assert "x-internal" not in response.headers
    [(request, _)] = upstream.log
    assert request.path == "/track"
    assert json.loads(request.get_data()) == body
    sent = {k.lower(): v for k, v in request.headers.items()}
    assert sent["openpanel-client-id"] == CLIENT_ID
    assert sent["openpanel-client-ip"] == PEER
    assert sent["user-agent"] == BROWSER_UA
    assert sent["origin"] == ORIGIN
    for private in ("openpanel-client-secret", "cookie", "authorization"):
        assert private not in sent
    await owner.aclose()


async def test_proxy_batch_and_device_id_routes(upstream: HTTPServer) -> None:
    app, owner = mounted_fastapi(config_for(upstream.url_for("").rstrip("/")))
    async with asgi_client(app) as http:
        batch = await http.post(
            "/_op/track/batch", json=[{"type": "track", "payload": {"name": "a"}}]
        )
        device = await http.get("/_op/track/device-id", headers={"user-agent": BROWSER_UA})
        wrong = await http.get("/_op/track")
        unknown = await http.post("/_op/admin", json={})
    assert batch.status_code == 200
    assert device.json() == {"deviceId": "dev-from-upstream", "sessionId": "sess-1"}
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    assert unknown.status_code == 404
    assert [r.path for r, _ in upstream.log] == ["/track/batch", "/track/device-id"]
    await owner.aclose()


async def test_proxy_body_limit_by_content_length_and_while_streaming(upstream: HTTPServer) -> None:
    app, owner = mounted_starlette(
        config_for(upstream.url_for("").rstrip("/"), max_proxy_body_bytes=1000)
    )

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 100

    async with asgi_client(app) as http:
        declared = await http.post("/_op/track", content=b"y" * 1001)
        streamed = await http.post("/_op/track", content=chunks())  # chunked: no length
        fits = await http.post(
            "/_op/track", content=json.dumps({"type": "track", "payload": {"name": "ok"}})
        )
    assert declared.status_code == streamed.status_code == 413
    assert declared.json() == {"error": "payload too large"}
    assert fits.status_code == 200
    assert len(upstream.log) == 1
    await owner.aclose()


async def test_proxy_answers_502_when_upstream_is_down() -> None:
    app, owner = mounted_starlette(config_for(closed_port_url()))
    async with asgi_client(app) as http:
        response = await http.post("/_op/track", json={"type": "track", "payload": {"name": "x"}})
    assert response.status_code == 502
    assert "error" in response.json()
    await owner.aclose()


async def test_proxy_uses_trusted_ip_header_and_device_cookie(upstream: HTTPServer) -> None:
    config = config_for(
        upstream.url_for("").rstrip("/"), ip_header="x-forwarded-for", device_cookie=True
    )
    app = OpenPanelMiddleware(demo_app(None), config=config)
    async with asgi_client(app) as http:
        page = await http.get("/")
        device_id = page.cookies["op_did"]
        await http.post(
            "/_op/track",
            json={"type": "track", "payload": {"name": "click"}},
            headers={"x-forwarded-for": "198.51.100.23"},
        )
    [(request, _)] = upstream.log
    assert request.headers["openpanel-client-ip"] == "198.51.100.23"
    sent = json.loads(request.get_data())
    assert sent["payload"]["properties"]["__deviceId"] == device_id
    await app.aclose()


async def test_middleware_serve_routes_off_leaves_prefix_to_the_app() -> None:
    app = OpenPanelMiddleware(
        demo_app(None), client_id=CLIENT_ID, api_url=API_URL, serve_routes=False
    )
    async with asgi_client(app) as http:
        assert (await http.get("/_op/op.js")).status_code == 404
    await app.aclose()


async def test_middleware_passes_other_prefix_paths_to_the_app() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = OpenPanelMiddleware(inner, client_id=CLIENT_ID, api_url=API_URL)
    async with asgi_client(app) as http:
        assert (await http.get("/_op/custom")).status_code == 204
        assert (await http.get("/_op/op.js")).status_code == 200
    assert seen == ["/_op/custom"]
    await app.aclose()


async def test_routes_under_a_root_path() -> None:
    app = OpenPanelMiddleware(demo_app(None), client_id=CLIENT_ID, api_url=API_URL)
    transport = httpx.ASGITransport(app=app, root_path="/shop")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/shop/_op/op.js")).status_code == 200
    await app.aclose()


# --------------------------------------------------------------------------- raw ASGI edges


async def test_routes_app_lifespan_websocket_and_disconnect() -> None:
    r = OpenPanelRoutes(client_id=CLIENT_ID, api_url=API_URL)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive_lifespan() -> dict[str, Any]:
        return inbox.pop(0)

    await r({"type": "lifespan"}, receive_lifespan, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    sent.clear()
    await r({"type": "websocket", "path": "/track", "headers": []}, receive_lifespan, send)
    assert sent == [{"type": "websocket.close", "code": 1000}]

    sent.clear()

    async def receive_disconnect() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/track",
        "headers": [],
        "root_path": "",
    }
    await r(scope, receive_disconnect, send)
    assert sent == []  # nobody to answer
    await r.aclose()


def test_gzip_body_is_forwarded_untouched(upstream: HTTPServer) -> None:
    import asyncio

    async def run() -> None:
        app, owner = mounted_starlette(config_for(upstream.url_for("").rstrip("/")))
        raw = gzip.compress(b'[{"type":"track","payload":{"name":"z"}}]')
        async with asgi_client(app) as http:
            response = await http.post(
                "/_op/track/batch",
                content=raw,
                headers={"content-encoding": "gzip", "content-type": "application/json"},
            )
        assert response.status_code == 200
        [(request, _)] = upstream.log
        assert request.headers["content-encoding"] == "gzip"
        assert request.get_data() == raw
        await owner.aclose()

    asyncio.run(run())
