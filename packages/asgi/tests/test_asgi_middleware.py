from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from asgi_helpers import (
    API_URL,
    BROWSER_UA,
    CLIENT_ID,
    PEER,
    Recorder,
    TestClient,
    asgi_client,
    demo_app,
    lifespan_run,
)
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from openpanel_asgi import OpenPanelMiddleware
from openpanel_core import current_context
from openpanel_core.testing import AsyncRecordingTransport

pytestmark = pytest.mark.anyio


def wrap(app: Any, rec: Recorder, **options: Any) -> OpenPanelMiddleware:
    options.setdefault("client_id", CLIENT_ID)
    options.setdefault("api_url", API_URL)
    return OpenPanelMiddleware(app, client=rec.client, **options)


# --------------------------------------------------------------------------- pass-through


async def test_lifespan_messages_identical_and_owned_client_flushed_at_shutdown() -> None:
    seen: list[str] = []

    def make_app() -> Starlette:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncGenerator[None]:
            seen.append("startup")
            yield
            seen.append("shutdown")

        app = demo_app(None)
        app.router.lifespan_context = lifespan
        return app

    bare_received, bare_sent = await lifespan_run(make_app())
    transport = AsyncRecordingTransport()
    mw = OpenPanelMiddleware(
        make_app(),
        client_id=CLIENT_ID,
        api_url=API_URL,
        client_options={"transport": transport, "flush_interval": 60.0},
    )
    assert mw.client is not None
    mw.client.track("queued_before_shutdown")
    received, sent = await lifespan_run(mw)
    assert received == bare_received
    assert (
        sent
        == bare_sent
        == [
            {"type": "lifespan.startup.complete"},
            {"type": "lifespan.shutdown.complete"},
        ]
    )
    assert seen == ["startup", "shutdown", "startup", "shutdown"]
    # Flushed before the server was told the shutdown completed, then closed.
    assert [e.name for e in transport.events] == ["queued_before_shutdown"]
    mw.client.track("after_shutdown")
    await asyncio.sleep(0)
    assert [e.name for e in transport.events] == ["queued_before_shutdown"]


def test_lifespan_through_test_client_flushes_owned_client() -> None:
    transport = AsyncRecordingTransport()
    app = demo_app(None)
    app.add_middleware(
        OpenPanelMiddleware,
        client_id=CLIENT_ID,
        api_url=API_URL,
        track_requests=True,
        client_options={"transport": transport, "flush_interval": 60.0},
    )
    with TestClient(app) as tc:
        assert tc.get("/").text == "home"
        assert transport.events == []  # still queued: the flush interval is a minute
    assert [(e.name, e.properties["path"]) for e in transport.events] == [("server_request", "/")]
    # A second lifespan of the same app (as test suites do) gets a fresh client.
    with TestClient(app) as tc:
        assert tc.get("/items/1").status_code == 200
    paths = [e.properties["path"] for e in transport.events if e.name == "server_request"]
    assert paths == ["/", "/items/1"]


async def test_lifespan_not_supported_by_app_raises_the_same() -> None:
    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "only http"

    rec = Recorder()
    with pytest.raises(AssertionError, match="only http"):
        await lifespan_run(http_only)
    with pytest.raises(AssertionError, match="only http"):
        await lifespan_run(OpenPanelMiddleware(http_only, client_id=CLIENT_ID, api_url=API_URL))
    await rec.close()


async def test_websocket_and_unknown_scopes_reach_the_app_untouched() -> None:
    calls: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append((scope, receive, send))

    rec = Recorder()
    mw = wrap(app, rec, track_requests=True)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        return None

    for kind in ("websocket", "webtransport"):
        scope = {"type": kind, "path": "/ws", "headers": [(b"user-agent", b"x")]}
        before = dict(scope)
        await mw(scope, receive, send)
        assert calls[-1][0] is scope and scope == before
        assert calls[-1][1] is receive
        assert calls[-1][2] is send
    assert await rec.events() == []
    await rec.close()


