"""The client across process boundaries, against a real local HTTP server.

Child processes run the scripts in ``procs/`` (exit drain, fork, a SIGKILLed spool, sync_mode);
the server here records every event id it was sent and every id it accepted, so the tests can
count exactly what arrived, what arrived twice and what never did.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import os
import random
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import pytest

from openpanel_core import AsyncOpenPanel, OpenPanel
from openpanel_core._retry import RetryPolicy

PROCS = Path(__file__).parent / "procs"
CLIENT_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
#: Retry fast in tests (the default first backoff is 0.5 s).
FAST_RETRY = RetryPolicy(initial_delay=0.01, max_delay=0.05, max_retries=20)

#: What the server does with a request (path, items): an HTTP status, or None to close the
#: connection without answering.
Decide = Callable[[str, "list[dict[str, Any]]"], "int | None"]


# ---------------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class Hit:
    """One request the server read."""

    path: str
    headers: dict[str, str]
    items: list[dict[str, Any]]
    #: The HTTP status answered, None when the connection was closed without an answer.
    status: int | None


@dataclass
class EventServer:
    """An OpenPanel-like ingestion endpoint on ``127.0.0.1:<free port>``.

    ``POST /track/batch`` takes a (gzipped) JSON array of items with an ``id`` each and answers
    ``200 {"results": [{"id", "status"}]}``; ``POST /track`` takes one item whose id is in the
    ``openpanel-event-id`` header. ``GET /_seen`` answers ``{"accepted": n, "received": m}``
    (items accepted, POST requests read so far).

    Attributes:
        delay: Seconds to wait before answering each POST.
        decide: Called per POST with the path and the items; returns the status to answer
            (2xx: accept) or None to close the connection without answering. Default: 200.
        item_status: Called per item of an accepted batch; its status goes in ``results``.
        batch: False answers 404 to ``/track/batch``, as a stock OpenPanel server does.
    """

    delay: float = 0.0
    decide: Decide | None = None
    item_status: Callable[[dict[str, Any]], int] | None = None
    batch: bool = True
    hits: list[Hit] = field(default_factory=list[Hit])
    #: Items answered with a 2xx (per item for batches), in arrival order, duplicates included.
    accepted: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    #: POST requests read (counted before the answer is decided).
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> EventServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- views

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return [str(i["id"]) for i in self.accepted]

    def sent_ids(self) -> list[str]:
        """Every id the server read, whatever it answered (retries included)."""
        with self.lock:
            return [str(i["id"]) for h in self.hits for i in h.items]

    def hits_on(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def accepted_props(self) -> list[dict[str, Any]]:
        with self.lock:
            return [cast("dict[str, Any]", i["payload"]["properties"]) for i in self.accepted]

    # -- request handling (on the server's threads)

    def handle_post(self, h: _Handler) -> None:
        body = h.rfile.read(int(h.headers.get("content-length") or 0))
        with self.lock:
            self.received += 1
        headers = {k.lower(): str(v) for k, v in h.headers.items()}
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        data: Any = json.loads(body)
        if h.path == "/track/batch":
            items = cast("list[dict[str, Any]]", data)
        elif h.path == "/track":
            items = [{**cast("dict[str, Any]", data), "id": headers.get("openpanel-event-id")}]
        else:
            items = []
        if self.delay:
            time.sleep(self.delay)
        if h.path == "/track/batch" and not self.batch:
            status: int | None = 404
        elif self.decide is not None:
            status = self.decide(h.path, items)
        else:
            status = 200
        if h.path not in ("/track", "/track/batch"):
            status = 404
        answer = b'{"error":"nope"}'
        with self.lock:
            self.hits.append(Hit(h.path, headers, items, status))
            if status is not None and 200 <= status < 300:
                results: list[dict[str, Any]] = []
                for item in items:
                    s = self.item_status(item) if self.item_status else 200
                    results.append({"id": item["id"], "status": s})
                    if 200 <= s < 300:
                        self.accepted.append(item)
                answer = (
                    json.dumps({"results": results}).encode()
                    if h.path == "/track/batch"
                    else b'{"deviceId":"d","sessionId":"s"}'
                )
        if status is None:
            h.close_connection = True  # read the request, answer nothing, hang up
            return
        h.reply(status, answer)

    def handle_get(self, h: _Handler) -> None:
        if h.path == "/_seen":
            with self.lock:
                seen = {"accepted": len(self.accepted), "received": self.received}
            h.reply(200, json.dumps(seen).encode())
        else:
            h.reply(404, b"{}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: EventServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (resets, the drops we provoke) are not errors here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server
    timeout = 5  # idle keep-alive connections are closed eventually

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK cost 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _owner(self) -> EventServer:
        return cast("_Server", self.server).owner

    def do_POST(self) -> None:
        self._owner().handle_post(self)

    def do_GET(self) -> None:
        self._owner().handle_get(self)

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class RefuseFirstAttempts:
    """``decide`` hook: 503 to a request carrying any id not seen before, 200 to retries."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, path: str, items: list[dict[str, Any]]) -> int:
        ids = {str(i["id"]) for i in items}
        with self.lock:
            new = not ids <= self.seen
            self.seen |= ids
        return 503 if new else 200


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL whose port refuses connections (bound, never listening, kept for the test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


# ---------------------------------------------------------------------------------- children


def child_env() -> dict[str, str]:
    """The environment of a production process: no pytest markers, no OPENPANEL_* settings.

    (``PYTEST_CURRENT_TEST`` would make the SDK re-raise its internal errors.)
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENPANEL_"))}


def run_child(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROCS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [cast("dict[str, Any]", json.loads(line)) for line in text.splitlines() if line]


def exit_seconds(stamp: Path, ended: float) -> float:
    """Seconds from the script's last statement to the parent seeing the process gone."""
    return ended - float(stamp.read_text())


# ---------------------------------------------------------------------------------- 1, 2: exit


@pytest.mark.parametrize("server_kind", ["slow", "slow-and-refusing-first-attempts"])
def test_exit_drain_delivers_everything_from_a_script_that_never_flushes(
    tmp_path: Path, server_kind: str
) -> None:
    stamp = tmp_path / "stamp"
    decide = RefuseFirstAttempts() if server_kind != "slow" else None
    with EventServer(delay=0.1, decide=decide) as server:
        proc = run_child("track_exit.py", server.url, "1234", str(stamp), timeout=30)
        ended = time.monotonic()
        ids = server.accepted_ids()
        props = server.accepted_props()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""
    assert len(ids) == 1234
    assert len(set(ids)) == 1234
    assert sorted(p["n"] for p in props) == list(range(1234))
    # shutdown_timeout defaults to 2 s; the rest is interpreter teardown.
    assert exit_seconds(stamp, ended) < 2.0 + 1.5


def test_exit_with_unreachable_server_is_bounded_and_quiet(
    tmp_path: Path, refused_url: str
) -> None:
    stamp = tmp_path / "stamp"
    t0 = time.monotonic()
    proc = run_child("track_exit.py", refused_url, "1234", str(stamp), timeout=30)
    ended = time.monotonic()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) <= 2, proc.stderr
    assert all("openpanel" in line for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    assert exit_seconds(stamp, ended) < 2.0 + 1.5  # shutdown_timeout defaults to 2 s
    assert ended - t0 < 2.0 + 6.0  # interpreter start and imports included


@pytest.mark.parametrize(
    "mode",
    [
        "noloop",
        "queued",
        # Delivery tasks cancelled as the loop closes hand their items back to the exit drain.
        "inflight",
    ],
)
def test_async_exit_drain_sends_what_the_script_left(mode: str) -> None:
    # Every event's first attempt gets a 503: "inflight" closes the loop during the backoff.
    with EventServer(delay=0.05, decide=RefuseFirstAttempts()) as server:
        proc = run_child("async_exit.py", server.url, mode, "1234", timeout=30)
        ids = server.accepted_ids()
        props = server.accepted_props()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""
    assert len(set(ids)) == len(ids)
    assert sorted(p["n"] for p in props) == list(range(1234))


# ---------------------------------------------------------------------------------- 3: fork


@functools.cache
def getaddrinfo_imports_idna() -> bool:
    """Whether ``socket.getaddrinfo`` with a str host imports ``encodings.idna`` here."""
    code = (
        "import socket, sys; socket.getaddrinfo('127.0.0.1', 80); "
        "print('encodings.idna' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    return out.stdout.strip() == "True"


@dataclass(frozen=True)
class ForkRun:
    child: dict[str, Any]
    parent: dict[str, Any]
    #: (who, n) of every accepted event, with how often it was accepted.
    by_who: Counter[tuple[str, int]]
    #: Accepted event ids per side.
    ids: dict[str, list[str]]


def run_fork(mode: str, delay: float) -> ForkRun:
    """Run ``procs/fork_tracker.py`` in ``mode`` against a server answering after ``delay``."""
    with EventServer(delay=delay) as server:
        proc = run_child("fork_tracker.py", server.url, mode, timeout=45)
        with server.lock:
            accepted = list(server.accepted)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stderr == ""
    reports = {r["who"]: r for r in json_lines(proc.stdout)}
    assert set(reports) == {"child", "parent"}, proc.stdout
    by_who: Counter[tuple[str, int]] = Counter()
    ids: dict[str, list[str]] = {"child": [], "parent": []}
    for item in accepted:
        props = item["payload"]["properties"]
        by_who[props["who"], props["n"]] += 1
        ids[props["who"]].append(str(item["id"]))
    return ForkRun(reports["child"], reports["parent"], by_who, ids)


def check_fork(run: ForkRun) -> None:
    child, parent = run.child, run.parent
    assert child["resolve"] == "ok", child  # the child's own code is not stuck either
    assert child["flush"] is True, child
    assert child["flush_seconds"] < 5, child
    assert (child["queued"], child["in_flight"]) == (0, 0)
    assert child["internal_errors"] == []
    assert parent["child_exit"] == 0
    assert parent["flush"] is True, parent
    assert parent["internal_errors"] == []
    assert sorted(n for who, n in run.by_who if who == "child") == list(range(100))
    assert sorted(n for who, n in run.by_who if who == "parent") == list(
        range(parent["parent_events"])
    )
    assert set(run.by_who.values()) == {1}, [k for k, v in run.by_who.items() if v > 1]
    for side in ("child", "parent"):
        assert len(set(run.ids[side])) == len(run.ids[side]), f"{side} reused an id"


@pytest.mark.parametrize("mode", ["fresh", "queued", "inflight"])
def test_fork_child_and_parent_each_deliver_their_own_events_once(mode: str) -> None:
    run = run_fork(mode, delay=0.3 if mode == "inflight" else 0.02)
    check_fork(run)
    assert not set(run.ids["child"]) & set(run.ids["parent"])


def test_fork_child_and_parent_never_share_event_ids() -> None:
    run = run_fork("inflight", delay=0.3)  # the parent encoded (took ids) before forking
    check_fork(run)
    shared = set(run.ids["child"]) & set(run.ids["parent"])
    assert not shared, f"{len(shared)} ids used by both processes"


def test_fork_while_the_sender_imports_on_its_first_request() -> None:
    if not getaddrinfo_imports_idna():
        pytest.skip("this Python's getaddrinfo imports nothing for an ASCII host")
    check_fork(run_fork("importing", delay=0.02))


# ---------------------------------------------------------------------------------- 4: spool


@pytest.mark.parametrize("down", ["503", "refused"])
def test_spool_survives_sigkill_and_a_new_process_sends_it_once(
    tmp_path: Path, refused_url: str, down: str
) -> None:
    db = tmp_path / "spool.db"
    n = 500
    with EventServer(decide=lambda path, items: 503) as failing:
        url = failing.url if down == "503" else refused_url
        proc = subprocess.Popen(
            [sys.executable, str(PROCS / "spool_kill.py"), url, str(db), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        try:
            assert proc.stdout is not None
            readable, _, _ = select.select([proc.stdout], [], [], 25)
            line = proc.stdout.readline() if readable else "<nothing within 25 s>"
            assert line == "ready\n", line
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            _, err = proc.communicate()
        assert "Traceback" not in err, err
        tried = set(failing.sent_ids())
        assert failing.accepted_ids() == []

    with sqlite3.connect(db) as conn:
        left = {str(r[0]) for r in conn.execute("SELECT id FROM outbox")}
    conn.close()
    assert len(left) == n
    if down == "503":
        assert tried <= left, "ids the server saw are the ids kept (idempotency across restart)"
        assert tried

    with EventServer() as healthy:
        client = OpenPanel(CLIENT_ID, api_url=healthy.url, persist_path=db)
        try:
            assert client.stats.spooled == n
            assert client.flush(10) is True
            assert client.stats.spooled == 0
            assert client.stats.delivered == n
        finally:
            client.shutdown(5)
        ids = healthy.accepted_ids()
        props = healthy.accepted_props()
    assert Counter(ids) == Counter(left)  # exactly the spooled ids, each once
    assert sorted(p["n"] for p in props) == list(range(n))
    with sqlite3.connect(db) as conn:
        (remaining,) = conn.execute("SELECT count(*) FROM outbox").fetchone()
    conn.close()
    assert remaining == 0


# ---------------------------------------------------------------------------------- 5: sync_mode


def test_sync_mode_sends_before_track_returns() -> None:
    delay = 0.05
    with EventServer(delay=delay) as server:
        proc = run_child("sync_track.py", server.url, "5", timeout=30)
        ids = server.accepted_ids()
        hits = server.hits_on("/track")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = json_lines(proc.stdout)
    assert [(r["n"], r["seen"]) for r in lines] == [(i, i + 1) for i in range(5)]
    assert all(r["seconds"] >= delay for r in lines), lines  # track() waited for the answer
    assert len(ids) == len(set(ids)) == 5
    assert len(hits) == 5  # one single request per event, nothing left for the exit drain


# ---------------------------------------------------------------------------------- 6: flaky


@dataclass
class Flaky:
    """Seeded chaos: ~30% of requests fail (500, 503, or a hang-up), some batch items 503."""

    seed: int
    rng: random.Random = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def decide(self, path: str, items: list[dict[str, Any]]) -> int | None:
        with self.lock:
            r = self.rng.random()
        if r < 0.12:
            return 500
        if r < 0.22:
            return 503
        if r < 0.30:
            return None
        return 200

    def item_status(self, item: dict[str, Any]) -> int:
        with self.lock:
            return 503 if self.rng.random() < 0.05 else 200


def check_flaky_delivery(server: EventServer, n: int) -> None:
    accepted = server.accepted_ids()
    sent = server.sent_ids()
    with server.lock:
        hits = list(server.hits)
        unique = {str(i["id"]): i for i in server.accepted}.values()
    failed_hits = [h for h in hits if h.status is None or h.status >= 300]
    dupes = len(accepted) - len(set(accepted))
    print(
        f"flaky: {len(hits)} requests, {len(failed_hits)} failed, "
        f"{len(sent)} ids read, {len(accepted)} accepted, {dupes} accepted twice"
    )
    assert failed_hits, "the chaos server never failed: the test proves nothing"
    assert len(set(accepted)) == n
    assert sorted(i["payload"]["properties"]["n"] for i in unique) == list(range(n))
    assert dupes == 0, "an event the server had accepted was sent and accepted again"


def test_flaky_server_threaded_client_delivers_each_event_once() -> None:
    n = 2000
    chaos = Flaky(seed=1234)
    with EventServer(decide=chaos.decide, item_status=chaos.item_status) as server:
        client = OpenPanel(CLIENT_ID, api_url=server.url, max_batch_size=50, flush_interval=0.05)
        client.delivery.retry = FAST_RETRY
        try:
            for i in range(n):
                client.track("flaky", {"n": i})
            assert client.flush(30) is True
            stats = client.stats
        finally:
            client.shutdown(5)
        check_flaky_delivery(server, n)
    assert (stats.delivered, stats.failed, stats.queued, stats.in_flight) == (n, 0, 0, 0)
    assert stats.retried > 0


def test_flaky_server_async_client_delivers_each_event_once() -> None:
    n = 2000
    chaos = Flaky(seed=4321)

    async def main(url: str) -> tuple[bool, Any]:
        client = AsyncOpenPanel(CLIENT_ID, api_url=url, max_batch_size=50, flush_interval=0.05)
        client.delivery.retry = FAST_RETRY
        try:
            for i in range(n):
                client.track("flaky", {"n": i})
            ok = await client.flush(30)
            return ok, client.stats
        finally:
            await client.shutdown(5)

    with EventServer(decide=chaos.decide, item_status=chaos.item_status) as server:
        ok, stats = asyncio.run(main(server.url))
        check_flaky_delivery(server, n)
    assert ok is True
    assert (stats.delivered, stats.failed, stats.queued, stats.in_flight) == (n, 0, 0, 0)
    assert stats.retried > 0


# ---------------------------------------------------------------------------------- 7: fallback


def test_stock_server_without_batch_gets_single_sends_with_end_user_headers() -> None:
    ip, ua = "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
    with EventServer(batch=False) as server:
        client = OpenPanel(CLIENT_ID, api_url=server.url, flush_interval=0.05)
        try:
            with client.context(ip=ip, user_agent=ua):
                for i in range(60):
                    client.track("single", {"n": i})
            assert client.flush(10) is True
            batches_before = len(server.hits_on("/track/batch"))
            # Learned: later events go out as single sends without asking /track/batch again.
            with client.context(ip=ip, user_agent=ua):
                for i in range(60, 80):
                    client.track("single", {"n": i})
            assert client.flush(10) is True
            stats = client.stats
        finally:
            client.shutdown(5)
        singles = server.hits_on("/track")
        batches = server.hits_on("/track/batch")
    assert 1 <= batches_before <= 8  # one probe per concurrent job at most
    assert len(batches) == batches_before
    assert all(h.status == 404 for h in batches)
    assert len(singles) == 80
    ids = [h.headers.get("openpanel-event-id") for h in singles]
    assert None not in ids
    assert len(set(ids)) == 80
    for h in singles:
        assert h.status == 200
        assert h.headers.get("openpanel-client-ip") == ip
        assert h.headers.get("user-agent") == ua
        assert h.headers.get("openpanel-client-id") == CLIENT_ID
        assert "content-encoding" not in h.headers
        [item] = h.items
        assert item["type"] == "track"
        assert item["payload"]["name"] == "single"
    assert sorted(h.items[0]["payload"]["properties"]["n"] for h in singles) == list(range(80))
    # the ids the probes carried are the ids the single sends used (no new id on fallback)
    probed = {str(i["id"]) for h in batches for i in h.items}
    assert probed <= set(ids)
    assert (stats.delivered, stats.failed) == (80, 0)
