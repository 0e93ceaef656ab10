"""OpenPanel's GET /export/charts against hand-computed answers on a small fixed dataset."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server

from openpanel_core import OpenPanel
from openpanel_server._cli import main

UTC = dt.timezone.utc


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# (name, profile, properties, time). The chart range is 10..12 November; the 7th falls in the
# previous period (7..9). 23:30Z on the 11th is the 12th in Berlin.
EVENTS: list[tuple[str, str, dict[str, Any], dt.datetime]] = [
    ("signup", "u1", {"plan": "pro"}, at(7, 10)),
    ("signup", "u1", {"plan": "pro"}, at(10, 9)),
    ("signup", "u2", {"plan": "free"}, at(10, 10)),
    ("signup", "u1", {"plan": "pro"}, at(11, 12)),
    ("signup", "u2", {"plan": "free"}, at(11, 23, 30)),
    ("purchase", "u1", {"amount": 10}, at(10, 11)),
    ("purchase", "u2", {"amount": 30}, at(11, 8)),
    ("purchase", "u1", {"amount": 5}, at(11, 9)),
]
DAYS = ["2026-11-10T00:00:00+00:00", "2026-11-11T00:00:00+00:00", "2026-11-12T00:00:00+00:00"]
RANGE = {"startDate": "2026-11-10", "endDate": "2026-11-12", "interval": "day"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("charts"))
    try:
        op = OpenPanel(running.client_id, running.secret, api_url=running.url, flush_interval=0.02)
        for name, profile, props, moment in EVENTS:
            op.track(name, props, profile_id=profile, timestamp=moment)
        assert op.flush(10)
        op.shutdown()
        deadline = time.monotonic() + 15
        while len(running.events(event=["signup", "purchase"])["data"]) < len(EVENTS):
            assert time.monotonic() < deadline, "the events were not stored"
            time.sleep(0.2)
        yield running
    finally:
        running.stop()


def get(
    server: RunningServer, headers: dict[str, str] | None = None, /, **params: Any
) -> httpx.Response:
    query = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
    return httpx.get(
        f"{server.url}/export/charts",
        params=query,
        headers=server.read_headers() if headers is None else headers,
        timeout=30,
    )


def chart(server: RunningServer, /, **params: Any) -> dict[str, Any]:
    r = get(server, **params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_one_series_with_the_previous_period(server: RunningServer) -> None:
    data = chart(server, series=[{"name": "signup"}], previous="true", **RANGE)
    [series] = data["series"]
    assert series["id"] == "A-signup"
    assert series["names"] == ["signup"]
    assert series["event"] == {"id": "A", "name": "signup"}
    assert series["data"] == [
        {"date": DAYS[0], "count": 2, "previous": {"value": 1, "diff": 100.0, "state": "positive"}},
        {"date": DAYS[1], "count": 2, "previous": {"value": 0, "diff": None, "state": "positive"}},
        {"date": DAYS[2], "count": 0, "previous": {"value": 0, "diff": None, "state": "neutral"}},
    ]
    expected = {
        "sum": 4,
        "average": 1.33,
        "min": 0,
        "max": 2,
        "previous": {
            "sum": {"value": 1, "diff": 300.0, "state": "positive"},
            # The averages are rounded first (1.33 and 0.33), as OpenPanel does.
            "average": {"value": 0.33, "diff": 303.0, "state": "positive"},
            "min": {"value": 0, "diff": None, "state": "neutral"},
            "max": {"value": 1, "diff": 100.0, "state": "positive"},
        },
    }
    assert series["metrics"] == expected
    assert data["metrics"] == expected  # one series: the chart's metrics are its metrics


def test_segments_and_chart_metrics(server: RunningServer) -> None:
    series = [
        {"name": "signup", "segment": "user"},
        {"name": "purchase", "segment": "property_sum", "property": "properties.amount"},
    ]
    data = chart(server, series=series, range="custom", **RANGE)
    users, revenue = data["series"]
    assert users["id"] == "A-signup"
    assert [p["count"] for p in users["data"]] == [2, 2, 0]
    assert revenue["id"] == "B-purchase"
    assert revenue["event"] == {"id": "B", "name": "purchase"}
    assert [p["count"] for p in revenue["data"]] == [10, 35, 0]
    assert revenue["metrics"] == {"sum": 45, "average": 15, "min": 0, "max": 35}
    assert "previous" not in revenue["data"][0]
    # Over every value of every series: 2, 2, 0, 10, 35, 0.
    assert data["metrics"] == {"sum": 49, "average": 8.17, "min": 0, "max": 35}


def test_breakdowns(server: RunningServer) -> None:
    data = chart(
        server, series=[{"name": "signup"}], breakdowns=[{"name": "properties.plan"}], **RANGE
    )
    assert [(s["id"], s["names"]) for s in data["series"]] == [
        ("A-signup-free", ["signup", "free"]),  # equal sums: by value
        ("A-signup-pro", ["signup", "pro"]),
    ]
    free, pro = data["series"]
    assert free["event"] == {"id": "A", "name": "signup", "breakdowns": {"properties.plan": "free"}}
    assert [p["count"] for p in free["data"]] == [1, 1, 0]
    assert [p["count"] for p in pro["data"]] == [1, 1, 0]
    one = chart(
        server,
        series=[{"name": "signup"}],
        breakdowns=[{"id": "b1", "name": "properties.plan"}],
        limit="1",
        **RANGE,
    )
    assert [s["names"] for s in one["series"]] == [["signup", "free"]]


def test_openpanel_events_parameter_with_ids_display_names_and_filters(
    server: RunningServer,
) -> None:
    pro = {"id": "f1", "name": "properties.plan", "operator": "is", "value": ["pro"]}
    pro["type"] = "event"
    events = [{"id": "x1", "name": "signup", "displayName": "Sign-ups", "filters": [pro]}]
    data = chart(server, events=events, **RANGE)
    [series] = data["series"]
    assert series["id"] == "x1-Sign-ups"
    assert series["names"] == ["Sign-ups"]
    assert series["event"] == {"id": "x1", "name": "signup"}
    assert [p["count"] for p in series["data"]] == [1, 1, 0]


def test_ranges_follow_the_project_timezone(server: RunningServer) -> None:
    project = server.creds["projectId"]
    assert (
        main(
            [
                "--data-dir",
                str(server.data_dir),
                "project",
                "update",
                project,
                "--timezone",
                "Europe/Berlin",
            ]
        )
        == 0
    )
    try:
        data = chart(server, series=[{"name": "signup"}], **RANGE)
    finally:
        main(
            ["--data-dir", str(server.data_dir), "project", "update", project, "--timezone", "UTC"]
        )
    [series] = data["series"]
    assert [(p["date"], p["count"]) for p in series["data"]] == [
        ("2026-11-10T00:00:00+01:00", 2),
        ("2026-11-11T00:00:00+01:00", 1),
        ("2026-11-12T00:00:00+01:00", 1),  # 23:30Z on the 11th
    ]


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    return [f["field"] for f in r.json()["fields"]]


def test_bad_parameters_are_400s_naming_them(server: RunningServer) -> None:
    assert fields(get(server, **RANGE)) == ["series"]
    assert fields(get(server, series="[{", **RANGE)) == ["series"]
    assert fields(get(server, series=[{"name": "signup", "segment": "group"}])) == [
        "series.0.segment"
    ]
    assert fields(get(server, events=[{"name": "signup", "segment": "group"}])) == [
        "events.0.segment"
    ]
    assert fields(get(server, series=[{"name": "signup"}], interval="decade")) == ["interval"]
    assert fields(get(server, series=[{"name": "signup"}], range="custom")) == [
        "startDate",
        "endDate",
    ]
    unknown = {"name": "cohort", "operator": "inCohort", "value": ["coh_x"]}
    series = [{"name": "signup"}, {"name": "purchase", "filters": [unknown]}]
    assert fields(get(server, series=series)) == ["series.1.filters.0.value.0"]


def test_export_credentials(server: RunningServer) -> None:
    series = [{"name": "signup"}]
    assert get(server, {}, series=series).status_code == 401
    r = get(server, server.server_headers(), series=series)
    assert r.status_code == 401
    assert "not allowed" in r.json()["message"]
    r = get(server, series=series, projectId="someone-else")
    assert r.status_code == 403
    r = get(server, series=series, projectId=server.creds["projectId"], **RANGE)
    assert r.status_code == 200