def test_websocket_echo_works_identically() -> None:
    rec_transport = AsyncRecordingTransport()

    def talk(app: Any) -> list[Any]:
        out: list[Any] = []
        with TestClient(app) as tc, tc.websocket_connect("/ws") as ws:
            for text in ("hi", "there"):
                ws.send_text(text)
                out.append(ws.receive_text())
            ws.send_text("bye")
            out.append(ws.receive())
        return out

    bare = talk(demo_app(None))
    wrapped = demo_app(None)
    wrapped.add_middleware(
        OpenPanelMiddleware,
        client_id=CLIENT_ID,
        api_url=API_URL,
        track_requests=True,
        client_options={"transport": rec_transport},
    )
    assert (
        talk(wrapped)
        == bare
        == ["echo:hi", "echo:there", {"type": "websocket.close", "code": 1000, "reason": ""}]
    )
    assert rec_transport.events == []


# --------------------------------------------------------------------------- status


async def test_status_observed_for_plain_streaming_missing_and_failing_requests() -> None:
    rec = Recorder()
    app = wrap(demo_app(rec.client), rec, track_requests=True)
    async with asgi_client(app, raise_app_exceptions=False) as http:
        assert (await http.get("/")).status_code == 200
        streamed = await http.get("/stream")
        assert (streamed.status_code, streamed.text) == (201, "abc")
        assert (await http.get("/nowhere")).status_code == 404
        assert (await http.get("/boom")).status_code == 500
    statuses = {
        e.properties["path"]: e.properties["status"] for e in await rec.tracks("server_request")
    }
    assert statuses == {"/": 200, "/stream": 201, "/nowhere": 404, "/boom": 500}
    await rec.close()


async def test_exception_from_bare_app_is_reraised_and_recorded_as_500() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("app bug")

    rec = Recorder()
    app = wrap(failing, rec, track_requests=True)
    async with asgi_client(app) as http:
        with pytest.raises(ValueError, match="app bug"):
            await http.get("/x")
    [event] = await rec.tracks("server_request")
    assert event.properties["status"] == 500
    assert "route" not in event.properties
    await rec.close()


async def test_failure_after_response_start_keeps_the_sent_status() -> None:
    async def half(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 206, "headers": []})
        raise ConnectionError("stream broke")

    rec = Recorder()
    app = wrap(half, rec, track_requests=True)
    async with asgi_client(app) as http:
        with pytest.raises(ConnectionError):
            await http.get("/partial")
    [event] = await rec.tracks("server_request")
    assert event.properties["status"] == 206
    await rec.close()


# --------------------------------------------------------------------------- double install


async def test_double_installation_records_once() -> None:
    rec = Recorder()
    app = demo_app(rec.client)
    app.add_middleware(OpenPanelMiddleware, client=rec.client, track_requests=True)
    app.add_middleware(OpenPanelMiddleware, client=rec.client, track_requests=True)
    nested = wrap(wrap(demo_app(rec.client), rec, track_requests=True), rec, track_requests=True)
    for target in (app, nested):
        async with asgi_client(target) as http:
            assert (await http.get("/items/1")).status_code == 200
    events = await rec.tracks()
    assert [e.name for e in events] == ["item_viewed", "server_request"] * 2
    await rec.close()


def test_constructor_compatible_with_starlette_middleware() -> None:
    transport = AsyncRecordingTransport()
    app = demo_app(
        None,
        middleware=[
            Middleware(
                OpenPanelMiddleware,
                client_id=CLIENT_ID,
                api_url=API_URL,
                track_requests=True,
                client_options={"transport": transport},
            )
        ],
    )
    with TestClient(app) as tc:
        assert tc.get("/items/7").json() == {"item": "7"}
    assert [e.properties["route"] for e in transport.events] == ["/items/{item_id}"]


# --------------------------------------------------------------------------- context


async def test_context_carried_into_endpoint_and_spawned_task() -> None:
    rec = Recorder()
    tasks: list[asyncio.Task[None]] = []

    def identify(scope: Any) -> str:
        return "user-42"

    app = wrap(demo_app(rec.client, spawned=tasks), rec, identify=identify)
    headers = {"user-agent": BROWSER_UA}
    async with asgi_client(app) as http:
        assert (await http.get("/items/9", headers=headers)).status_code == 200
        assert (await http.get("/spawn", headers=headers)).status_code == 202
    await asyncio.gather(*tasks)
    assert current_context() is None  # nothing leaked out of the requests
    by_name = {e.name: e for e in await rec.tracks()}
    for name in ("item_viewed", "background_job"):
        event = by_name[name]
        assert event.ip == PEER
        assert event.user_agent == BROWSER_UA
        assert event.payload["profileId"] == "user-42"
    await rec.close()


