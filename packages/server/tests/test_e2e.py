"""The real server in a subprocess, driven by the Python client and by raw HTTP."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server

from openpanel_core import OpenPanel

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


def client_for(server: RunningServer, **options: Any) -> OpenPanel:
    return OpenPanel(
        server.client_id, server.secret, api_url=server.url, flush_interval=0.05, **options
    )


def names(server: RunningServer, **params: Any) -> list[str]:
    return [e["name"] for e in server.events(**params)["data"]]


def test_python_client_batch_path_round_trip(server: RunningServer) -> None:
    op = client_for(server)
    with op.context(ip="203.0.113.7", user_agent=BROWSER_UA):
        op.track("screen_view", {"__path": "https://shop.test/pricing?utm_source=google#top"})
        op.track("signup", {"plan": "pro", "nested": {"a": 1}}, profile_id="u-batch")
    op.identify("u-batch", first_name="Ada", email="ada@example.com", properties={"tier": "gold"})
    op.upsert_group("acme", type="company", name="Acme")
    op.set_group("acme", profile_id="u-batch")
    op.revenue(1299, profile_id="u-batch")
    assert op.flush(10)
    assert op.stats.delivered == 6
    assert op.stats.failed == 0
    op.shutdown()

    data = server.events(profileId="u-batch")["data"]
    by_name = {e["name"]: e for e in data}
    assert set(by_name) >= {"signup", "revenue"}
    assert by_name["signup"]["properties"]["plan"] == "pro"
    assert by_name["signup"]["properties"]["nested.a"] == "1"
    views = [e for e in server.events(event="screen_view")["data"] if e["path"] == "/pricing"]
    assert views, "the screen view was stored with its normalised path"
    view = views[0]
    assert view["properties"]["__query.utm_source"] == "google"
    assert view["os"] == "Mac OS"  # what ua-parser-js 1.x (OpenPanel) calls it
    assert view["sessionId"]
    assert view["deviceId"]
    profile = httpx.get(
        f"{server.url}/export/profiles/u-batch", headers=server.read_headers()
    ).json()
    assert profile["email"] == "ada@example.com"
    assert profile["properties"]["tier"] == "gold"


def test_single_path_joins_one_session(server: RunningServer) -> None:
    op = client_for(server, batch=False)
    with op.context(ip="198.51.100.20", user_agent=BROWSER_UA):
        for page in ("/a", "/b", "/c"):
            op.track("screen_view", {"__path": f"https://shop.test{page}"})
    assert op.flush(10)
    op.shutdown()
    rows = [
        e for e in server.events(event="screen_view")["data"] if e["path"] in ("/a", "/b", "/c")
    ]
    assert len(rows) == 3
    assert len({e["sessionId"] for e in rows}) == 1
    session = rows[0]["sessionId"]
    starts = [e for e in server.events(event="session_start")["data"] if e["sessionId"] == session]
    assert len(starts) == 1


def test_increment_and_decrement_profiles(server: RunningServer) -> None:
    headers = {**server.server_headers(), "content-type": "application/json"}

    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{server.url}/track", json=body, headers=headers)

    assert (
        post({"type": "increment", "payload": {"profileId": "nobody", "property": "x"}}).status_code
        == 404
    )
    assert post({"type": "identify", "payload": {"profileId": "counter"}}).status_code == 200
    for _ in range(3):
        assert (
            post(
                {
                    "type": "increment",
                    "payload": {"profileId": "counter", "property": "stats.logins"},
                }
            ).status_code
            == 200
        )
    assert (
        post(
            {
                "type": "decrement",
                "payload": {"profileId": "counter", "property": "stats.logins", "value": 2},
            }
        ).status_code
        == 200
    )
    profile = httpx.get(
        f"{server.url}/export/profiles/counter", headers=server.read_headers()
    ).json()
    assert profile["properties"]["stats.logins"] == "1"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b"[]", 400, "body"),
        (json.dumps({"type": "nope", "payload": {}}).encode(), 400, ""),
        (
            json.dumps({"type": "track", "payload": {"name": "x", "profileId": None}}).encode(),
            400,
            "payload.profileId",
        ),
        (
            json.dumps({"type": "track", "payload": {"name": "session_start"}}).encode(),
            400,
            "payload.name",
        ),
        (
            json.dumps({"type": "track", "payload": {"name": "/wp-login.php"}}).encode(),
            400,
            "payload.name",
        ),
        (
            json.dumps({"type": "track", "payload": {"name": "a' or '1'='1"}}).encode(),
            400,
            "payload.name",
        ),
        (
            json.dumps({"type": "identify", "payload": {"profileId": "u", "email": "no"}}).encode(),
            400,
            "payload.email",
        ),
        (
            json.dumps({"type": "alias", "payload": {"profileId": "u", "alias": "v"}}).encode(),
            400,
            "type",
        ),
        (
            json.dumps(
                {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": 1.5}}}
            ).encode(),
            400,
            "payload",
        ),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(
    server: RunningServer, body: bytes, status: int, field: str
) -> None:
    r = httpx.post(
        f"{server.url}/track",
        content=body,
        headers={**server.server_headers(), "content-type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert r.json()["field"].startswith(field)


def test_auth_failures_are_plain_401s(server: RunningServer) -> None:
    body = {"type": "track", "payload": {"name": "x"}}
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "Ingestion: Missing client id"),
        ({"openpanel-client-id": "nope"}, "Ingestion: Client ID must be a valid UUIDv4"),
        (
            {"openpanel-client-id": "00000000-0000-4000-8000-000000000000"},
            "Ingestion: Invalid client id",
        ),
        ({"openpanel-client-id": server.client_id}, "Ingestion: Invalid cors or secret"),
        (
            {"openpanel-client-id": server.client_id, "openpanel-client-secret": "sec_wrong"},
            "Ingestion: Invalid cors or secret",
        ),
        (
            {"openpanel-client-id": server.client_id, "origin": "https://evil.test"},
            "Ingestion: Invalid cors or secret",
        ),
        (  # the export client's secret reads; it does not write (OpenPanel does not check)
            server.read_headers(),
            "Ingestion: A read client cannot send events (use a write client)",
        ),
        (
            {"openpanel-client-id": server.creds["readClientId"], "origin": "http://localhost:1"},
            "Ingestion: A read client cannot send events (use a write client)",
        ),
    ]
    for headers, message in cases:
        r = httpx.post(f"{server.url}/track", json=body, headers=headers)
        assert (r.status_code, r.text) == (401, message)
    ok = httpx.post(
        f"{server.url}/track",
        json=body,
        headers={
            "openpanel-client-id": server.client_id,
            "origin": "http://localhost:5173",
            "user-agent": BROWSER_UA,
        },
    )
    assert ok.status_code == 200
    revenue = {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": 100}}}
    r = httpx.post(
        f"{server.url}/track",
        json=revenue,
        headers={"openpanel-client-id": server.client_id, "origin": "http://localhost:5173"},
    )
    assert (r.status_code, r.text) == (
        401,
        "Ingestion: Revenue tracking is not allowed without a client secret",
    )


def test_cors_preflight_allows_openpanel_headers(server: RunningServer) -> None:
    r = httpx.options(
        f"{server.url}/track",
        headers={
            "origin": "https://shop.test",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,openpanel-client-id,openpanel-sdk-name",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "https://shop.test")
    assert "openpanel-client-id" in r.headers["access-control-allow-headers"].lower()


def test_bots_are_answered_202_and_not_stored(server: RunningServer) -> None:
    r = httpx.post(
        f"{server.url}/track",
        json={"type": "track", "payload": {"name": "bot_probe"}},
        headers={
            "openpanel-client-id": server.client_id,
            "origin": "http://localhost:1",
            "user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        },
    )
    assert r.status_code == 202
    assert "bot" in r.json()
    assert "bot_probe" not in names(server)


def test_huge_bodies_are_refused_and_the_server_keeps_serving(server: RunningServer) -> None:
    big = json.dumps(
        {"type": "track", "payload": {"name": "x", "properties": {"blob": "y" * 4_000_000}}}
    )
    r = httpx.post(f"{server.url}/track", content=big, headers=server.server_headers())
    assert r.status_code == 413
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")
    r = httpx.post(
        f"{server.url}/track/batch",
        content=bomb,
        headers={**server.server_headers(), "content-encoding": "gzip"},
    )
    assert r.status_code == 413
    assert httpx.get(f"{server.url}/healthcheck").status_code == 200


def test_batch_isolates_bad_items_and_deduplicates_ids(server: RunningServer) -> None:
    items: list[dict[str, Any]] = [
        {"id": "dup-1", "type": "track", "payload": {"name": "batch_ok"}},
        {"id": "bad-1", "type": "track", "payload": {"name": "session_end"}},
        {"id": "bad-2", "type": "track", "payload": {"name": "x", "profileId": None}},
        {"id": "bad-3", "type": "nope", "payload": {}},
        {"type": "track", "payload": {"name": "no_id"}},
    ]
    r = httpx.post(f"{server.url}/track/batch", json=items, headers=server.server_headers())
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == [200, 400, 400, 400, 400]
    assert results[1]["error"] == "payload.name"
    assert results[2]["error"] == "payload.profileId"
    assert results[4]["error"] == "id"
    again = httpx.post(f"{server.url}/track/batch", json=items[:1], headers=server.server_headers())
    assert again.json()["results"][0]["status"] == 200
    assert names(server).count("batch_ok") == 1


def test_export_requires_a_read_client(server: RunningServer) -> None:
    r = httpx.get(f"{server.url}/export/events", headers=server.server_headers())
    assert r.status_code == 401
    assert "not allowed" in r.json()["message"]
    page = server.events(limit=2, page=1)
    assert page["meta"]["count"] <= 2
    assert page["meta"]["totalCount"] >= page["meta"]["count"]


def test_restart_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    op = OpenPanel(first.client_id, first.secret, api_url=first.url, flush_interval=0.01)
    for i in range(300):
        op.track("durable", {"i": i})
    assert op.flush(10)
    op.shutdown()
    first.stop(sig=9)  # no chance to flush: the write-ahead log has them
    second = start_server(tmp_path)
    try:
        data = second.events(event="durable")["data"]
        assert sorted(int(e["properties"]["i"]) for e in data) == list(range(300))
    finally:
        second.stop()


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    limited = start_server(tmp_path, "--rate-limit", "2")
    try:
        body = {"type": "track", "payload": {"name": "limited"}}
        codes = [
            httpx.post(f"{limited.url}/track", json=body, headers=limited.server_headers())
            for _ in range(8)
        ]
        statuses = [r.status_code for r in codes]
        assert statuses[:4] == [200, 200, 200, 200]
        assert 429 in statuses
        refused = next(r for r in codes if r.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
    finally:
        limited.stop()


def test_idle_sessions_end_with_their_facts(tmp_path: Path) -> None:
    short = start_server(tmp_path, "--session-timeout", "1")
    try:
        op = OpenPanel(short.client_id, short.secret, api_url=short.url, flush_interval=0.02)
        with op.context(ip="203.0.113.99", user_agent=BROWSER_UA):
            op.track("screen_view", {"__path": "https://shop.test/first"})
            op.track("screen_view", {"__path": "https://shop.test/last"})
        assert op.flush(10)
        op.shutdown()
        deadline = time.monotonic() + 10
        ends: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not ends:
            time.sleep(0.3)
            ends = short.events(event="session_end")["data"]
        assert len(ends) == 1
        end = ends[0]
        assert end["path"] == "/last"
        assert end["properties"]["__bounce"] == "false"
        views = short.events(event="screen_view")["data"]
        assert {v["sessionId"] for v in views} == {end["sessionId"]}
        session = httpx.get(
            f"{short.url}/export/sessions/{end['sessionId']}", headers=short.read_headers()
        ).json()
        assert session["screenViewCount"] == 2
        assert (session["entryPath"], session["exitPath"]) == ("/first", "/last")
        assert session["isBounce"] is False
    finally:
        short.stop()


def test_geo_from_a_configured_database(tmp_path: Path) -> None:
    from server_helpers import make_geo_db

    db = make_geo_db(tmp_path / "city.mmdb")
    geo = start_server(tmp_path / "data", "--geoip-db", str(db))
    try:
        op = OpenPanel(geo.client_id, geo.secret, api_url=geo.url, flush_interval=0.02)
        with op.context(ip="203.0.113.50", user_agent=BROWSER_UA):
            op.track("located")
        with op.context(ip="198.51.100.50", user_agent=BROWSER_UA):
            op.track("elsewhere")
        assert op.flush(10)
        op.shutdown()
        rows = {e["name"]: e for e in geo.events(includes="properties,region")["data"]}
        assert (rows["located"]["country"], rows["located"]["city"]) == ("SE", "Stockholm")
        assert rows["located"]["region"] == "Stockholm County"
        assert rows["elsewhere"]["country"] == ""
    finally:
        geo.stop()


def test_live_sessions_survive_a_clean_restart(tmp_path: Path) -> None:
    first = start_server(tmp_path, "--session-timeout", "60")
    op = OpenPanel(first.client_id, first.secret, api_url=first.url, flush_interval=0.02)
    with op.context(ip="203.0.113.77", user_agent=BROWSER_UA):
        op.track("screen_view", {"__path": "https://shop.test/before-restart"})
    assert op.flush(10)
    op.shutdown()
    first.stop()  # SIGTERM: a clean shutdown saves the live sessions
    second = start_server(tmp_path, "--session-timeout", "60")
    try:
        op = OpenPanel(second.client_id, second.secret, api_url=second.url, flush_interval=0.02)
        with op.context(ip="203.0.113.77", user_agent=BROWSER_UA):
            op.track("screen_view", {"__path": "https://shop.test/after-restart"})
        assert op.flush(10)
        op.shutdown()
        views = second.events(event="screen_view")["data"]
        assert len({v["sessionId"] for v in views}) == 1, "one session across the restart"
        starts = second.events(event="session_start")["data"]
        assert len(starts) == 1, "the restarted server continued the session, not a new one"
    finally:
        second.stop()


def test_replay_chunks_are_stored_with_their_session(server: RunningServer) -> None:
    chunk = {
        "type": "replay",
        "payload": {
            "chunk_index": 0,
            "events_count": 2,
            "is_full_snapshot": True,
            "started_at": "2026-11-29T10:00:00.000Z",
            "ended_at": "2026-11-29T10:00:05.000Z",
            "payload": json.dumps([{"type": 2, "data": {}}, {"type": 3, "data": {}}]),
            "sessionId": "replay-session-1",
        },
    }
    headers = {**server.server_headers(), "content-type": "application/json"}
    r = httpx.post(f"{server.url}/track", json=chunk, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["sessionId"] == "replay-session-1"
    no_session = json.loads(json.dumps(chunk))
    del no_session["payload"]["sessionId"]
    r = httpx.post(f"{server.url}/track", json=no_session, headers=headers)
    assert r.status_code == 400
    assert r.json()["field"] == "payload.sessionId"
    stored = httpx.get(
        f"{server.url}/export/sessions/replay-session-1/replay", headers=server.read_headers()
    ).json()["data"]
    assert len(stored) == 1
    assert stored[0]["isFullSnapshot"] is True
    assert json.loads(stored[0]["payload"])[1]["type"] == 3


def test_export_of_unknown_ids(server: RunningServer) -> None:
    headers = server.read_headers()
    profile = httpx.get(f"{server.url}/export/profiles/nobody-here", headers=headers)
    assert profile.status_code == 404
    assert profile.json()["message"] == "No such profile"
    session = httpx.get(f"{server.url}/export/sessions/no-session", headers=headers)
    assert session.status_code == 404
    replay = httpx.get(f"{server.url}/export/sessions/no-session/replay", headers=headers)
    assert (replay.status_code, replay.json()) == (200, {"data": []})
    writer = httpx.get(f"{server.url}/export/profiles/x", headers=server.server_headers())
    assert writer.status_code == 401


def test_device_id_endpoint_finds_the_live_session(server: RunningServer) -> None:
    headers = {
        **server.server_headers(),
        "openpanel-client-ip": "203.0.113.123",
        "user-agent": BROWSER_UA,
    }
    before = httpx.get(f"{server.url}/track/device-id", headers=headers).json()
    assert len(before["deviceId"]) == 32
    assert before["sessionId"] == ""
    assert before["message"] == "No session exists for this device id"
    r = httpx.post(
        f"{server.url}/track",
        json={"type": "track", "payload": {"name": "screen_view"}},
        headers=headers,
    )
    assert r.status_code == 200
    after = httpx.get(f"{server.url}/track/device-id", headers=headers).json()
    assert after["deviceId"] == before["deviceId"] == r.json()["deviceId"]
    assert after["sessionId"] == r.json()["sessionId"] != ""
    missing = httpx.get(
        f"{server.url}/track/device-id",
        headers={**server.server_headers(), "user-agent": BROWSER_UA},
    )
    assert (missing.status_code, missing.text) == (400, "Missing ip address")


def test_live_sessions_survive_a_crash(tmp_path: Path) -> None:
    """kill -9: the session carries on after the restart and ends once, with its facts."""
    first = start_server(tmp_path, "--session-timeout", "60")
    op = OpenPanel(first.client_id, first.secret, api_url=first.url, flush_interval=0.02)
    with op.context(ip="203.0.113.78", user_agent=BROWSER_UA):
        op.track("screen_view", {"__path": "https://shop.test/before-crash"})
    assert op.flush(10)
    op.shutdown()
    time.sleep(3)  # past one save of the live sessions
    first.stop(signal.SIGKILL)
    second = start_server(tmp_path, "--session-timeout", "60")
    try:
        op = OpenPanel(second.client_id, second.secret, api_url=second.url, flush_interval=0.02)
        with op.context(ip="203.0.113.78", user_agent=BROWSER_UA):
            op.track("screen_view", {"__path": "https://shop.test/after-crash"})
        assert op.flush(10)
        op.shutdown()
        views = second.events(event="screen_view")["data"]
        assert len(views) == 2
        assert len({v["sessionId"] for v in views}) == 1, "one session across the crash"
        assert len(second.events(event="session_start")["data"]) == 1
        time.sleep(3)  # the sessions are saved again, with the second view
    finally:
        second.stop(signal.SIGKILL)
    saved = (tmp_path / "sessions.json").read_text()
    assert views[0]["sessionId"] in saved
    # A third start with a 1 s timeout: the reaper ends the session from the snapshot.
    third = start_server(tmp_path, "--session-timeout", "1")
    try:
        deadline = time.monotonic() + 15
        ends: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not ends:
            time.sleep(0.3)
            ends = third.events(event="session_end")["data"]
        assert len(ends) == 1
        assert ends[0]["sessionId"] == views[0]["sessionId"]
        assert ends[0]["path"] == "/after-crash"
        assert ends[0]["properties"]["__bounce"] == "false"
    finally:
        third.stop(signal.SIGKILL)
    # A crash between writing a session_end and saving the sessions: the fourth start finds
    # the session still live in an older snapshot, and must not end it a second time.
    (tmp_path / "sessions.json").write_text(saved)
    fourth = start_server(tmp_path, "--session-timeout", "1")
    try:
        time.sleep(3)
        assert len(fourth.events(event="session_end")["data"]) == 1
    finally:
        fourth.stop()


def _query_store(data_dir: Path, sql: str) -> list[list[Any]]:
    """Run one query on a stopped server's store (chDB: one data folder per process)."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from openpanel_server._store import open_store\n"
        "store = open_store(None, Path(sys.argv[1]))\n"
        "rows = store.client.query(sys.argv[2]).result_rows\n"
        "print(json.dumps([[str(v) for v in row] for row in rows]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir), sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows: list[list[Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def test_bot_page_hits_go_to_events_bots_and_browsers_get_header_signals(tmp_path: Path) -> None:
    running = start_server(tmp_path)
    browser = {"openpanel-client-id": running.client_id, "origin": "http://localhost:1"}
    try:
        bot = httpx.post(
            f"{running.url}/track",
            json={"type": "track", "payload": {"name": "screen_view",
                                               "properties": {"__path": "https://shop.test/p"}}},
            headers={**browser, "user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; "
                     "+http://www.google.com/bot.html)"},
        )  # fmt: skip
        assert bot.status_code == 202
        bare = httpx.post(
            f"{running.url}/track",
            json={"type": "track", "payload": {"name": "bare_browser"}},
            headers={**browser, "user-agent": BROWSER_UA},
        )
        real = httpx.post(
            f"{running.url}/track",
            json={"type": "track", "payload": {"name": "real_browser",
                                               "properties": {"__bot": "0"}}},
            headers={**browser, "user-agent": BROWSER_UA, "sec-fetch-mode": "cors",
                     "sec-fetch-site": "cross-site", "accept-language": "en",
                     "sec-ch-ua": '"Chromium";v="124"'},
        )  # fmt: skip
        assert (bare.status_code, real.status_code) == (200, 200)
        rows = {e["name"]: e for e in running.events(includes="properties")["data"]}
        assert "screen_view" not in rows
        reasons = rows["bare_browser"]["properties"]["__bot_reasons"].split(",")
        assert set(reasons) >= {"header:missing_sec_fetch", "header:missing_accept_language"}
        assert "__bot" not in rows["bare_browser"]["properties"]  # one category is not enough
        assert "__bot_reasons" not in rows["real_browser"]["properties"]
        assert "__bot" not in rows["real_browser"]["properties"]  # a client's own is dropped
    finally:
        running.stop()
    rows = _query_store(tmp_path, "SELECT name, type, path FROM events_bots")
    assert rows == [["Googlebot", "search-engine", "https://shop.test/p"]]


def test_batch_item_ips_are_normalised_like_track(server: RunningServer) -> None:
    """A private or port-suffixed item ip counts as /track's openpanel-client-ip does."""
    headers = {**server.server_headers(), "user-agent": BROWSER_UA}
    single = httpx.post(
        f"{server.url}/track",
        json={"type": "track", "payload": {"name": "ip_single"}},
        headers={**headers, "openpanel-client-ip": "10.1.2.3"},
    ).json()
    batch = httpx.post(
        f"{server.url}/track/batch",
        json=[
            {"id": "ip-1", "type": "track", "ip": "10.1.2.3", "payload": {"name": "ip_batch"}},
            {"id": "ip-2", "type": "track", "ip": "[::ffff:203.0.113.44]:443",
             "payload": {"name": "ip_public"}},
        ],
        headers=headers,
    ).json()["results"]  # fmt: skip
    assert batch[0]["deviceId"] == single["deviceId"]
    public = httpx.post(
        f"{server.url}/track",
        json={"type": "track", "payload": {"name": "ip_public_single"}},
        headers={**headers, "openpanel-client-ip": "203.0.113.44"},
    ).json()
    assert batch[1]["deviceId"] == public["deviceId"]
