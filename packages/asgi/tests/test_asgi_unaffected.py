"""The host app is unaffected: same responses with the SDK broken inside or the server down."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_helpers import API_URL, BROWSER_UA, CLIENT_ID, Recorder, asgi_client, demo_app

from openpanel_asgi import OpenPanelMiddleware, snippet
from openpanel_core import AsyncOpenPanel, _guard

pytestmark = pytest.mark.anyio

REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/", {}),
    ("GET", "/items/1?x=2", {"referer": "https://example.com/"}),
    ("GET", "/stream", {}),
    ("GET", "/nowhere", {}),
    ("POST", "/api/users/7", {}),
    ("GET", "/api/users/7", {"x-forwarded-for": "198.51.100.4"}),
    ("GET", "/boom", {}),
]


def strip_date(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k != "date"]


async def responses(app: Any) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    out: list[tuple[int, list[tuple[str, str]], bytes]] = []
    async with asgi_client(app, raise_app_exceptions=False) as http:
        for method, path, headers in REQUESTS:
            r = await http.request(
                method, path, headers={"user-agent": BROWSER_UA, "cookie": "sid=u1", **headers}
            )
            out.append((r.status_code, strip_date(list(r.headers.multi_items())), r.content))
    return out


def identify(scope: Any) -> str:
    return "u1"


class BrokenClient(AsyncOpenPanel):
    """Every entry point the middleware uses raises."""

    def context(self, **kwargs: Any) -> Any:
        raise RuntimeError("context broke")

    def track(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("track broke")

    def identify(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("identify broke")


class ExitBroken(AsyncOpenPanel):
    """The context opens, but closing it and tracking raise."""

    def context(self, **kwargs: Any) -> Any:
        real = super().context(**kwargs)

        class Wrapper:
            def __enter__(self) -> Any:
                return real.__enter__()

            def __exit__(self, *exc: object) -> None:
                real.__exit__(None, None, None)
                raise RuntimeError("exit broke")

        return Wrapper()

    def track(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("track broke")


@pytest.fixture
def production_guard() -> Iterator[None]:
    _guard.set_reraise(False)
    _guard.recorded.clear()
    try:
        yield
    finally:
        _guard.set_reraise(None)
        _guard.recorded.clear()


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("production_guard")
@pytest.mark.parametrize("client_class", [BrokenClient, ExitBroken])
async def test_identical_responses_with_a_client_that_raises(
    client_class: type[AsyncOpenPanel],
) -> None:
    expected = await responses(demo_app(None))
    client = client_class(CLIENT_ID, api_url=API_URL)
    # The endpoints do not track: only the middleware meets the broken client.
    app = OpenPanelMiddleware(demo_app(None), client=client, track_requests=True, identify=identify)
    assert await responses(app) == expected
    assert _guard.recorded, "the SDK errors happened and were swallowed"
    await client.shutdown(0.1)


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("production_guard")
@pytest.mark.parametrize(
    "broken",
    [
        "header_getter",
        "client_ip",
        "request_info",
        "request_event",
        "route_template",
        "from_hook",
    ],
)
async def test_identical_responses_with_bridge_helpers_that_raise(
    broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpanel_asgi._middleware as middleware_module

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{broken} broke")

    expected = await responses(demo_app(None))
    rec = Recorder()
    monkeypatch.setattr(middleware_module, broken, explode)
    # device_cookie is off: with it on the Set-Cookie header is the one intended difference.
    app = OpenPanelMiddleware(
        demo_app(rec.client), client=rec.client, track_requests=True, identify=identify
    )
    assert await responses(app) == expected
    assert any(str(e) == f"{broken} broke" for e in _guard.recorded)
    await rec.close()


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("production_guard")
async def test_failing_device_cookie_leaves_the_response_as_the_app_made_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openpanel_asgi._middleware as middleware_module

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cookie broke")

    expected = await responses(demo_app(None))
    rec = Recorder()
    monkeypatch.setattr(middleware_module, "device_cookie_header", explode)
    app = OpenPanelMiddleware(demo_app(rec.client), client=rec.client, device_cookie=True)
    assert await responses(app) == expected
    assert _guard.recorded
    await rec.close()


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("production_guard")
async def test_snippet_renders_nothing_when_the_bridge_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openpanel_asgi._snippet as snippet_module
    from openpanel_web_bridge import BridgeConfig

    def explode(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("render broke")

    monkeypatch.setattr(snippet_module, "render_snippet", explode)
    assert snippet(None, BridgeConfig(client_id=CLIENT_ID)) == ""


# --------------------------------------------------------------------------- server down


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A server that accepts connections (in the kernel backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


async def timed(app: Any, n: int) -> list[float]:
    out: list[float] = []
    async with asgi_client(app) as http:
        for i in range(n):
            start = time.perf_counter()
            r = await http.get(f"/items/{i}", headers={"user-agent": BROWSER_UA})
            out.append(time.perf_counter() - start)
            assert r.status_code == 200
    return out


@pytest.mark.parametrize("down", ["refused", "blackhole"])
async def test_server_down_same_responses_and_no_added_latency(down: str, blackhole: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}" if down == "refused" else blackhole
    expected = await responses(demo_app(None))
    options = {"flush_at": 1, "timeout": 5.0, "max_retries": 3, "shutdown_timeout": 0.2}
    app = OpenPanelMiddleware(
        demo_app(None),
        client_id=CLIENT_ID,
        client_secret="sec_test",
        api_url=url,
        track_requests=True,
        identify=identify,
        client_options=options,
    )
    assert await responses(app) == expected

    rec = Recorder()
    healthy = OpenPanelMiddleware(demo_app(None), client=rec.client, track_requests=True)
    baseline = await timed(healthy, 40)
    started = time.perf_counter()
    latencies = await timed(app, 40)
    elapsed = time.perf_counter() - started
    # Every request returned long before the client's 5 s network timeout could fire ...
    assert elapsed < 2.5, elapsed
    assert max(latencies) < 1.0, max(latencies)
    # ... and the typical request costs what it costs with a healthy server.
    assert statistics.median(latencies) < statistics.median(baseline) * 3 + 0.002
    client = app.client
    assert client is not None
    assert client.stats.delivered == 0  # nothing got through, and nobody waited for it
    started = time.perf_counter()
    await app.aclose()  # the lifespan shutdown is bounded by shutdown_timeout too
    assert time.perf_counter() - started < 2.0
    await rec.close()
