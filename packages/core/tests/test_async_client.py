"""The asyncio client against a real local HTTP server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from core_helpers import CLIENT_ID, Sink
from typing_extensions import Unpack
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from openpanel_core import AsyncOpenPanel, ClientOptions, HTTPStatusError
from openpanel_core._retry import RetryPolicy

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make(sink: Sink, **options: Unpack[ClientOptions]) -> AsyncOpenPanel:
    options.setdefault("flush_interval", 0.05)
    options["api_url"] = sink.url
    client = AsyncOpenPanel(CLIENT_ID, **options)
    client.delivery.retry = RetryPolicy(initial_delay=0.01, max_delay=0.05)
    return client


async def test_track_flush_and_shutdown(sink: Sink) -> None:
    async with make(sink, flush_at=5) as client:
        for i in range(12):
            client.track("e", {"i": i}, profile_id="u1")
        client.identify("u1", email="u1@example.com")
        assert await client.flush(5)
        assert client.stats.delivered == 13
    names = [e["payload"].get("name") for e in sink.events]
    assert names.count("e") == 12
    assert all(r.path == "/track/batch" for r in sink.requests)


async def test_context_follows_tasks(sink: Sink) -> None:
    client = make(sink, flush_at=1000)

    async def handle(user: str, ip: str) -> None:
        with client.context(ip=ip, user_agent=f"UA-{user}", profile_id=user):
            await asyncio.sleep(0.01)
            await asyncio.gather(asyncio.create_task(child()), asyncio.to_thread(in_thread))

    async def child() -> None:
        client.track("from_task")

    def in_thread() -> None:
        client.track("from_thread")

    await asyncio.gather(handle("a", "203.0.113.1"), handle("b", "203.0.113.2"))
    assert await client.flush(5)
    seen = {(e["payload"]["name"], e["payload"]["profileId"], e["ip"]) for e in sink.events}
    assert seen == {
        ("from_task", "a", "203.0.113.1"),
        ("from_thread", "a", "203.0.113.1"),
        ("from_task", "b", "203.0.113.2"),
        ("from_thread", "b", "203.0.113.2"),
    }
    await client.shutdown()


async def test_retries_and_reports(sink: Sink) -> None:
    calls: list[int] = []

    def hook(request: WRequest, received: Any) -> WResponse | None:
        calls.append(1)
        if len(calls) <= 2:
            return WResponse("down", status=503)
        if received.events[0]["payload"]["name"] == "refused":
            return WResponse("no", status=400)
        return None

    sink.hook = hook
    reported: list[Exception] = []
    client = make(sink, on_error=lambda exc, items: reported.append(exc))
    client.track("ok")
    assert await client.flush(5)
    client.track("refused")
    assert await client.flush(5)
    assert client.stats.delivered == 1
    assert client.stats.retried == 2
    assert len(reported) == 1 and isinstance(reported[0], HTTPStatusError)
    await client.shutdown()


async def test_track_from_a_foreign_thread_wakes_the_loop(sink: Sink) -> None:
    client = make(sink, flush_at=1, flush_interval=30)
    client.track("first")  # starts the sender on this loop
    t = threading.Thread(target=lambda: client.track("from_thread"))
    t.start()
    t.join()
    for _ in range(200):
        if len(sink.events) >= 2:
            break
        await asyncio.sleep(0.01)
    assert {e["payload"]["name"] for e in sink.events} == {"first", "from_thread"}
    await client.shutdown()


async def test_sync_mode_sends_on_flush(sink: Sink) -> None:
    client = make(sink, sync_mode=True)
    client.track("x")
    assert await client.flush(5)
    assert [e["payload"]["name"] for e in sink.events] == ["x"]
    await client.shutdown()


def test_queued_without_a_loop_then_drained_at_exit(sink: Sink) -> None:
    client = make(sink)
    client.track("no_loop")  # no running loop: waits in the queue
    assert sink.events == []
    client._drain_blocking(5)  # pyright: ignore[reportPrivateUsage] - what atexit runs
    assert [e["payload"]["name"] for e in sink.events] == ["no_loop"]


async def test_steady_load_on_the_loop_keeps_batches_full() -> None:
    """Calls made on the sender's own loop (an ASGI app) do not leave one request each.

    While a job waits for a free send slot, the calls queued meanwhile wait for the next
    wake-up instead of trickling out as tiny batches.
    """
    from openpanel_core.testing import AsyncRecordingTransport

    transport = AsyncRecordingTransport()
    client = AsyncOpenPanel(
        CLIENT_ID, transport=transport, flush_at=50, flush_interval=5, max_in_flight=2
    )
    for i in range(1000):
        client.track("steady", {"i": i})
        await asyncio.sleep(0)  # a request handler yielding to the loop
    assert await client.flush(10)
    await client.shutdown(5)
    assert len(transport.events) == 1000
    requests = len(transport.requests)
    assert requests <= 1000 // 50 + 5, f"{requests} requests for 1000 events"
