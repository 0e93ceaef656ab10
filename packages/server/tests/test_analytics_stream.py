"""The realtime event stream (GET /api/analytics/realtime/stream) against the real server."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import anyio
import httpx
import pytest
from server_helpers import RunningServer, start_server

from openpanel_core import OpenPanel
from openpanel_server._meta import MetaStore
from openpanel_server._realtime_stream import (
    MAX_STREAMS_PER_PROJECT,
    RealtimeStreams,
    StreamResponse,
)

PATH = "/api/analytics/realtime/stream"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("stream"))
    try:
        yield running
    finally:
        running.stop()


def track(server: RunningServer, *names: str) -> None:
    op = OpenPanel(server.client_id, server.secret, api_url=server.url, flush_interval=0.02)
    for name in names:
        op.track(name, {"__path": "https://shop.test/live"}, profile_id="u-live")
    assert op.flush(10)
    op.shutdown()


class Events:
    """Reads ``event:``/``data:`` blocks from a streaming response, with arrival times."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.comments: list[str] = []

    def next(self) -> tuple[str, dict[str, Any], float]:
        event, data = "", ""
        for line in self.lines:
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif line == "" and event:
                return event, json.loads(data), time.monotonic()
        raise EOFError


@contextlib.contextmanager
def stream(
    server: RunningServer, headers: dict[str, str] | None = None, **params: Any
) -> Generator[httpx.Response]:
    with (
        httpx.Client(timeout=httpx.Timeout(30)) as client,
        client.stream(
            "GET",
            f"{server.url}{PATH}",
            params=params,
            headers=server.read_headers() if headers is None else headers,
        ) as response,
    ):
        yield response


def test_events_arrive_at_once_then_every_interval(server: RunningServer) -> None:
    track(server, "screen_view")
    started = time.monotonic()
    with stream(server, minutes=30, interval=1) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = Events(response)
        name, first, at = events.next()
        assert name == "realtime"
        assert at - started < 5  # the first one does not wait for the interval
        polled = httpx.post(
            f"{server.url}/api/analytics/realtime",
            json={"minutes": 30},
            headers=server.read_headers(),
            timeout=30,
        ).json()
        assert first.keys() == polled.keys()  # the realtime query's response model
        assert len(first["minutes"]) == len(polled["minutes"])
        before = first["events"]
        assert before >= 1
        track(server, "purchase", "purchase")
        times = [at]
        seen = before
        for _ in range(6):
            name, data, at = events.next()
            assert name == "realtime"
            times.append(at)
            seen = data["events"]
            if seen >= before + 2:
                break
        assert seen >= before + 2  # the new events show up in a later event
        gaps = [b - a for a, b in itertools.pairwise(times[1:])]
        assert all(0.8 < gap < 6 for gap in gaps), gaps


def drain(events: Events, most: int) -> None:
    for _ in range(most):
        events.next()


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    return [f["field"] for f in r.json()["fields"]]


def test_bad_parameters_and_credentials(server: RunningServer) -> None:
    def get(**params: Any) -> httpx.Response:
        return httpx.get(f"{server.url}{PATH}", params=params, headers=server.read_headers())

    assert fields(get(interval=0)) == ["interval"]
    assert fields(get(interval=61)) == ["interval"]
    assert fields(get(minutes="soon")) == ["minutes"]
    assert fields(get(minutes=0, interval="x")) == ["minutes", "interval"]
    bad = json.dumps([{"name": "path", "operator": "like", "value": ["/"]}])
    assert fields(get(filters=bad)) == ["filters.0.operator"]
    unknown = json.dumps([{"name": "cohort", "operator": "inCohort", "value": ["coh_x"]}])
    assert fields(get(filters=unknown)) == ["filters.0.value.0"]
    assert fields(get(filters="[nope")) == ["body"]
    assert httpx.get(f"{server.url}{PATH}").status_code == 401
    r = httpx.get(f"{server.url}{PATH}", headers=server.server_headers())
    assert r.status_code == 401
    assert "not allowed" in r.json()["message"]


def test_filters_apply_to_the_stream(server: RunningServer) -> None:
    track(server, "screen_view")
    only = json.dumps([{"name": "name", "operator": "is", "value": ["no-such-event"]}])
    with stream(server, interval=60, filters=only) as response:
        _, data, _ = Events(response).next()
    assert data["events"] == 0
    with stream(server, interval=60) as response:
        _, data, _ = Events(response).next()
    assert data["events"] >= 1


