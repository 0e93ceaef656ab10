"""Large batches prepared in ingestion worker processes: same records, no loss when one dies."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import pickle
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, make_geo_db, start_server

from openpanel_server._auth import Caller
from openpanel_server._batch import BatchContext, BodyError, Outcome, error_result, triage
from openpanel_server._batch_pool import prepare_body
from openpanel_server._geo import GeoLookup
from openpanel_server._ingest import IngestError, Ingestor, PreparedTrack, RequestInfo, Result
from openpanel_server._meta import Client, Project
from openpanel_server._normalize import session_id
from openpanel_server._sessions import SessionTracker

SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def mixed_items(prefix: str, count: int) -> list[Any]:
    """Browser and server tracks, identifies, refused and odd items, in one order."""
    items: list[Any] = []
    for i in range(count):
        rid = f"{prefix}-{i}"
        shape = i % 10
        if shape == 0:
            items.append(
                {
                    "id": rid,
                    "type": "identify",
                    "payload": {
                        "profileId": f"u{i % 7}",
                        "firstName": "Ada",
                        "properties": {"plan": "pro"},
                    },
                }
            )
        elif shape == 1:
            items.append({"id": rid, "type": "track", "payload": {"name": ""}})  # refused: 400
        elif shape == 2:
            items.append(
                {"id": rid, "type": "track", "userAgent": "Googlebot/2.1", "payload": {"name": "x"}}
            )  # a bot: 202
        elif shape == 3:
            items.append(
                {
                    "id": rid,
                    "type": "track",
                    "payload": {"name": "revenue", "properties": {"__revenue": 100}},
                }
            )  # no secret: 401
        elif shape == 4:
            items.append({"id": rid, "type": "track", "payload": {"name": "/wp-admin/setup.php"}})
        else:
            items.append(
                {
                    "id": rid,
                    "type": "track",
                    "ip": f"203.0.113.{i % 5}",
                    "userAgent": SAFARI if i % 2 else "my-backend/1.0",
                    "payload": {
                        "name": "screen_view" if i % 3 else "purchase",
                        "profileId": f"u{i % 7}" if i % 4 == 0 else None,
                        "properties": {
                            "__path": f"https://shop.example/p/{i % 9}?utm_source=news#top",
                            "__referrer": "https://www.google.com/search?q=x",
                            "n": i,
                            "nested": {"a": [1, {"b": True}], "s": " trimmed "},
                            "__timestamp": (NOW - dt.timedelta(seconds=count - i)).isoformat(),
                        },
                    },
                }
            )
            if items[-1]["payload"]["profileId"] is None:
                del items[-1]["payload"]["profileId"]
    return items


def context(project_id: str, *, trusted: bool = False) -> BatchContext:
    return BatchContext(
        project_id=project_id,
        trusted=trusted,
        revenue_allowed=trusted,
        salt="salt-of-the-day",
        request=RequestInfo(
            "198.51.100.9", "python-httpx/0.28", "python", "1.0", NOW, NOW.timestamp()
        ),
    )


def commit(ingestor: Ingestor, caller: Caller, outcomes: list[Outcome]) -> list[Any]:
    """What the owner does with outcomes, minus the log: results and records, in order."""
    out: list[Any] = []
    for entry in outcomes:
        if entry[0] == "done":
            out.append(entry[1])
            continue
        _, rid, req, item = entry
        try:
            if isinstance(item, PreparedTrack):
                result: Result = ingestor.commit_track(item, req)
            else:
                result = ingestor.process(item, caller, req, rid)
        except IngestError as exc:  # as the app answers it
            out.append(error_result(rid, exc))
            continue
        records = [
            (kind, row if isinstance(row, bytes) else dict(row)) for kind, row in result.records
        ]
        for _, row in records:  # random ids (session_start) differ by nature
            if isinstance(row, dict) and row.get("name") == "session_start":
                row["id"] = "<random>"
        out.append((result.device_id, result.session_id, records))
    return out


def test_a_worker_prepared_batch_commits_exactly_like_an_in_process_one(tmp_path: Path) -> None:
    geo = GeoLookup(make_geo_db(tmp_path / "geo.mmdb"))
    project = Project(id="p1", name="P", cors=(), allow_unsafe_revenue=False)
    client = Client(id="c", project_id="p1", name="c", type="write", has_secret=True, revoked=False)
    caller = Caller(client=client, project=project, secret_verified=False)
    data = mixed_items("a", 300)
    ctx = context("p1")

    def ingestor() -> Ingestor:
        tracker = SessionTracker(1_800_000, lambda p, d, ms: session_id(p, d, ms, 1_800_000))
        return Ingestor(tracker, lambda: ("salt-of-the-day", "old"), geo.lookup)

    in_process = triage(json.loads(json.dumps(data)), ctx)
    body = gzip.compress(json.dumps(data).encode())
    # As a worker does it, and through pickle as the results cross the process boundary.
    from openpanel_server import _batch_pool

    _batch_pool._geo = geo.lookup  # pyright: ignore[reportPrivateUsage]
    try:
        prepared = pickle.loads(pickle.dumps(prepare_body(body, True, 1 << 20, ctx)))
    finally:
        _batch_pool._geo = None  # pyright: ignore[reportPrivateUsage]
    assert sum(isinstance(e[-1], PreparedTrack) for e in prepared if e[0] == "item") == 150
    assert not any(isinstance(e[-1], PreparedTrack) for e in in_process if e[0] == "item")
    expected = commit(ingestor(), caller, in_process)
    assert commit(ingestor(), caller, prepared) == expected
    statuses: list[int] = [r["status"] for r in expected if isinstance(r, dict)]
    assert statuses.count(400) == 60 and statuses.count(202) == 30 and statuses.count(401) == 30
    geo.close()


def test_body_errors_cross_the_process_boundary() -> None:
    ctx = context("p1")
    for body, gz, status, message in [
        (b"not json", False, 400, "body is not valid JSON"),
        (b"{}", False, 400, "body must be a non-empty JSON array"),
        (b"\x1f\x8bjunk", True, 400, "body is not valid gzip"),
        (gzip.compress(b"[" + b" " * 5000 + b"]"), True, 413, "body is over 1000 bytes"),
    ]:
        with pytest.raises(BodyError) as caught:
            prepare_body(body, gz, 1000, ctx)
        again = pickle.loads(pickle.dumps(caught.value))
        assert (again.status, again.message) == (status, message)


# ------------------------------------------------------------------ the real server


def children(pid: int) -> dict[int, str]:
    """Child process ids of ``pid`` and their command lines."""
    out: dict[int, str] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            with contextlib.suppress(OSError):
                out[int(kid)] = Path(f"/proc/{kid}/cmdline").read_text().replace("\0", " ")
    return out


def workers(pid: int) -> list[int]:
    return sorted(k for k, cmd in children(pid).items() if "spawn_main" in cmd)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(
        tmp_path_factory.mktemp("pooled"), env={"OPENPANEL_SERVER_INGEST_WORKERS": "1"}
    )
    try:
        yield server
    finally:
        server.stop()


def big_batch(prefix: str, count: int = 1200) -> bytes:
    items = [
        {
            "id": f"{prefix}-{i}",
            "type": "track",
            "ip": "203.0.113.7",
            "userAgent": SAFARI,
            "payload": {"name": "screen_view", "properties": {"__path": f"/p/{i % 50}", "i": i}},
        }
        for i in range(count)
    ]
    return gzip.compress(json.dumps(items).encode())


def post(server: RunningServer, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/track/batch",
        content=body,
        headers={
            "openpanel-client-id": server.client_id,
            "openpanel-client-secret": server.secret,
            "content-type": "application/json",
            "content-encoding": "gzip",
        },
        timeout=30,
    )


def until_a_worker_prepares(server: RunningServer, prefix: str) -> tuple[int, int]:
    """Send big batches until a worker's CPU time shows it prepared them; (worker pid, sent).

    An idle worker waits on its queue and uses no CPU at all, so 20 ms over three batches
    (each about 15 ms of a worker's time) can only be their preparation.
    """
    deadline = time.monotonic() + 60
    sent = 0
    while time.monotonic() < deadline:
        found = workers(server.proc.pid)
        before = {pid: cpu_ticks(pid) for pid in found}
        for _ in range(3):
            r = post(server, big_batch(f"{prefix}{sent}"))
            assert r.status_code == 200
            assert {x["status"] for x in r.json()["results"]} == {200}
            sent += 1
        for pid, ticks in before.items():
            if cpu_ticks(pid) - ticks >= 2:
                return pid, sent
        time.sleep(0.2)
    raise AssertionError("no worker process prepared a batch")


def total(server: RunningServer) -> int:
    count: int = server.events(event="screen_view", limit=1)["meta"]["totalCount"]
    return count


def stored_ids(server: RunningServer) -> set[str]:
    ids: set[str] = set()
    page = 1
    while True:
        data = server.events(event="screen_view", limit=1000, page=page)["data"]
        ids.update(str(e["id"]) for e in data)
        if len(data) < 1000:
            return ids
        page += 1


def test_large_batches_go_to_a_worker_and_every_item_is_stored(pooled: RunningServer) -> None:
    assert workers(pooled.proc.pid) == []  # started on the first large batch only
    small = post(pooled, gzip.compress(b'[{"id":"s-1","type":"track","payload":{"name":"x"}}]'))
    assert small.status_code == 200
    assert workers(pooled.proc.pid) == []
    first = total(pooled)
    _, sent = until_a_worker_prepares(pooled, "w")
    assert total(pooled) == first + sent * 1200
    # A retried batch is stored once, whichever process prepared it.
    assert post(pooled, big_batch("w0")).status_code == 200
    assert total(pooled) == first + sent * 1200


def test_a_body_refused_in_a_worker_gets_the_same_answer(pooled: RunningServer) -> None:
    until_a_worker_prepares(pooled, "b")
    bad = gzip.compress(
        json.dumps([{"id": f"x{i}", "padding": "." * 60} for i in range(900)]).encode()
    )
    r = post(pooled, bad)
    assert r.status_code == 200  # valid JSON: each item refused on its own
    assert {x["status"] for x in r.json()["results"]} == {400}
    broken = gzip.compress(b"{" * 70_000)
    r = post(pooled, broken)
    assert r.status_code == 400
    in_process = post(pooled, gzip.compress(b"{" * 10))  # too small for a worker
    assert in_process.status_code == 400
    assert r.json() == in_process.json()
    assert "body is not valid JSON" in r.json()["message"]


def test_a_killed_worker_loses_nothing_and_is_replaced(pooled: RunningServer) -> None:
    pid, _ = until_a_worker_prepares(pooled, "k")
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    r = post(pooled, big_batch("killed"))
    assert r.status_code == 200
    assert {x["status"] for x in r.json()["results"]} == {200}
    new_pid, _ = until_a_worker_prepares(pooled, "after")
    assert new_pid != pid
    assert {f"killed-{i}" for i in range(1200)} <= stored_ids(pooled)


def test_no_workers_when_turned_off(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"OPENPANEL_SERVER_INGEST_WORKERS": "0"})
    try:
        for n in range(3):
            assert post(server, big_batch(f"off{n}")).status_code == 200
        assert workers(server.proc.pid) == []
    finally:
        server.stop()


# ------------------------------------------------------------------ idempotency edge cases


def test_an_id_twice_in_one_batch_is_stored_once_and_answered_at_once(
    pooled: RunningServer,
) -> None:
    item = {"id": "twice-1", "type": "track", "payload": {"name": "twice"}}
    other = {"id": "twice-2", "type": "track", "payload": {"name": "twice"}}
    small = gzip.compress(json.dumps([item, other, item]).encode())
    started = time.monotonic()
    r = post(pooled, small)
    assert time.monotonic() - started < 10
    assert [x["status"] for x in r.json()["results"]] == [200, 200, 200]
    # The same through a worker: a large body with every id twice.
    items = [
        {"id": f"dup-{i % 600}", "type": "track", "payload": {"name": "twice"}} for i in range(1200)
    ]
    until_a_worker_prepares(pooled, "dupwarm")
    r = post(pooled, gzip.compress(json.dumps(items).encode()))
    assert {x["status"] for x in r.json()["results"]} == {200}
    assert pooled.events(event="twice", limit=1)["meta"]["totalCount"] == 2 + 600


def test_old_events_sent_again_after_a_restart_are_stored_once(tmp_path: Path) -> None:
    """Ids are remembered for two days before a start; older events are checked in the store."""
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    items = [
        {
            "id": f"import-{i}",
            "type": "track",
            "payload": {"name": "imported", "properties": {"__timestamp": old.isoformat(), "i": i}},
        }
        for i in range(50)
    ]
    body = gzip.compress(json.dumps(items).encode())
    server = start_server(tmp_path / "data")
    try:
        assert {x["status"] for x in post(server, body).json()["results"]} == {200}
        assert server.events(event="imported", limit=1)["meta"]["totalCount"] == 50
    finally:
        server.stop()
    server = start_server(tmp_path / "data")
    try:
        assert {x["status"] for x in post(server, body).json()["results"]} == {200}
        assert server.events(event="imported", limit=1)["meta"]["totalCount"] == 50
    finally:
        server.stop()


def test_workers_die_with_the_server_even_on_kill_9(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"OPENPANEL_SERVER_INGEST_WORKERS": "1"})
    try:
        pid, _ = until_a_worker_prepares(server, "orphan")
        server.proc.kill()  # SIGKILL: no shutdown code runs in the server
        server.proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        alive = (
            Path(f"/proc/{pid}/stat").exists()
            and " Z " not in Path(f"/proc/{pid}/stat").read_text()
        )
        assert not alive, "the worker outlived its server"
    finally:
        server.stop()