async def test_ip_from_trusted_forwarding_header() -> None:
    rec = Recorder()
    app = wrap(demo_app(rec.client), rec, ip_header="x-forwarded-for", trusted_hops=1)
    async with asgi_client(app) as http:
        await http.get("/items/1", headers={"x-forwarded-for": "198.51.100.1, 192.0.2.44"})
    [event] = await rec.tracks("item_viewed")
    assert event.ip == "192.0.2.44"
    await rec.close()


async def test_sync_openpanel_client_works_too() -> None:
    from openpanel_core import OpenPanel
    from openpanel_core.testing import RecordingTransport

    transport = RecordingTransport()
    client = OpenPanel(CLIENT_ID, api_url=API_URL, transport=transport, sync_mode=True)
    app = OpenPanelMiddleware(demo_app(None), client=client, track_requests=True)
    async with asgi_client(app) as http:
        await http.get("/items/3", headers={"user-agent": BROWSER_UA})
    [event] = transport.events
    assert (event.name, event.ip, event.user_agent) == ("server_request", PEER, BROWSER_UA)
    client.shutdown(1.0)


# --------------------------------------------------------------------------- request events


async def test_track_requests_fields_with_route_templates() -> None:
    rec = Recorder()
    app = wrap(demo_app(rec.client), rec, track_requests=True)
    async with asgi_client(app) as http:
        await http.get(
            "/items/42?color=red",
            headers={"user-agent": BROWSER_UA, "referer": "https://search.example/?q=x"},
        )
        await http.post("/api/users/7")
        await http.get("/api/users/7")
        await http.get("/missing")
    events = await rec.tracks("server_request")
    first = events[0].properties
    duration = first.pop("duration_ms")
    assert first.pop("__timestamp")
    assert isinstance(duration, (int, float)) and duration >= 0
    assert first == {
        "method": "GET",
        "path": "/items/42",
        "route": "/items/{item_id}",
        "status": 200,
        "__path": "http://testserver/items/42?color=red",
        "__referrer": "https://search.example/?q=x",
    }
    assert events[0].ip == PEER and events[0].user_agent == BROWSER_UA
    assert [
        (e.properties["method"], e.properties.get("route"), e.properties["status"])
        for e in events[1:]
    ] == [
        ("POST", "/api/users/{uid}", 405),
        ("GET", "/api/users/{uid}", 200),
        ("GET", None, 404),
    ]
    await rec.close()


async def test_fastapi_route_template_and_custom_event_name() -> None:
    from fastapi import FastAPI

    api = FastAPI()

    @api.get("/orders/{order_id}")
    async def order(order_id: int) -> dict[str, int]:
        return {"order": order_id}

    sub = FastAPI()

    @sub.get("/reports/{year}")
    async def report(year: int) -> dict[str, int]:
        return {"year": year}

    api.mount("/admin", sub)
    rec = Recorder()
    api.add_middleware(
        OpenPanelMiddleware, client=rec.client, track_requests=True, request_event_name="api_call"
    )
    async with asgi_client(api) as http:
        assert (await http.get("/orders/5")).json() == {"order": 5}
        assert (await http.get("/admin/reports/2024")).json() == {"year": 2024}
    routes = [e.properties["route"] for e in await rec.tracks("api_call")]
    assert routes == ["/orders/{order_id}", "/admin/reports/{year}"]
    await rec.close()


async def test_no_request_events_unless_asked() -> None:
    rec = Recorder()
    app = wrap(demo_app(rec.client), rec)
    async with asgi_client(app) as http:
        await http.get("/items/1")
    assert [e.name for e in await rec.tracks()] == ["item_viewed"]
    await rec.close()


async def test_excluded_paths_pass_straight_through() -> None:
    rec = Recorder()
    app = wrap(
        demo_app(rec.client),
        rec,
        track_requests=True,
        exclude_paths=["/health", "/api/*", "re:^/items/9\\d+$"],
    )
    async with asgi_client(app) as http:
        for path in ("/health", "/api/users/1", "/items/90", "/items/1"):
            assert (await http.get(path, headers={"user-agent": BROWSER_UA})).status_code == 200
    events = await rec.tracks()
    assert [(e.name, e.properties.get("path")) for e in events] == [
        ("health_probe", None),
        ("item_viewed", None),
        ("item_viewed", None),
        ("server_request", "/items/1"),
    ]
    # Excluded requests get no context either: their endpoint events carry no end user.
    assert [e.ip for e in events] == [None, None, PEER, PEER]
    await rec.close()


