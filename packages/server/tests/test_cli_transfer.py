"""``openpanel-server export``, ``import`` and ``migrate`` as real processes on real servers."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
N_EVENTS = 2400
#: Properties the import adds to carry the device id and user-agent fields (``__os``...).
UA_KEYS = {
    "__deviceId",
    "__os",
    "__osVersion",
    "__browser",
    "__browserVersion",
    "__device",
    "__brand",
    "__model",
}


def cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "OPENPANEL_SERVER_", "OPENPANEL_CLIENT_"))
    }
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("timeout", 120)
    return subprocess.run(
        [sys.executable, "-m", "openpanel_server", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=environ,
        check=False,
        **kwargs,
    )


def read_creds(server: RunningServer) -> tuple[str, ...]:
    return ("--url", server.url, "--client-id", server.creds["readClientId"],
            "--client-secret", server.creds["readClientSecret"])  # fmt: skip


def write_creds(server: RunningServer) -> tuple[str, ...]:
    return ("--url", server.url, "--client-id", server.client_id,
            "--client-secret", server.secret)  # fmt: skip


def all_events(server: RunningServer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        data = server.events(
            limit=1000,
            page=page,
            includes="properties,origin,referrer,revenue,groups,osVersion,browserVersion",
        )
        out.extend(data["data"])
        if page >= data["meta"]["pages"]:
            return out
        page += 1


def comparable(event: dict[str, Any]) -> tuple[Any, ...]:
    props = {k: v for k, v in event["properties"].items() if k not in UA_KEYS}
    return (
        event["id"],
        event["name"],
        event["createdAt"],
        event["profileId"],
        event["deviceId"],
        event["sessionId"] != "",
        event["path"],
        event["origin"],
        event["referrer"],
        event["os"],
        event["browser"],
        event["revenue"],
        tuple(event["groups"]),
        tuple(sorted(props.items())),
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server holding a mix of events: backend ones, browser ones (with sessions), old ones."""
    running = start_server(tmp_path_factory.mktemp("cli-source"))
    try:
        now = datetime.now(timezone.utc)
        items: list[dict[str, Any]] = []
        for i in range(N_EVENTS):
            props: dict[str, Any] = {
                "n": i,
                "plan": "pro" if i % 2 else "free",
                "cart": {"items": i % 5},
            }
            item: dict[str, Any] = {"type": "track", "id": f"src-{i}"}
            if i % 3 == 0:  # a browser page view, in a session
                item["user_agent"] = BROWSER_UA
                item["ip"] = "203.0.113.7"
                props["__path"] = f"https://shop.example/p/{i % 7}?utm_source=news#top"
                props["__referrer"] = "https://news.example/article"
                name = "screen_view"
            elif i % 3 == 1:  # a backend event for a known user
                name = "signup"
            else:  # an old event (a backfill)
                props["__timestamp"] = (now - timedelta(days=3, minutes=i)).isoformat()
                name = "order_placed"
            payload: dict[str, Any] = {"name": name, "properties": props}
            if i % 3 == 1:
                payload["profileId"] = f"user-{i % 11}"
                payload["groups"] = ["acme"]
            item["payload"] = payload
            items.append(item)
        items.append(
            {"type": "track", "id": "rev-1",
             "payload": {"name": "revenue", "profileId": "user-1", "properties": {"__revenue": 1999}}}
        )  # fmt: skip
        for start in range(0, len(items), 1000):
            r = httpx.post(
                f"{running.url}/track/batch",
                json=items[start : start + 1000],
                headers={**running.server_headers(), "user-agent": "backend/1.0"},
                timeout=30,
            )
            r.raise_for_status()
            assert {x["status"] for x in r.json()["results"]} == {200}
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def exported(source: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cli-export") / "events.ndjson"
    out = cli("export", *read_creds(source), "-o", str(target), "--progress-interval", "0")
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    progress = [line for line in lines if line.startswith("export: ") and " rows, " in line]
    assert len(progress) >= 3, lines  # periodic plain lines (stderr is not a terminal)
    assert lines[-1].startswith("export: ") and f"-> {target}" in lines[-1]
    assert not list(target.parent.glob(".*partial"))
    return target


def test_export_writes_every_event_with_every_field(source: RunningServer, exported: Path) -> None:
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    stored = all_events(source)
    assert len(rows) == len(stored) > N_EVENTS  # with the server's session_start/session_end
    assert {r["id"] for r in rows} == {e["id"] for e in stored}
    first = next(r for r in rows if r["id"] == "src-0")
    assert first["properties"]["cart.items"] == "0"
    assert first["origin"] == "https://shop.example"
    assert first["browser"] == "Chrome"
    assert "sdkVersion" in first and "referrerName" in first
    assert next(r for r in rows if r["id"] == "rev-1")["revenue"] == 1999


def test_export_csv_with_filters(source: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "signups.csv"
    today = datetime.now(timezone.utc).date()
    out = cli(
        "export", *read_creds(source), "--format", "csv", "--event", "signup", "--start",
        (today - timedelta(days=1)).isoformat(), "--end", today.isoformat(), "-o", str(target),
        "--quiet",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # --quiet
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == N_EVENTS // 3
    assert {r["name"] for r in rows} == {"signup"}
    assert json.loads(rows[0]["properties"])["plan"] in ("pro", "free")


def test_export_progress_on_a_terminal_is_one_updating_line(
    source: RunningServer, tmp_path: Path
) -> None:
    leader, follower = pty.openpty()
    try:
        out = cli("export", *read_creds(source), "-o", str(tmp_path / "e.ndjson"), stderr=follower)
        os.close(follower)
        follower = -1
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the pty's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert out.returncode == 0
    text = b"".join(chunks).decode()
    assert "\rexport: " in text  # redrawn in place
    assert text.rstrip().splitlines()[-1].lstrip("\r ").startswith("export: ")
    assert text.count("\n") <= 2  # the summary line (the terminal may add a carriage return)


def test_import_round_trip_stores_each_event_once(
    source: RunningServer, exported: Path, tmp_path: Path
) -> None:
    target = start_server(tmp_path / "target")
    try:
        args = ("import", str(exported), *write_creds(target), "--batch-size", "500",
                "--progress-interval", "0")  # fmt: skip
        first = cli(*args)
        assert first.returncode == 0, first.stderr
        lines = first.stderr.splitlines()
        assert sum(" events sent (" in line for line in lines) >= 4  # periodic progress
        sessions = sum(
            1 for line in exported.read_text().splitlines() if '"name":"session_' in line
        )
        assert sessions > 0
        summary = lines[-1]
        assert f"sent {N_EVENTS + 1:,} events, accepted {N_EVENTS + 1:,}" in summary
        assert f"refused 0, skipped {sessions:,} session_start/session_end" in summary

        second = cli(*args[:-2], "--quiet")  # the same file again
        assert second.returncode == 0, second.stderr
        assert second.stderr == ""

        expected = {
            comparable(e) for e in all_events(source) if not e["name"].startswith("session_")
        }
        imported = all_events(target)
        own = [e for e in imported if not e["name"].startswith("session_")]
        assert len(own) == len(expected) == N_EVENTS + 1  # nothing twice
        assert {comparable(e) for e in own} == expected
        by_id = {e["id"]: e for e in own}
        assert (
            by_id["src-0"]["deviceId"]
            == next(e for e in all_events(source) if e["id"] == "src-0")["deviceId"]
        )
        # The target writes its own sessions for the recent browser events.
        assert any(e["name"] == "session_start" for e in imported)
    finally:
        target.stop()


def test_import_reports_refused_events_and_exits_1(source: RunningServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(
        '{"id": "ok-1", "name": "fine", "createdAt": "2026-01-02T03:04:05.000Z"}\n'
        "not json\n"
        '{"id": "bad-1", "name": "' + "x" * 90 + '"}\n'
        '{"meta": {}, "data": [{"id": "ok-2", "name": "paged"}]}\n'
        '{"id": "nameless"}\n'
        "\n"
    )
    out = cli("import", str(bad), *write_creds(source))
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert "sent 3 events, accepted 2 (new or stored before), refused 3" in lines[-5]
    assert "  refused 1: 400 payload.name:" in out.stderr
    assert "  refused 1: a line is not JSON" in out.stderr
    assert "  refused 1: not an event: no event name" in out.stderr
    assert lines[-1] == (
        "error: import: 3 events were refused (hint: see the reasons above; fix them and run the "
        "import again (accepted events are not stored twice))"
    )
    twice = tmp_path / "twice.ndjson"
    twice.write_text('{"id": "dup-1", "name": "twice"}\n' * 3)  # one id, one request each
    out = cli("import", str(twice), *write_creds(source), timeout=30)
    assert out.returncode == 0, out.stderr
    assert "sent 3 events, accepted 3" in out.stderr
    assert [e["id"] for e in source.events(event="twice")["data"]] == ["dup-1"]

    quiet = cli("import", str(bad), *write_creds(source), "--quiet")
    assert quiet.returncode == 1
    assert quiet.stderr.count("\n") == 1 and "rerun without --quiet" in quiet.stderr
    names = {e["name"] for e in source.events(event="fine")["data"]}
    assert names == {"fine"}


def test_migrate_a_fresh_and_an_up_to_date_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    fresh = cli("migrate", "--data-dir", str(data))
    assert fresh.returncode == 0, fresh.stderr
    lines = fresh.stderr.splitlines()
    assert "migrate: store (" in lines[0] and "3 pending: 1 initial_schema" in lines[0]
    for version, name in ((1, "initial_schema"), (2, "session_replay_chunks"),
                          (3, "session_replay_chunks_ttl")):  # fmt: skip
        assert any(line.startswith(f"migrate: store: applied {version} {name} (") for line in lines)
    assert any("metadata" in line and "applying 1, 2, 3" in line for line in lines)
    assert lines[-1].startswith("migrate: done: 6 migrations applied")

    again = cli("--data-dir", str(data), "migrate")
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[-1] == "migrate: up to date"
    assert "up to date (version 3)" in again.stderr
    assert cli("--data-dir", str(data), "migrate", "--quiet").stderr == ""


def test_import_waits_out_a_rate_limit(tmp_path: Path) -> None:
    limited = start_server(tmp_path / "limited", "--rate-limit", "5")  # bursts of 10 requests
    try:
        source = tmp_path / "events.ndjson"
        source.write_text(
            "".join(
                json.dumps({"id": f"rl-{i}", "name": "tick", "properties": {"i": str(i)}}) + "\n"
                for i in range(14)
            )
        )
        out = cli("import", str(source), *write_creds(limited), "--batch-size", "1",
                  "--progress-interval", "0")  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "server busy, retrying in 1.0 s" in out.stderr  # its Retry-After
        summary = out.stderr.splitlines()[-1]
        assert "sent 14 events, accepted 14 (new or stored before), refused 0, " in summary
        assert " retries in " in summary
        stored = limited.events(event="tick")["data"]
        assert sorted(e["id"] for e in stored) == sorted(f"rl-{i}" for i in range(14))
    finally:
        limited.stop()


def test_serve_flags_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from openpanel_server._cli import _settings, build_parser  # pyright: ignore[reportPrivateUsage]

    for name in [k for k in os.environ if k.startswith("OPENPANEL_SERVER_")]:
        monkeypatch.delenv(name)
    args = build_parser().parse_args(["serve", "--ingest-workers", "0", "--data-dir", "x"])
    settings = _settings(args)
    assert settings.ingest_workers == 0
    assert settings.data_dir == Path("x")
    default = _settings(build_parser().parse_args(["serve"]))
    assert default.ingest_workers == -1  # auto
