"""Per-project timezones: metadata, CLI, and analytics buckets that move with the zone."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from server_helpers import RunningServer, start_server

from openpanel_core import OpenPanel
from openpanel_server._cli import main
from openpanel_server._meta import MIGRATIONS, MetaStore

UTC = dt.timezone.utc
# Signups at fixed instants: 22:30Z and 23:30Z on the 20th are the 20th in UTC; 23:30Z is
# already the 21st in Berlin (CET, +01:00); 12:00Z on the 21st is the 21st in both.
SIGNUPS = [
    dt.datetime(2026, 11, 20, 22, 30, tzinfo=UTC),
    dt.datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
    dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
]


def test_projects_default_to_utc_and_keep_their_timezone(tmp_path: Path) -> None:
    meta = MetaStore(tmp_path / "meta.db")
    try:
        plain = meta.create_project("Plain")
        berlin = meta.create_project("Shop", timezone="Europe/Berlin")
        assert plain.timezone == "UTC"
        assert meta.get_project(berlin.id) == berlin
        assert berlin.timezone == "Europe/Berlin"
        updated = meta.set_project_timezone(plain.id, "Asia/Kolkata")
        assert updated is not None and updated.timezone == "Asia/Kolkata"
        assert [p.timezone for p in meta.list_projects()] == ["Asia/Kolkata", "Europe/Berlin"]
        assert meta.set_project_timezone("missing", "UTC") is None
        for bad in ("Mars/Olympus", "", " UTC", "+01:00", "../etc/passwd"):
            with pytest.raises(ValueError, match="unknown timezone"):
                meta.set_project_timezone(plain.id, bad)
            with pytest.raises(ValueError, match="unknown timezone"):
                meta.create_project("Bad", timezone=bad)
        assert meta.get_project(plain.id) == updated  # a refused change changes nothing
    finally:
        meta.close()


def test_a_version_2_database_migrates_to_utc_projects(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={version}")
    conn.execute(
        "INSERT INTO projects (id, name, cors, created_at) VALUES ('old', 'Old', '[]', 'x')"
    )
    conn.close()
    meta = MetaStore(path)
    try:
        project = meta.get_project("old")
        assert project is not None and project.timezone == "UTC"
        assert meta.cohorts.list("old") == []
    finally:
        meta.close()
    meta = MetaStore(path)  # opening again runs nothing twice
    try:
        assert meta.get_project("old") == project
    finally:
        meta.close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == MIGRATIONS[-1][0]


def cli(tmp_path: Path, *args: str) -> int:
    return main(["--data-dir", str(tmp_path), "project", *args])


def test_cli_creates_updates_and_lists_timezones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(tmp_path, "create", "Shop", "--timezone", "Europe/Berlin") == 0
    created = json.loads(capsys.readouterr().out)
    assert created["timezone"] == "Europe/Berlin"
    project = created["projectId"]
    assert cli(tmp_path, "update", project, "--timezone", "America/New_York") == 0
    assert "timezone=America/New_York" in capsys.readouterr().out
    assert cli(tmp_path, "list") == 0
    assert f"{project}  Shop" in (out := capsys.readouterr().out)
    assert "timezone=America/New_York" in out
    assert cli(tmp_path, "update", project, "--timezone", "Europe/Berlinn") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line
    assert err.startswith("error: --timezone: unknown timezone 'Europe/Berlinn'")
    assert cli(tmp_path, "create", "Bad", "--timezone", "CET+1") == 2
    assert "unknown timezone 'CET+1'" in capsys.readouterr().err
    assert cli(tmp_path, "update", "nope", "--timezone", "UTC") == 2
    assert "no project 'nope'" in capsys.readouterr().err
    meta = MetaStore(tmp_path / "meta.db")
    try:
        assert [p.name for p in meta.list_projects()] == ["Shop"]  # the bad one was not made
    finally:
        meta.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("timezone"))
    try:
        op = OpenPanel(running.client_id, running.secret, api_url=running.url, flush_interval=0.02)
        for i, moment in enumerate(SIGNUPS):
            op.track("signup", {"n": i}, profile_id=f"u{i}", timestamp=moment)
        assert op.flush(10)
        op.shutdown()
        deadline = time.monotonic() + 15
        while len(running.events(event="signup")["data"]) < len(SIGNUPS):
            assert time.monotonic() < deadline, "the signups were not stored"
            time.sleep(0.2)
        yield running
    finally:
        running.stop()


def set_zone(server: RunningServer, zone: str) -> None:
    assert cli(server.data_dir, "update", server.creds["projectId"], "--timezone", zone) == 0


def chart(server: RunningServer, **extra: Any) -> dict[str, Any]:
    body = {
        "range": "custom",
        "startDate": "2026-11-20",
        "endDate": "2026-11-21",
        "interval": "day",
        "series": [{"name": "signup"}],
        **extra,
    }
    r = httpx.post(
        f"{server.url}/api/analytics/time_series",
        json=body,
        headers=server.read_headers(),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def points(data: dict[str, Any]) -> list[tuple[str, float]]:
    [series] = data["series"]
    return [(p["date"], p["count"]) for p in series["data"]]


def test_day_buckets_follow_the_project_timezone(server: RunningServer) -> None:
    set_zone(server, "UTC")
    utc = chart(server)
    assert points(utc) == [("2026-11-20T00:00:00+00:00", 2), ("2026-11-21T00:00:00+00:00", 1)]
    assert utc["start"] == "2026-11-20T00:00:00+00:00"
    set_zone(server, "Europe/Berlin")  # the running server uses it from the next query
    try:
        berlin = chart(server)
        assert points(berlin) == [
            ("2026-11-20T00:00:00+01:00", 1),
            ("2026-11-21T00:00:00+01:00", 2),
        ]
        assert berlin["end"] == "2026-11-22T00:00:00+01:00"
        # Hours too: 23:30Z is the 00:00 bucket of the 21st in Berlin.
        hours = chart(server, startDate="2026-11-21", endDate="2026-11-21", interval="hour")
        assert [(d, c) for d, c in points(hours) if c] == [
            ("2026-11-21T00:00:00+01:00", 1),
            ("2026-11-21T13:00:00+01:00", 1),
        ]
        # Custom times without an offset are project-local times as well.
        late = chart(
            server, startDate="2026-11-21T00:00:00", endDate="2026-11-21T00:59:59", interval="day"
        )
        assert sum(c for _, c in points(late)) == 1
    finally:
        set_zone(server, "UTC")


def test_a_request_cannot_pick_another_timezone(server: RunningServer) -> None:
    r = httpx.post(
        f"{server.url}/api/analytics/time_series",
        json={"series": [{"name": "signup"}], "timezone": "Asia/Tokyo"},
        headers=server.read_headers(),
        timeout=30,
    )
    assert r.status_code == 400
    assert [f["field"] for f in r.json()["fields"]] == ["timezone"]
    # Nor through the query string of the GET routes (it is refused, not ignored).
    for path in ("/export/analytics", "/export/charts", "/api/analytics/realtime/stream"):
        r = httpx.get(
            f"{server.url}{path}",
            params={"timezone": "Asia/Tokyo", "series": '[{"name":"signup"}]'},
            headers=server.read_headers(),
            timeout=30,
        )
        assert r.status_code == 400, path
        [field] = r.json()["fields"]
        assert field["field"] == "timezone"
        assert "project update" in field["message"]


def test_exports_use_the_project_timezone(server: RunningServer) -> None:
    set_zone(server, "Europe/Berlin")
    try:
        params = {"format": "ndjson", "range": "custom", "startDate": "2026-11-21"}
        params["endDate"] = "2026-11-21"
        r = httpx.get(
            f"{server.url}/export/analytics",
            params=params,
            headers=server.read_headers(),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        rows = [json.loads(line) for line in r.text.splitlines()]
        assert sorted(row["profileId"] for row in rows) == ["u1", "u2"]  # Berlin's 21st
        today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
        assert r.headers["content-disposition"].endswith(f'-{today.isoformat()}.ndjson"')
    finally:
        set_zone(server, "UTC")


def test_export_events_dates_are_the_projects_local_days(server: RunningServer) -> None:
    def signups(**params: str) -> list[str]:
        data = server.events(event="signup", **params)["data"]
        return sorted(str(e["createdAt"]) for e in data)

    utc = signups(start="2026-11-21", end="2026-11-21")
    assert [t[:13] for t in utc] == ["2026-11-21T12"]
    set_zone(server, "Europe/Berlin")
    try:
        berlin = signups(start="2026-11-21", end="2026-11-21")
        assert [t[:13] for t in berlin] == ["2026-11-20T23", "2026-11-21T12"]
        # A time with an offset means that instant, whatever the project's timezone.
        exact = signups(start="2026-11-20T23:00:00Z", end="2026-11-20T23:59:59Z")
        assert [t[:13] for t in exact] == ["2026-11-20T23"]
    finally:
        set_zone(server, "UTC")