def test_streams_per_project_are_capped_and_freed_on_disconnect(server: RunningServer) -> None:
    with contextlib.ExitStack() as stack:
        # Keep the readers: dropping one closes its line iterator and with it the connection.
        readers: list[Events] = []
        for _ in range(MAX_STREAMS_PER_PROJECT):
            response = stack.enter_context(stream(server, interval=60))
            assert response.status_code == 200
            readers.append(Events(response))
            readers[-1].next()
        r = httpx.get(f"{server.url}{PATH}", headers=server.read_headers(), timeout=30)
        assert r.status_code == 429
        assert "open realtime streams" in r.json()["message"]
    # The clients went away: their slots come back.
    deadline = time.monotonic() + 10
    while True:
        with stream(server, interval=60) as response:
            if response.status_code == 200:
                break
        assert time.monotonic() < deadline, "the closed streams kept their slots"
        time.sleep(0.2)
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_STREAMS_PER_PROJECT):
            response = stack.enter_context(stream(server, interval=60))
            assert response.status_code == 200
            readers.append(Events(response))
            readers[-1].next()


def test_a_revoked_client_stream_ends(server: RunningServer) -> None:
    meta = MetaStore(server.data_dir / "meta.db")
    try:
        client, secret = meta.create_client(server.creds["projectId"], "short", type="read")
        headers = {"openpanel-client-id": client.id, "openpanel-client-secret": secret or ""}
        with stream(server, headers, interval=1) as response:
            events = Events(response)
            events.next()
            assert meta.revoke_client(client.id)
            started = time.monotonic()
            with pytest.raises(EOFError):  # the server's client cache lives 5 s
                drain(events, 20)
            assert time.monotonic() - started < 10
    finally:
        meta.close()


def test_server_shutdown_ends_open_streams(tmp_path_factory: pytest.TempPathFactory) -> None:
    running = start_server(tmp_path_factory.mktemp("stream-stop"))
    try:
        with stream(running, interval=60) as response:
            events = Events(response)
            events.next()
            started = time.monotonic()
            running.proc.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                events.next()
            assert time.monotonic() - started < 5
        running.proc.wait(10)  # uvicorn did not wait for the stream
        assert time.monotonic() - started < 10
        out = running.proc.stdout.read() if running.proc.stdout else ""
        assert "Traceback" not in out
    finally:
        running.stop()


@pytest.mark.parametrize("how", ["disconnect", "close"])
def test_a_stream_stops_without_leaking_its_worker(how: str) -> None:
    """In process: the query thread finishes before the stream returns, and the slot is freed."""
    streams = RealtimeStreams(per_project=1)
    calls: list[float] = []
    running = threading.Event()

    def produce() -> bytes:
        calls.append(time.monotonic())
        running.set()
        time.sleep(0.3)  # a slow query in flight when the stream stops
        return b"{}"

    response = StreamResponse(streams, "p", b"{}", produce, 0.05, lambda: True)
    sent: list[dict[str, Any]] = []
    stop = anyio.Event()

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await stop.wait()
        return {"type": "http.disconnect"}

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(
                response, {"type": "http", "asgi": {"spec_version": "2.4"}}, receive, send
            )
            await anyio.to_thread.run_sync(running.wait)
            assert streams.open_count("p") == 1
            if how == "disconnect":
                stop.set()
            else:
                streams.close()
        assert streams.open_count("p") == 0

    threads = threading.active_count()
    anyio.run(main)
    assert len(calls) == 1
    ended = time.monotonic()
    time.sleep(0.1)
    assert len(calls) == 1  # nothing runs after the stream returned
    assert ended - calls[0] >= 0.29  # it waited for the query in flight
    assert threading.active_count() <= threads + 2  # idle anyio workers (the query, the wait)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies[0]["body"] == b"event: realtime\ndata: {}\n\n"
    if how == "close":
        assert streams.closed
        assert not streams.acquire("p")  # no new stream after shutdown


@pytest.mark.parametrize("failure", ["write", "query"])
def test_a_failing_write_or_query_ends_the_stream(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    streams = RealtimeStreams()
    produced: list[int] = []

    def produce() -> bytes:
        produced.append(1)
        if failure == "query":
            raise RuntimeError("engine down")
        return b"{}"

    response = StreamResponse(streams, "p", b"{}", produce, 0.01, lambda: True)
    bodies: list[bytes] = []

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            if failure == "write" and len(bodies) == 2:
                raise OSError("client went away")  # what ASGI 2.4 servers raise
            bodies.append(message["body"])

    async def receive() -> Any:
        await anyio.sleep(60)
        return {"type": "http.disconnect"}

    anyio.run(response, {"type": "http"}, receive, send)
    assert streams.open_count("p") == 0
    if failure == "write":
        assert len(bodies) == 2
        assert len(produced) == 2  # the third event was made, and its write failed
    else:
        assert produced == [1]
        assert bodies == [b"event: realtime\ndata: {}\n\n", b""]  # then the end of the body
        assert "realtime stream of project p stopped" in caplog.text
