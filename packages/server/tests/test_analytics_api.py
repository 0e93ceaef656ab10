"""The analytics HTTP API against the real server in a subprocess."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server
from starlette.requests import ClientDisconnect

from openpanel_core import OpenPanel

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
# Three visitors, one session each: all view a page, two sign up, one buys.
VISITORS: dict[str, tuple[str, str, list[str]]] = {
    "u-ada": ("203.0.113.1", "/home", ["signup", "purchase"]),
    "u-bob": ("203.0.113.2", "/home", ["signup"]),
    "u-cy": ("203.0.113.3", "/pricing", []),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("analytics"), "--session-timeout", "1")
    try:
        op = OpenPanel(running.client_id, running.secret, api_url=running.url, flush_interval=0.02)
        for profile, (ip, page, events) in VISITORS.items():
            with op.context(ip=ip, user_agent=BROWSER_UA):
                op.track("screen_view", {"__path": f"https://shop.test{page}"}, profile_id=profile)
                for name in events:
                    op.track(name, {"plan": "pro"}, profile_id=profile)
        assert op.flush(10)
        op.shutdown()
        deadline = time.monotonic() + 15  # sessions are stored when they end
        while time.monotonic() < deadline:
            if len(running.events(event="session_end")["data"]) == len(VISITORS):
                break
            time.sleep(0.3)
        else:
            pytest.fail("the sessions did not end")
        yield running
    finally:
        running.stop()


def post(server: RunningServer, query: str, body: Any, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", server.read_headers())
    return httpx.post(
        f"{server.url}/api/analytics/{query}", json=body, headers=headers, timeout=30, **kw
    )


def ok(server: RunningServer, query: str, body: dict[str, Any]) -> dict[str, Any]:
    r = post(server, query, body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_overview_counts_the_visitors_and_sessions(server: RunningServer) -> None:
    data = ok(server, "overview", {"range": "today"})
    metrics = data["metrics"]
    assert metrics["visitors"] == 3
    assert metrics["sessions"] == 3
    assert metrics["screenViews"] == 3
    assert metrics["bounceRate"] == 100.0  # one page view each
    assert data["previous"]["sessions"] == 0
    top = ok(server, "top", {"range": "today", "dimension": "path"})
    assert {(row["value"], row["count"]) for row in top["rows"]} >= {("/home", 2), ("/pricing", 1)}


def test_time_series_buckets_the_signups(server: RunningServer) -> None:
    body = {"range": "7d", "interval": "day", "series": [{"name": "signup"}]}
    data = ok(server, "time_series", body)
    [series] = data["series"]
    assert len(series["data"]) == 7
    assert series["metrics"]["sum"] == 2
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert series["data"][-1]["date"].startswith(today)  # the default project is in UTC
    assert series["data"][-1]["count"] == 2


def test_funnel_counts_each_step(server: RunningServer) -> None:
    steps = [{"name": "screen_view"}, {"name": "signup"}, {"name": "purchase"}]
    data = ok(server, "funnel", {"range": "today", "steps": steps})
    counts = [step["count"] for step in data["steps"]]
    assert counts == [3, 2, 1]
    assert data["steps"][1]["conversionFromPrevious"] == pytest.approx(200 / 3, abs=0.01)
    assert data["steps"][2]["conversionFromPrevious"] == 50.0
    assert data["totalConversion"] == pytest.approx(100 / 3, abs=0.01)


def test_retention_has_todays_cohort(server: RunningServer) -> None:
    body = {"range": "today", "period": "day", "startEvent": "signup", "returnEvent": "purchase"}
    data = ok(server, "retention", body)
    assert data["period"] == "day"
    [cohort] = data["cohorts"]
    assert cohort["size"] == 2
    assert cohort["retained"][0] == 1


def test_sessions_and_their_stats(server: RunningServer) -> None:
    data = ok(server, "sessions", {"range": "today"})
    assert data["total"] == 3
    assert sorted(s["entryPath"] for s in data["sessions"]) == ["/home", "/home", "/pricing"]
    assert {s["profileId"] for s in data["sessions"]} == set(VISITORS)
    stats = ok(server, "session_stats", {"range": "today"})
    assert stats["sessions"] == 3


def test_realtime_sees_the_last_minutes(server: RunningServer) -> None:
    data = ok(server, "realtime", {"minutes": 30})
    assert data["visitors"] == 3
    assert data["events"] >= 6
    assert {p["value"] for p in data["pages"]} >= {"/home", "/pricing"}


def test_cohorts_and_profiles(server: RunningServer) -> None:
    cohort = {"id": "buyers", "range": "today", "events": ["signup"]}
    assert ok(server, "cohort_size", cohort) == {"size": 2}
    members = ok(server, "cohort_members", {"cohort": cohort, "limit": 1})
    assert members == {"size": 2, "profileIds": ["u-ada"]}
    profile = ok(server, "profile", {"profileId": "u-ada", "eventsLimit": 10})
    names = {e["name"] for e in profile["events"]}
    assert {"screen_view", "signup", "purchase"} <= names


def test_csv_export_streams_an_attachment(server: RunningServer) -> None:
    r = httpx.get(
        f"{server.url}/export/analytics",
        params={"format": "csv", "range": "today", "events": "signup,purchase"},
        headers=server.read_headers(),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    project = server.creds["projectId"]
    expected = f'attachment; filename="openpanel-events-{project}-{today}.csv"'
    assert r.headers["content-disposition"] == expected
    rows = list(csv.reader(io.StringIO(r.text)))
    header, body = rows[0], rows[1:]
    assert {"id", "name", "profileId", "createdAt"} <= set(header)
    named = [dict(zip(header, row, strict=True)) for row in body]
    assert sorted(row["name"] for row in named) == ["purchase", "signup", "signup"]
    assert {row["profileId"] for row in named} == {"u-ada", "u-bob"}


def test_ndjson_export_by_post_with_filters(server: RunningServer) -> None:
    body = {
        "format": "ndjson",
        "range": "today",
        "events": ["screen_view"],
        "filters": [{"name": "path", "operator": "is", "value": ["/home"]}],
        "includes": ["properties"],
    }
    r = post(server, "export", body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["content-disposition"].endswith('.ndjson"')
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert sorted(line["profileId"] for line in lines) == ["u-ada", "u-bob"]
    assert all(line["path"] == "/home" for line in lines)
    # The same filters as GET query parameters (filters as a JSON array).
    params = {"format": "ndjson", "range": "today", "events": "screen_view"}
    params["filters"] = json.dumps(body["filters"])
    r = httpx.get(
        f"{server.url}/export/analytics", params=params, headers=server.read_headers(), timeout=30
    )
    assert len(r.text.splitlines()) == 2


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/analytics/overview"),
        ("POST", "/api/analytics/export"),
        ("GET", "/export/analytics"),
        ("POST", "/api/analytics/no-such-query"),
    ],
)
def test_read_credentials_are_required(server: RunningServer, method: str, path: str) -> None:
    url = f"{server.url}{path}"
    anonymous = httpx.request(method, url, json={})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "Unauthorized"
    writer = httpx.request(method, url, json={}, headers=server.server_headers())
    assert writer.status_code == 401
    assert "not allowed" in writer.json()["message"]  # as /export/events answers a write client
    wrong = {**server.read_headers(), "openpanel-client-secret": "nope"}
    assert httpx.request(method, url, json={}, headers=wrong).status_code == 401


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["error"] == "validation"
    return [f["field"] for f in data["fields"]]


def test_a_bad_operator_is_a_400_naming_the_field(server: RunningServer) -> None:
    bad = {"filters": [{"name": "path", "operator": "like", "value": ["/x"]}]}
    assert fields(post(server, "overview", bad)) == ["filters.0.operator"]
    series = {"series": [{"name": "signup", "filters": bad["filters"]}]}
    assert fields(post(server, "time_series", series)) == ["series.0.filters.0.operator"]


def test_a_bad_regex_is_a_400_naming_the_value(server: RunningServer) -> None:
    ok_filter = {"name": "path", "operator": "is", "value": ["/"]}
    regex = {"name": "path", "operator": "regex", "value": ["^ok$", "(a"]}
    r = post(server, "overview", {"filters": [ok_filter, regex]})
    assert fields(r) == ["filters.1.value.1"]
    assert r.json()["fields"][0]["type"] == "invalid_regex"
    r = post(server, "export", {"format": "csv", "filters": [regex]})
    assert fields(r) == ["filters.0.value.1"]  # refused before the first byte
    assert "content-disposition" not in r.headers


def test_an_unknown_column_is_a_400_naming_the_field(server: RunningServer) -> None:
    bad = {"filters": [{"name": "no_such_column", "operator": "is", "value": ["x"]}]}
    r = post(server, "sessions", bad)
    assert fields(r) == ["filters.0.name"]
    assert "unknown field" in r.json()["fields"][0]["message"]
    params = {"format": "csv", "includes": "no_such_column"}
    r = httpx.get(f"{server.url}/export/analytics", params=params, headers=server.read_headers())
    assert fields(r) == ["includes"]


def test_every_failing_field_is_named(server: RunningServer) -> None:
    body = {"range": "never", "previous": "maybe", "extra": 1}
    assert sorted(fields(post(server, "overview", body))) == ["extra", "previous", "range"]
    assert fields(post(server, "funnel", {"steps": [{"name": "a"}]})) == ["steps"]


def test_bodies_that_are_not_objects_and_unknown_queries(server: RunningServer) -> None:
    r = httpx.post(
        f"{server.url}/api/analytics/overview", content=b"{not json", headers=server.read_headers()
    )
    assert fields(r) == ["body"]
    assert fields(post(server, "overview", [1, 2])) == ["body"]
    r = post(server, "no-such-query", {})
    assert r.status_code == 404
    assert "overview" in r.json()["message"]
    r = httpx.get(f"{server.url}/api/analytics/overview", headers=server.read_headers())
    assert r.status_code == 405


class _Raw:
    """An engine stream of endless 4-byte chunks that records reads and closing."""

    def __init__(self) -> None:
        self.reads = 0
        self.closed = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        return b"row\n"

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("spec", ["2.4", "2.3"])
def test_an_export_is_closed_when_the_client_disconnects(spec: str) -> None:
    import anyio

    from openpanel_server._analytics import ExportStream
    from openpanel_server._analytics_api import ExportResponse

    raw = _Raw()
    released: list[bool] = []
    stream = ExportStream(
        raw, b"", "application/x-ndjson", ["id"], 4, lambda: released.append(True)
    )
    response = ExportResponse(stream, "x.ndjson")
    sent: list[dict[str, Any]] = []
    gone = anyio.Event()

    async def send(message: Any) -> None:
        sent.append(message)
        if sum(m["type"] == "http.response.body" for m in sent) >= 3:
            gone.set()
            if spec == "2.4":
                raise OSError("client went away")  # what servers raise on a closed socket
            await anyio.sleep(0.01)

    async def receive() -> Any:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def main() -> None:
        scope = {"type": "http", "asgi": {"spec_version": spec}}
        with anyio.fail_after(10):
            if spec == "2.4":  # starlette turns the OSError into ClientDisconnect
                with pytest.raises(ClientDisconnect):
                    await response(scope, receive, send)
            else:  # the response listens for http.disconnect and cancels the stream
                await response(scope, receive, send)
            # Closed as the response ends, not later when something collects the generator.
            assert raw.closed == 1
            assert released == [True]

    anyio.run(main)
    assert raw.closed == 1
    assert released == [True]
    reads = raw.reads
    time.sleep(0.1)
    assert raw.reads == reads  # nothing reads the engine after the client left
    assert not any(m.get("more_body") is False for m in sent)  # never finished


# -- who am I, one session, event names, profiles by activity --------------------------------


def test_me_names_the_client_and_its_project(server: RunningServer) -> None:
    r = httpx.get(f"{server.url}/api/me", headers=server.read_headers(), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "clientId": server.creds["readClientId"],
        "clientType": "read",
        "projectId": server.creds["projectId"],
        "projectName": "Default",
        "timezone": "UTC",
    }
    root = _cli(
        server, "client", "create", "--project", server.creds["projectId"], "--type", "root"
    )
    headers = {
        "openpanel-client-id": root["clientId"],
        "openpanel-client-secret": root["clientSecret"],
    }
    me = httpx.get(f"{server.url}/api/me", headers=headers, timeout=30).json()
    assert (me["clientId"], me["clientType"]) == (root["clientId"], "root")
    # Same authentication as the queries: no secret, a wrong one, a write client: 401.
    assert httpx.get(f"{server.url}/api/me", timeout=30).status_code == 401
    wrong = {**server.read_headers(), "openpanel-client-secret": "nope"}
    assert httpx.get(f"{server.url}/api/me", headers=wrong, timeout=30).status_code == 401
    writer = httpx.get(f"{server.url}/api/me", headers=server.server_headers(), timeout=30)
    assert writer.status_code == 401
    other = httpx.get(
        f"{server.url}/api/me",
        params={"projectId": "another"},
        headers=server.read_headers(),
        timeout=30,
    )
    assert other.status_code == 403
    assert httpx.post(f"{server.url}/api/me", headers=server.read_headers()).status_code == 405


def _cli(server: RunningServer, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "openpanel_server", "--data-dir", str(server.data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_one_session_with_its_events_in_order(server: RunningServer) -> None:
    listed = ok(server, "sessions", {"range": "today"})
    [ada] = [s for s in listed["sessions"] if s["profileId"] == "u-ada"]
    data = ok(server, "session", {"sessionId": ada["id"]})
    assert data["sessionId"] == ada["id"]
    assert data["session"] == ada
    names = [e["name"] for e in data["events"]]
    assert names[0] == "session_start" and names[-1] == "session_end"
    assert sorted(names[1:-1]) == ["purchase", "screen_view", "signup"]
    assert {e["sessionId"] for e in data["events"]} == {ada["id"]}
    times = [e["createdAt"] for e in data["events"]]
    assert times == sorted(times)
    assert data["moreEvents"] is False
    few = ok(server, "session", {"sessionId": ada["id"], "eventsLimit": 2})
    assert (few["events"][0]["name"], len(few["events"])) == ("session_start", 2)
    assert few["moreEvents"] is True
    assert ok(server, "session", {"sessionId": "nope"}) == {
        "sessionId": "nope",
        "session": None,
        "events": [],
        "moreEvents": False,
    }


def test_event_names_with_their_counts(server: RunningServer) -> None:
    data = ok(server, "event_names", {})
    counts = {n["name"]: n["count"] for n in data["names"]}
    assert counts == {
        "screen_view": 3,
        "session_end": 3,
        "session_start": 3,
        "signup": 2,
        "purchase": 1,
    }
    assert [n["name"] for n in data["names"]][:3] == ["screen_view", "session_end", "session_start"]
    assert data["more"] is False
    top = ok(server, "event_names", {"range": "today", "limit": 1})
    assert top == {"names": [{"name": "screen_view", "count": 3}], "more": True}
    assert ok(server, "event_names", {"range": "yesterday"}) == {"names": [], "more": False}


def test_profiles_follow_a_range_and_event_filters(server: RunningServer) -> None:
    op = OpenPanel(server.client_id, server.secret, api_url=server.url, flush_interval=0.02)
    now = time.time()
    # Server-side events (no browser): no session, nothing the other tests count.
    op.identify("p-now", first_name="Now", email="now@shop.test")
    op.track("report_exported", {"format": "pdf"}, profile_id="p-now")
    op.identify("p-past", first_name="Past", email="past@shop.test")
    op.track("report_exported", {"format": "csv"}, profile_id="p-past", timestamp=now - 3 * 86400)
    assert op.flush(10)
    op.shutdown()
    deadline = time.monotonic() + 15  # profiles are stored in batches
    while ok(server, "profiles", {"search": "@shop.test"})["total"] < 2:
        assert time.monotonic() < deadline, "the profiles were not stored"
        time.sleep(0.2)

    def ids(body: dict[str, Any]) -> list[str]:
        data = ok(server, "profiles", {"search": "@shop.test", **body})
        assert data["total"] == len(data["profiles"])
        return sorted(p["id"] for p in data["profiles"])

    assert ids({}) == ["p-now", "p-past"]
    assert ids({"range": "today"}) == ["p-now"]
    assert ids({"range": "7d"}) == ["p-now", "p-past"]
    exported = [{"name": "name", "operator": "is", "value": ["report_exported"]}]
    csv_format = [{"name": "properties.format", "operator": "is", "value": ["csv"]}]
    assert ids({"filters": exported}) == ["p-now", "p-past"]
    assert ids({"filters": csv_format}) == ["p-past"]
    assert ids({"range": "today", "filters": csv_format}) == []
    assert ids({"filters": [{"name": "name", "operator": "is", "value": ["signup"]}]}) == []


def test_new_query_errors_name_the_field(server: RunningServer) -> None:
    assert fields(post(server, "session", {})) == ["sessionId"]
    assert fields(post(server, "session", {"sessionId": "s", "eventsLimit": 0})) == ["eventsLimit"]
    assert fields(post(server, "event_names", {"limit": 0})) == ["limit"]
    assert fields(post(server, "event_names", {"range": "custom"})) == ["startDate", "endDate"]
    assert fields(post(server, "profiles", {"startDate": "2026-01-01"})) == ["startDate"]
    backwards = {"range": "custom", "startDate": "2026-01-02", "endDate": "2026-01-01"}
    assert fields(post(server, "profiles", backwards)) == ["endDate"]
    bad = [{"name": "path", "operator": "like", "value": ["/x"]}]
    assert fields(post(server, "profiles", {"filters": bad})) == ["filters.0.operator"]
    regex = [{"name": "path", "operator": "regex", "value": ["(a"]}]
    r = post(server, "profiles", {"filters": regex})
    assert fields(r) == ["filters.0.value.0"]
    assert r.json()["fields"][0]["type"] == "invalid_regex"
    assert fields(post(server, "event_names", {"timezone": "Asia/Tokyo"})) == ["timezone"]
    for query in ("session", "event_names"):
        anonymous = httpx.post(f"{server.url}/api/analytics/{query}", json={})
        assert anonymous.status_code == 401