async def test_disabled_middleware_is_a_pass_through() -> None:
    app = OpenPanelMiddleware(
        demo_app(None), client_id=CLIENT_ID, disabled=True, track_requests=True
    )
    assert app.client is None
    async with asgi_client(app) as http:
        assert (await http.get("/")).text == "home"
        assert (await http.get("/_op/op.js")).status_code == 404


# --------------------------------------------------------------------------- identify


async def test_identify_once_per_session_and_again_when_traits_change() -> None:
    rec = Recorder()
    profile = {"profile_id": "u-1", "email": "ada@example.com", "first_name": "Ada", "plan": "pro"}

    def identify(scope: Any) -> Any:
        return (
            dict(profile) if b"session=u-1" in dict(scope["headers"]).get(b"cookie", b"") else None
        )

    app = wrap(demo_app(rec.client), rec, identify=identify, track_requests=True)
    async with asgi_client(app) as http:
        await http.get("/", headers={"cookie": "session=u-1"})
        await http.get("/items/2", headers={"cookie": "session=u-1"})
        await http.get("/")  # anonymous
        profile["email"] = "ada@new.example"
        await http.get("/", headers={"cookie": "session=u-1"})
    events = await rec.events()
    identifies = [e.payload for e in events if e.type == "identify"]
    assert identifies == [
        {
            "profileId": "u-1",
            "firstName": "Ada",
            "email": "ada@example.com",
            "properties": {"plan": "pro"},
        },
        {
            "profileId": "u-1",
            "firstName": "Ada",
            "email": "ada@new.example",
            "properties": {"plan": "pro"},
        },
    ]
    requests = [e.payload.get("profileId") for e in events if e.name == "server_request"]
    assert requests == ["u-1", "u-1", None, "u-1"]
    await rec.close()


async def test_identify_users_off_sends_no_identify_but_keeps_profile() -> None:
    rec = Recorder()

    def identify(scope: Any) -> int:
        return 77

    app = wrap(demo_app(rec.client), rec, identify=identify, identify_users=False)
    async with asgi_client(app) as http:
        await http.get("/items/5")
    events = await rec.events()
    assert [e.type for e in events] == ["track"]
    assert events[0].payload["profileId"] == 77
    await rec.close()


class HeaderAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.headers.get("x-user")
        return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None


@pytest.mark.parametrize("auth_outside", [True, False])
async def test_starlette_scope_user_is_the_profile(auth_outside: bool) -> None:
    rec = Recorder()
    openpanel = Middleware(OpenPanelMiddleware, client=rec.client, track_requests=True)
    auth = Middleware(AuthenticationMiddleware, backend=HeaderAuth())
    stack = [auth, openpanel] if auth_outside else [openpanel, auth]  # first is outermost
    app = demo_app(rec.client, middleware=stack)
    async with asgi_client(app) as http:
        await http.get("/items/1", headers={"x-user": "grace"})
        await http.get("/items/2")
    events = await rec.events()
    assert [e.payload["profileId"] for e in events if e.type == "identify"] == ["grace"]
    request_profiles = [e.payload.get("profileId") for e in events if e.name == "server_request"]
    assert request_profiles == ["grace", None]
    item_profiles = [e.payload.get("profileId") for e in events if e.name == "item_viewed"]
    # Endpoint events get the user only when authentication ran before the context opened.
    assert item_profiles == (["grace", None] if auth_outside else [None, None])
    await rec.close()


async def test_identify_hook_errors_mean_anonymous() -> None:
    rec = Recorder()

    def broken(scope: Any) -> Any:
        raise KeyError("session")

    app = wrap(demo_app(rec.client), rec, identify=broken)
    async with asgi_client(app) as http:
        assert (await http.get("/items/1")).status_code == 200
    [event] = await rec.tracks()
    assert "profileId" not in event.payload and event.ip == PEER
    await rec.close()


# --------------------------------------------------------------------------- device cookie


async def test_device_cookie_set_once_and_carried_by_events() -> None:
    rec = Recorder()
    app = wrap(demo_app(rec.client), rec, device_cookie=True, track_requests=True)
    async with asgi_client(app) as http:
        first = await http.get("/items/1")
        set_cookie = first.headers.get_list("set-cookie")
        assert len(set_cookie) == 1
        cookie = set_cookie[0]
        assert cookie.startswith("op_did=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain http
        device_id = cookie.split(";")[0].split("=", 1)[1]
        second = await http.get("/items/2")  # httpx keeps the cookie
        assert "set-cookie" not in second.headers
    events = await rec.tracks()
    assert {e.properties.get("__deviceId") for e in events} == {device_id}
    await rec.close()


async def test_device_cookie_secure_on_https_and_kept_beside_app_cookies() -> None:
    from starlette.responses import PlainTextResponse

    async def page(scope: Any, receive: Any, send: Any) -> None:
        response = PlainTextResponse("hi")
        response.set_cookie("app_session", "abc")
        await response(scope, receive, send)

    rec = Recorder()
    app = wrap(page, rec, device_cookie=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://shop.example") as http:
        response = await http.get("/")
    cookies = response.headers.get_list("set-cookie")
    assert cookies[0].startswith("app_session=abc")
    assert cookies[1].startswith("op_did=") and "Secure" in cookies[1]
    await rec.close()


async def test_device_cookie_off_by_default() -> None:
    rec = Recorder()
    app = wrap(demo_app(rec.client), rec)
    async with asgi_client(app) as http:
        assert "set-cookie" not in (await http.get("/")).headers
    await rec.close()


def test_identify_gate_repeats_after_the_ttl_and_on_change() -> None:
    from openpanel_asgi import Identity
    from openpanel_asgi._identity import IdentifyGate
    from openpanel_web_bridge import IdentifyOnce

    now = [1000.0]
    gate = IdentifyGate(IdentifyOnce(ttl=60.0, clock=lambda: now[0]), maxsize=2)
    ada = Identity("u1", {"email": "ada@example.com"})
    assert gate.should_identify(ada)
    assert not gate.should_identify(Identity("u1", {"email": "ada@example.com"}))
    assert gate.should_identify(Identity("u1", {"email": "ada@new.example"}))
    now[0] += 61  # the bridge's memory expired; the gate's own memo is on the real clock
    assert gate.should_identify(Identity("u1", {"email": "ada@example.com"}))
    # a bounded memo: old profiles fall out, and IdentifyOnce still decides for them
    for pid in ("u2", "u3", "u4"):
        assert gate.should_identify(Identity(pid))
    assert not gate.should_identify(Identity("u2"))


async def test_duration_ends_with_the_response_and_background_tasks_keep_the_context() -> None:
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    rec = Recorder()

    async def after() -> None:
        await asyncio.sleep(0.3)
        rec.client.track("emailed_receipt")

    async def checkout(request: Request) -> Response:
        return PlainTextResponse("ok", background=BackgroundTask(after))

    app = wrap(Starlette(routes=[Route("/checkout", checkout)]), rec, track_requests=True)
    async with asgi_client(app) as http:
        await http.get("/checkout", headers={"user-agent": BROWSER_UA})
    [request] = await rec.tracks("server_request")
    assert request.properties["duration_ms"] < 200  # the background task took 300 ms
    [receipt] = await rec.tracks("emailed_receipt")
    assert (receipt.ip, receipt.user_agent) == (PEER, BROWSER_UA)
    await rec.close()


def test_options_override_config_and_env_fills_the_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    from openpanel_core import ConfigurationError
    from openpanel_web_bridge import BridgeConfig

    base = BridgeConfig(client_id=CLIENT_ID, api_url=API_URL, exclude_paths=("/a",))
    mw = OpenPanelMiddleware(demo_app(None), config=base, track_requests=True, prefix="/stats")
    assert mw.config.track_requests and mw.config.prefix == "/stats"
    assert mw.config.exclude_paths == ("/a",) and mw.config.client_id == CLIENT_ID
    assert OpenPanelMiddleware(demo_app(None), config=base).config is base

    monkeypatch.setenv("OPENPANEL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OPENPANEL_CLIENT_SECRET", "sec_from_env")
    monkeypatch.setenv("OPENPANEL_API_URL", "https://ingest.example.com")
    from_env = OpenPanelMiddleware(demo_app(None), config={"TRACK_REQUESTS": True})
    assert from_env.config.client_id == CLIENT_ID
    assert from_env.config.client_secret == "sec_from_env"
    assert from_env.config.api_url == "https://ingest.example.com"
    assert from_env.config.track_requests
    with pytest.raises(ConfigurationError, match="trak_requests"):
        OpenPanelMiddleware(demo_app(None), trak_requests=True)
