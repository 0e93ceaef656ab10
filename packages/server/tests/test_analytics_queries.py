"""Every analytics query against the fixed dataset of ``analytics_helpers`` (embedded chDB).

The expected numbers are worked out by hand from the table in that module's docstring. chDB
hosts one data directory per process, so this module opens one store (per xdist worker) and
closes it at teardown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from analytics_helpers import COHORTS, RANGE, at, battery, context, context_at, load_dataset
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from openpanel_server._analytics import (
    Analytics,
    AnalyticsClient,
    CohortActivityRequest,
    CohortDefinition,
    EventNamesRequest,
    Filter,
    FunnelRequest,
    OverviewRequest,
    PathsRequest,
    ProfileListRequest,
    QueryContext,
    RealtimeRequest,
    RetentionRequest,
    SankeyRequest,
    SessionListRequest,
    SessionRequest,
    TimeSeriesRequest,
    TopRequest,
    cohort_members,
    cohort_size,
    event_names,
    funnel,
    in_cohort,
    list_profiles,
    list_sessions,
    overview,
    paths,
    profile_detail,
    realtime,
    retention,
    sankey,
    session_detail,
    session_stats,
    time_series,
    top_values,
)
from openpanel_server._store import SessionRow, Store, open_store
from openpanel_server._store._readers import analytics_client


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(None, tmp_path_factory.mktemp("analytics"))
    try:
        load_dataset(s)
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def client(store: Store) -> AnalyticsClient:
    return analytics_client(store)  # pyright: ignore[reportReturnType]


@pytest.fixture(scope="module")
def results(client: AnalyticsClient) -> dict[str, Any]:
    return battery(client)


def _counts(result: dict[str, Any], index: int = 0) -> list[float]:
    return [p["count"] for p in result["series"][index]["data"]]


def _series(client: AnalyticsClient, tz: str = "UTC", **payload: Any) -> dict[str, Any]:
    request = TimeSeriesRequest.model_validate({**RANGE, **payload})
    return time_series(client, request, context(tz)).model_dump(by_alias=True)


# -- time series ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "events", "users", "previous", "days"),
    [
        ("UTC", [10, 7, 10], [2, 1, 3], [0, 0, 3], ["2026-03-02T00:00:00+00:00"]),
        ("Asia/Tokyo", [10, 10, 10], [2, 2, 3], [0, 0, 0], ["2026-03-02T00:00:00+09:00"]),
        ("America/New_York", [10, 11, 6], [2, 2, 2], [0, 0, 3], ["2026-03-02T00:00:00-05:00"]),
    ],
)
def test_daily_events_and_visitors_in_project_timezones(
    results: dict[str, Any],
    tz: str,
    events: list[int],
    users: list[int],
    previous: list[int],
    days: list[str],
) -> None:
    chart = results[f"series_{tz}"]
    assert _counts(chart, 0) == events
    assert _counts(chart, 1) == users
    assert [p["previous"] for p in chart["series"][0]["data"]] == previous
    assert chart["series"][0]["data"][0]["date"] == days[0]
    metrics = chart["series"][0]["metrics"]
    assert metrics["sum"] == sum(events)
    assert metrics["min"] == min(events) and metrics["max"] == max(events)
    assert metrics["previous"]["sum"] == sum(previous)


def test_segments(client: AnalyticsClient) -> None:
    chart = _series(
        client,
        series=[
            {"name": "*", "segment": "session"},
            {"name": "*", "segment": "user_average"},
            {"name": "purchase", "segment": "property_sum", "property": "properties.price"},
            {"name": "*", "segment": "property_sum", "property": "revenue"},
            {"name": "signup", "segment": "property_average", "property": "properties.price"},
            {"name": "*", "segment": "property_max", "property": "duration"},
            {"name": "*", "segment": "one_event_per_user"},
        ],
    )
    assert _counts(chart, 0) == [2, 1, 2]  # the server-side event has no session
    assert [round(v, 3) for v in _counts(chart, 1)] == [5, 7, 3.333]
    assert _counts(chart, 2) == [10, 0, 25]
    assert _counts(chart, 3) == [1000, 0, 3000]
    assert _counts(chart, 4) == [10, 0, 0]  # pro at 10 on Monday, free at 0 on Tuesday
    assert _counts(chart, 5) == [240_000, 180_000, 360_000]
    assert _counts(chart, 6) == [2, 1, 3]


def test_intervals_and_week_alignment(client: AnalyticsClient) -> None:
    weeks = {"range": "custom", "startDate": "2026-02-23", "endDate": "2026-03-04"}
    utc = _series(client, series=[{}], interval="week", **weeks)
    assert [(p["date"], p["count"]) for p in utc["series"][0]["data"]] == [
        ("2026-02-23T00:00:00+00:00", 3),  # Sunday 03-01 belongs to the ISO week of 02-23
        ("2026-03-02T00:00:00+00:00", 27),
    ]
    tokyo = _series(client, "Asia/Tokyo", series=[{}], interval="week", **weeks)
    assert _counts(tokyo) == [0, 30]  # Sunday 20:00 UTC is Monday 05:00 in Tokyo
    hours = _series(
        client, series=[{}], interval="hour", startDate="2026-03-02", endDate="2026-03-02"
    )
    data = {p["date"][11:13]: p["count"] for p in hours["series"][0]["data"]}
    assert len(data) == 24
    assert (data["09"], data["10"], data["23"]) == (1, 6, 3)
    minutes = _series(
        client,
        "Asia/Kolkata",
        series=[{}],
        interval="minute",
        startDate="2026-03-02T10:00:00Z",
        endDate="2026-03-02T10:04:59Z",
    )
    assert [(p["date"], p["count"]) for p in minutes["series"][0]["data"]] == [
        (f"2026-03-02T15:3{m}:00+05:30", 2 if m == 4 else 1)  # purchase and session_end
        for m in range(5)
    ]
    month = _series(client, series=[{}], interval="month", range="monthToDate")
    assert [(p["date"], p["count"]) for p in month["series"][0]["data"]] == [
        ("2026-03-01T00:00:00+00:00", 30)
    ]
    assert month["start"] == "2026-03-01T00:00:00+00:00"
    assert month["end"] == "2026-03-06T00:00:00+00:00"


def test_breakdowns(results: dict[str, Any], client: AnalyticsClient) -> None:
    top_two = results["breakdown"]["series"]
    assert [(s["breakdown"], _counts({"series": [s]})) for s in top_two] == [
        (["DE"], [7, 0, 5]),
        (["FR"], [0, 7, 0]),
    ]
    plans = _series(client, series=[{"name": "signup"}], breakdowns=[{"name": "properties.plan"}])
    assert [(s["breakdown"], s["metrics"]["sum"]) for s in plans["series"]] == [
        (["free"], 1),
        (["pro"], 1),
    ]
    pairs = _series(
        client,
        series=[{"name": "screen_view", "segment": "user"}],
        breakdowns=[{"name": "country"}, {"name": "browser"}],
        limit=3,
    )
    assert [(s["breakdown"], s["metrics"]["sum"]) for s in pairs["series"]] == [
        (["DE", "Chrome"], 2),  # u1 on Monday and on Wednesday
        (["FR", "Firefox"], 1),
        (["JP", "Chrome"], 1),
    ]
    empty = _series(client, series=[{"name": "nothing"}], breakdowns=[{"name": "path"}])
    assert empty["series"] == []


def test_series_and_global_filters_combine(client: AnalyticsClient) -> None:
    chart = _series(
        client,
        series=[
            {
                "name": "screen_view",
                "filters": [{"name": "path", "operator": "is", "value": ["/pricing"]}],
            },
            {"name": "screen_view"},
        ],
        filters=[{"name": "country", "operator": "is", "value": ["DE", "FR"]}],
    )
    assert _counts(chart, 0) == [1, 2, 1]
    assert _counts(chart, 1) == [3, 4, 2]


def test_cohort_filter_in_a_series(client: AnalyticsClient) -> None:
    inside = _series(
        client, series=[{"name": "screen_view"}], filters=[in_cohort("buyers").model_dump()]
    )
    outside = _series(
        client,
        series=[{"name": "screen_view"}],
        filters=[in_cohort("buyers", negate=True).model_dump()],
    )
    assert inside["series"][0]["metrics"]["sum"] == 5
    assert outside["series"][0]["metrics"]["sum"] == 7


# -- funnels --------------------------------------------------------------------------------


def test_funnel(results: dict[str, Any]) -> None:
    result = results["funnel"]
    assert [(s["name"], s["count"], s["conversion"], s["dropoff"]) for s in result["steps"]] == [
        ("screen_view", 2, 100.0, 0),
        ("signup", 2, 100.0, 0),
        ("purchase", 1, 50.0, 1),
    ]
    assert result["totalConversion"] == 50.0
    assert [(g["breakdown"], [s["count"] for s in g["steps"]]) for g in result["breakdowns"]] == [
        (["DE"], [1, 1, 1]),
        (["FR"], [1, 1, 0]),
    ]


def _funnel(client: AnalyticsClient, **payload: Any) -> list[int]:
    steps = [
        {
            "name": "screen_view",
            "filters": [{"name": "path", "operator": "is", "value": ["/pricing"]}],
        },
        {"name": "signup"},
        {"name": "purchase"},
    ]
    request = FunnelRequest.model_validate({**RANGE, "steps": steps, **payload})
    return [s.count for s in funnel(client, request, context()).steps]


def test_funnel_window_and_grouping(client: AnalyticsClient) -> None:
    # 90 s: u1 signs up 60 s after /pricing but buys 180 s after; u2 signs up 150 s after.
    assert _funnel(client, windowHours=90 / 3600) == [2, 1, 0]
    assert _funnel(client, group="session") == [3, 2, 1]  # s4 views /pricing and buys, no signup
    assert _funnel(client, filters=[{"name": "country", "operator": "is", "value": ["FR"]}]) == [
        1,
        1,
        0,
    ]
    assert _funnel(client, range="custom", startDate="2026-01-01", endDate="2026-01-02") == [
        0,
        0,
        0,
    ]


# -- retention ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "activity", "cohorts", "average"),
    [
        # Sessions: u2's server-side invoice on Wednesday is not a visit.
        ("UTC", "sessions", [(2, [2, 0, 1]), (1, [1, 0]), (1, [1])], [100.0, 0.0, 50.0]),
        ("UTC", "events", [(2, [2, 0, 1]), (1, [1, 1]), (1, [1])], [100.0, 33.33, 50.0]),
        # In Tokyo d2's Sunday-evening visit (s6) is on Monday, and s2 on Tuesday.
        ("Asia/Tokyo", "sessions", [(2, [2, 1, 1]), (1, [1, 0]), (1, [1])], [100.0, 33.33, 50.0]),
        ("Asia/Tokyo", "events", [(2, [2, 1, 1]), (1, [1, 1]), (1, [1])], [100.0, 66.67, 50.0]),
        # In New York d4's visit (02:00 UTC Wednesday) is on Tuesday evening.
        ("America/New_York", "sessions", [(2, [2, 0, 1]), (2, [2, 0])], [100.0, 0.0, 50.0]),
        ("America/New_York", "events", [(2, [2, 0, 1]), (2, [2, 1])], [100.0, 25.0, 50.0]),
    ],
)
def test_daily_retention(
    client: AnalyticsClient,
    results: dict[str, Any],
    tz: str,
    activity: str,
    cohorts: list[tuple[int, list[int]]],
    average: list[float],
) -> None:
    request = RetentionRequest.model_validate({**RANGE, "period": "day", "activity": activity})
    table = retention(client, request, context(tz)).model_dump(by_alias=True)
    assert [(c["size"], c["retained"]) for c in table["cohorts"]] == cohorts
    assert table["average"] == average
    assert table["cohorts"][0]["date"].startswith("2026-03-02T00:00:00")
    if activity == "sessions":
        assert results[f"retention_{tz}"] == table  # the default


def test_retention_with_events_and_weeks(client: AnalyticsClient) -> None:
    ctx = context()
    chosen = retention(
        client,
        RetentionRequest.model_validate(
            {**RANGE, "period": "day", "startEvent": "signup", "returnEvent": "purchase"}
        ),
        ctx,
    )
    assert [(c.size, c.retained, c.rates) for c in chosen.cohorts] == [
        (1, [1, 0, 1], [100.0, 0.0, 100.0]),  # u1 bought on its signup day and two days later
        (1, [0, 0], [0.0, 0.0]),  # u2 never bought
    ]
    weeks = {
        "range": "custom",
        "startDate": "2026-02-23",
        "endDate": "2026-03-04",
        "period": "week",
    }
    utc = retention(client, RetentionRequest.model_validate(weeks), ctx)
    assert [(c.date, c.size, c.retained) for c in utc.cohorts] == [
        ("2026-02-23T00:00:00+00:00", 1, [1, 1]),  # d2: Sunday 03-01, back on Monday 03-02
        ("2026-03-02T00:00:00+00:00", 3, [3]),
    ]
    tokyo = retention(client, RetentionRequest.model_validate(weeks), context("Asia/Tokyo"))
    assert [(c.date, c.size, c.retained) for c in tokyo.cohorts] == [
        ("2026-03-02T00:00:00+09:00", 4, [4])
    ]


# -- cohorts --------------------------------------------------------------------------------


def test_cohort_membership(client: AnalyticsClient, results: dict[str, Any]) -> None:
    ctx = context()
    assert results["cohort_buyers"] == {"size": 1, "profileIds": ["u1"]}
    assert results["cohort_pro_buyers"] == {"size": 1, "profileIds": ["u1"]}
    assert cohort_size(client, COHORTS["pro"], ctx) == 1
    # At least 3 page views in the last 30 days: u1 (5) and u2 (4); d2 and d4 have 2 each.
    assert cohort_members(client, COHORTS["viewers3"], ctx).profile_ids == ["u1", "u2"]
    page = cohort_members(client, COHORTS["viewers3"], ctx, limit=1, offset=1)
    assert (page.size, page.profile_ids) == (2, ["u2"])
    beyond = cohort_members(client, COHORTS["viewers3"], ctx, limit=1, offset=5)
    assert (beyond.size, beyond.profile_ids) == (2, [])
    draft = CohortDefinition(
        id="draft", range="7d", filters=[Filter(name="country", operator="is", value=["JP", "US"])]
    )
    assert cohort_members(client, draft, ctx).profile_ids == ["d2", "d4"]
    assert cohort_size(client, CohortDefinition(id="none", events=["nothing"]), ctx) == 0
    # The range is resolved against "now": the same draft a month later is empty.
    assert cohort_size(client, draft, context_at(at("04-05 12:00"))) == 0


def test_cohort_activity(results: dict[str, Any]) -> None:
    data = results["cohort_activity"]["data"]
    assert [(p["users"], p["sessions"], p["events"]) for p in data] == [
        (1, 1, 7),
        (0, 0, 0),
        (1, 1, 5),
    ]


# -- paths and sankey -----------------------------------------------------------------------


def test_paths_from_entry(results: dict[str, Any]) -> None:
    assert [
        (s["paths"], s["count"], s["avgSecondsBetween"]) for s in results["paths"]["sequences"]
    ] == [
        (["/home"], 1, []),
        (["/home", "/docs"], 1, [20.0]),
        (["/home", "/pricing", "/checkout"], 1, [60.0, 120.0]),
        (["/home", "/pricing", "/docs"], 1, [30.0, 90.0]),  # the /pricing reload collapsed
        (["/pricing", "/checkout"], 1, [300.0]),
    ]


def test_paths_options(client: AnalyticsClient) -> None:
    ctx = context()

    def run(**payload: Any) -> list[tuple[list[str], int, list[float]]]:
        result = paths(client, PathsRequest.model_validate({**RANGE, **payload}), ctx)
        return [(s.paths, s.count, s.avg_seconds_between) for s in result.sequences]

    assert run(startPath="/pricing") == [
        (["/pricing", "/checkout"], 2, [210.0]),
        (["/pricing", "/docs"], 1, [90.0]),
    ]
    assert run(startPath="/pricing", collapseRepeats=False) == [
        (["/pricing", "/checkout"], 2, [210.0]),
        (["/pricing", "/pricing", "/docs"], 1, [10.0, 80.0]),
    ]
    assert run(steps=2, limit=1) == [(["/home", "/pricing"], 2, [45.0])]
    assert run(startPath="/nowhere") == []


def test_sankey(results: dict[str, Any], client: AnalyticsClient) -> None:
    links = [
        (x["step"], x["source"], x["target"], x["count"], x["avgSeconds"])
        for x in results["sankey"]["links"]
    ]
    assert links == [
        (1, "/home", "/pricing", 2, 45.0),
        (1, "/home", "/docs", 1, 20.0),
        (1, "/pricing", "/checkout", 1, 300.0),
        (2, "/pricing", "/checkout", 1, 120.0),
        (2, "/pricing", "/docs", 1, 90.0),
    ]
    nodes = [(n["step"], n["path"], n["count"]) for n in results["sankey"]["nodes"]]
    assert nodes[:2] == [(1, "/home", 3), (1, "/pricing", 1)]
    overall = sankey(client, SankeyRequest.model_validate({**RANGE, "byStep": False}), context())
    assert [(x.step, x.source, x.target, x.count, x.avg_seconds) for x in overall.links] == [
        (0, "/home", "/pricing", 2, 45.0),
        (0, "/pricing", "/checkout", 2, 210.0),
        (0, "/home", "/docs", 1, 20.0),
        (0, "/pricing", "/docs", 1, 90.0),
    ]
    assert overall.nodes == []
    one = sankey(client, SankeyRequest.model_validate({**RANGE, "limit": 1}), context())
    assert [(x.step, x.source, x.target) for x in one.links] == [
        (1, "/home", "/pricing"),
        (2, "/pricing", "/checkout"),
    ]


# -- overview, sessions, profiles, realtime -------------------------------------------------


def test_overview(results: dict[str, Any], client: AnalyticsClient) -> None:
    assert results["overview"]["metrics"] == {
        "visitors": 4,
        "sessions": 5,
        "screenViews": 12,
        "events": 27,
        "bounceRate": 20.0,  # s2
        "avgSessionDuration": 160.0,  # (240 + 0 + 180 + 20 + 360) / 5 s
        "viewsPerSession": 2.4,
    }
    assert results["overview"]["previous"] == {
        "visitors": 1,
        "sessions": 1,
        "screenViews": 1,
        "events": 3,
        "bounceRate": 100.0,
        "avgSessionDuration": 0.0,
        "viewsPerSession": 1.0,
    }
    ctx = context()
    german = overview(
        client,
        OverviewRequest.model_validate(
            {
                **RANGE,
                "previous": False,
                "filters": [{"name": "country", "operator": "is", "value": ["DE"]}],
            }
        ),
        ctx,
    )
    assert german.previous is None
    assert german.metrics.model_dump() == {
        "visitors": 1,
        "sessions": 2,
        "screen_views": 5,
        "events": 12,
        "bounce_rate": 0.0,
        "avg_session_duration": 300.0,
        "views_per_session": 2.5,
    }
    docs = overview(
        client,
        OverviewRequest.model_validate(
            {**RANGE, "filters": [{"name": "path", "operator": "is", "value": ["/docs"]}]}
        ),
        ctx,
    )
    # Events on /docs: both views, u2's signup, both session ends (exit page /docs).
    assert (docs.metrics.events, docs.metrics.visitors, docs.metrics.screen_views) == (5, 2, 2)
    assert (docs.metrics.sessions, docs.metrics.avg_session_duration) == (2, 100.0)


def _rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(v for v in row.values() if v is not None) for row in result["rows"]]


def test_top_lists(results: dict[str, Any], client: AnalyticsClient) -> None:
    assert _rows(results["top_path"]) == [
        ("/home", 4, 4),
        ("/pricing", 4, 2),
        ("/checkout", 2, 1),
        ("/docs", 2, 2),
    ]
    assert _rows(results["top_referrer_name"]) == [
        ("Google", 3, 2, 0.0, 206.667),
        ("", 1, 1, 100.0, 0.0),
        ("Twitter", 1, 1, 0.0, 180.0),
    ]
    assert [r[:2] for r in _rows(results["top_country"])] == [
        ("DE", 2),
        ("FR", 1),
        ("JP", 1),
        ("US", 1),
    ]
    assert [r[:2] for r in _rows(results["top_browser"])] == [
        ("Chrome", 3),
        ("Firefox", 1),
        ("Safari", 1),
    ]
    assert _rows(results["top_entry_path"]) == [
        ("/home", 4, 4, 25.0, 110.0),
        ("/pricing", 1, 1, 0.0, 360.0),
    ]
    names = top_values(
        client, TopRequest.model_validate({**RANGE, "dimension": "name", "limit": 2}), context()
    )
    assert [(r.value, r.count) for r in names.rows] == [("screen_view", 12), ("session_end", 5)]


def test_session_list_and_stats(results: dict[str, Any], client: AnalyticsClient) -> None:
    assert results["sessions"]["total"] == 2
    assert [s["id"] for s in results["sessions"]["sessions"]] == ["s5", "s3"]
    assert results["session_stats"] == {
        "sessions": 5,
        "visitors": 4,
        "avgDuration": 160.0,
        "bounceRate": 20.0,
        "avgScreenViews": 2.4,
        "avgEvents": 5.2,
    }
    ctx = context()

    def ids(**payload: Any) -> tuple[int, list[str]]:
        result = list_sessions(client, SessionListRequest.model_validate({**RANGE, **payload}), ctx)
        return result.total, [s.id for s in result.sessions]

    assert ids() == (5, ["s4", "s5", "s3", "s2", "s1"])
    assert ids(page=2, limit=2) == (5, ["s3", "s2"])
    assert ids(filters=[{"name": "country", "operator": "is", "value": ["DE"]}]) == (
        2,
        ["s4", "s1"],
    )
    assert ids(filters=[{"name": "name", "operator": "is", "value": ["signup"]}]) == (
        2,
        ["s3", "s1"],
    )
    assert ids(filters=[in_cohort("buyers").model_dump()]) == (2, ["s4", "s1"])
    s1 = list_sessions(
        client, SessionListRequest.model_validate({**RANGE, "page": 5, "limit": 1}), ctx
    )
    first = s1.sessions[0]  # the final version of the replaced row, not the live one
    assert (first.id, first.screen_view_count, first.duration, first.is_bounce) == (
        "s1",
        3,
        240_000,
        False,
    )
    assert (first.entry_path, first.exit_path, first.country, first.referrer_name) == (
        "/home",
        "/checkout",
        "DE",
        "Google",
    )
    assert first.created_at == "2026-03-02T09:59:59.900Z"
    stats = session_stats(
        client,
        SessionListRequest.model_validate(
            {**RANGE, "filters": [{"name": "browser", "operator": "is", "value": ["Chrome"]}]}
        ),
        ctx,
    )
    assert (stats.sessions, stats.bounce_rate, stats.avg_duration) == (3, 0.0, 206.667)


def test_profiles(results: dict[str, Any], client: AnalyticsClient) -> None:
    listed = results["profiles"]
    assert listed["total"] == 2
    assert [(p["id"], p["email"]) for p in listed["profiles"]] == [
        ("u2", "bob@example.com"),  # the newest version (FINAL)
        ("u1", "ann@example.com"),
    ]
    ctx = context()

    def ids(**payload: Any) -> tuple[int, list[str]]:
        result = list_profiles(client, ProfileListRequest.model_validate(payload), ctx)
        return result.total, [p.id for p in result.profiles]

    assert ids(search="ANN") == (1, ["u1"])
    assert ids(search="bob@") == (1, ["u2"])
    assert ids(search="old@") == (0, [])  # only the replaced version had it
    assert ids(isExternal=True) == (1, ["u1"])
    assert ids(page=2, limit=1) == (2, ["u1"])
    detail = results["profile_u1"]
    assert detail["profile"]["firstName"] == "Ann"
    assert detail["metrics"] == {
        "firstSeen": "2026-02-20T11:59:59.900Z",  # the anonymous visit of device d1
        "lastSeen": "2026-03-04T09:06:01.000Z",
        "events": 15,
        "sessions": 3,
        "screenViews": 6,
        "revenue": 3500,
        "avgSessionDuration": 200.0,
    }
    assert [e["id"] for e in detail["events"]][:2] == ["s4-04", "s4-03"]
    assert {e["profileId"] for e in detail["events"]} == {"u1", "d1"}
    anonymous = profile_detail(client, ctx, "d4")
    assert anonymous.profile is None
    assert (anonymous.metrics.events, anonymous.metrics.sessions) == (4, 1)
    u2 = profile_detail(client, ctx, "u2", events_limit=1)
    assert (u2.metrics.events, u2.metrics.revenue, [e.id for e in u2.events]) == (
        8,
        500,
        ["srv-01"],
    )
    ghost = profile_detail(client, ctx, "ghost")
    assert (ghost.metrics.events, ghost.metrics.first_seen, ghost.events) == (0, None, [])


def test_profiles_in_a_range_and_with_filters(client: AnalyticsClient) -> None:
    ctx = context()

    def ids(ctx: Any = ctx, **payload: Any) -> tuple[int, list[str]]:
        result = list_profiles(client, ProfileListRequest.model_validate(payload), ctx)
        return result.total, [p.id for p in result.profiles]

    def day(text: str) -> dict[str, str]:
        return {"range": "custom", "startDate": text, "endDate": text}

    # Profiles with an event of their own in the range: u1 (s1 Mon, s4 Wed), u2 (s3 Tue and
    # the server event Wed). d2 and d4 have events but no stored profile.
    assert ids(**RANGE) == (2, ["u2", "u1"])
    assert ids(**day("2026-03-02")) == (1, ["u1"])
    assert ids(**day("2026-03-03")) == (1, ["u2"])
    assert ids(**day("2026-03-04")) == (2, ["u2", "u1"])
    assert ids(range="today") == (0, [])  # Thursday: nobody yet
    assert ids(range="7d") == (2, ["u2", "u1"])
    # The project timezone: Tuesday in New York is Tue 05:00 to Wed 05:00 UTC (s3 only), and
    # Monday in Tokyo (Sun 15:00 to Mon 15:00 UTC) holds s1's 10:00 visit.
    assert ids(context("America/New_York"), **day("2026-03-03")) == (1, ["u2"])
    assert ids(context("America/New_York"), **day("2026-03-01")) == (0, [])
    assert ids(context("Asia/Tokyo"), **day("2026-03-02")) == (1, ["u1"])

    def only(name: str, op: str, *values: str) -> list[dict[str, Any]]:
        return [{"name": name, "operator": op, "value": list(values)}]

    # Filters alone look at all time; with a range, at the range.
    assert ids(filters=only("name", "is", "purchase")) == (1, ["u1"])
    assert ids(filters=only("country", "is", "FR")) == (1, ["u2"])
    assert ids(filters=only("properties.plan", "is", "free", "pro")) == (2, ["u2", "u1"])
    assert ids(filters=only("name", "is", "invoice_paid"), **day("2026-03-03")) == (0, [])
    assert ids(filters=only("name", "is", "invoice_paid"), **day("2026-03-04")) == (1, ["u2"])
    assert ids(filters=only("path", "regex", "^/check")) == (1, ["u1"])
    assert ids(filters=[in_cohort("buyers").model_dump()]) == (1, ["u1"])
    both = only("name", "is", "signup") + only("browser", "is", "Firefox")
    assert ids(filters=both) == (1, ["u2"])  # one event matching every filter
    # Combined with search, the external flag and paging.
    assert ids(search="ann", **day("2026-03-03")) == (0, [])
    assert ids(isExternal=False, **RANGE) == (1, ["u2"])
    assert ids(page=2, limit=1, **RANGE) == (2, ["u1"])
    assert ids(page=3, limit=1, **RANGE) == (2, [])  # past the end: still the total
    assert ids(page=2, **RANGE) == (2, [])
    # Another project's event of "u1" never counts.
    assert ids(**day("2026-03-03"), filters=only("country", "is", "DE")) == (0, [])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"startDate": "2026-03-02"}, "startDate"),
        ({"range": "custom", "startDate": "2026-03-02"}, "endDate"),
        ({"range": "week"}, "range"),
        ({"filters": [{"name": "nope", "operator": "is", "value": ["x"]}]}, "filters"),
    ],
)
def test_profile_list_range_errors_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ProfileListRequest.model_validate(payload)
    # A field validated from its default is located by its Python name (the API renames it).
    assert to_camel(str(caught.value.errors()[0]["loc"][0])) == field


def test_profile_list_range_order_and_regex_are_checked(client: AnalyticsClient) -> None:
    backwards = {"range": "custom", "startDate": "2026-03-04", "endDate": "2026-03-02"}
    with pytest.raises(ValidationError) as caught:
        list_profiles(client, ProfileListRequest.model_validate(backwards), context())
    assert caught.value.errors()[0]["loc"] == ("endDate",)
    bad = {"filters": [{"name": "path", "operator": "regex", "value": ["(unclosed"]}]}
    with pytest.raises(ValidationError) as caught:
        list_profiles(client, ProfileListRequest.model_validate(bad), context())
    assert caught.value.errors()[0]["loc"] == ("filters", 0, "value", 0)


def test_session_by_id_with_its_events_in_order(client: AnalyticsClient) -> None:
    ctx = context()
    s1 = session_detail(client, SessionRequest(session_id="s1"), ctx)
    assert s1.session is not None  # the final version of the replaced row
    assert (s1.session.id, s1.session.screen_view_count, s1.session.duration) == (
        "s1",
        3,
        240_000,
    )
    assert (s1.session.entry_path, s1.session.exit_path, s1.session.is_bounce) == (
        "/home",
        "/checkout",
        False,
    )
    assert [(e.id, e.name, e.path) for e in s1.events] == [
        ("s1-00", "session_start", "/home"),
        ("s1-01", "screen_view", "/home"),
        ("s1-02", "screen_view", "/pricing"),
        ("s1-03", "signup", "/pricing"),
        ("s1-04", "screen_view", "/checkout"),
        ("s1-05", "purchase", "/checkout"),
        ("s1-06", "session_end", "/checkout"),
    ]
    assert s1.events[3].properties == {"plan": "pro", "price": "10"}
    assert s1.more_events is False
    first = session_detail(
        client, SessionRequest.model_validate({"sessionId": "s1", "eventsLimit": 2}), ctx
    )
    assert ([e.id for e in first.events], first.more_events) == (["s1-00", "s1-01"], True)
    # Any age: s0 (Feb 20) opens two years later, when no preset range reaches it.
    later = context_at(datetime(2028, 3, 1, tzinfo=timezone.utc))
    s0 = session_detail(client, SessionRequest(session_id="s0"), later)
    assert s0.session is not None and s0.session.created_at == "2026-02-20T11:59:59.900Z"
    assert [e.name for e in s0.events] == ["session_start", "screen_view", "session_end"]
    # Unknown, and another project's session: nothing.
    ghost = session_detail(client, SessionRequest(session_id="ghost"), ctx)
    assert (ghost.session, ghost.events, ghost.more_events) == (None, [], False)
    other = session_detail(client, SessionRequest(session_id="x1"), ctx)
    assert (other.session, other.events) == (None, [])
    there = session_detail(client, SessionRequest(session_id="x1"), QueryContext("other"))
    assert (there.session, [e.id for e in there.events]) == (None, ["oth-01"])


def test_session_by_id_follows_versions_and_cancellations(
    store: Store, client: AnalyticsClient
) -> None:
    # Its own project: a session replaced twice, and one cancelled without a replacement.
    ctx = QueryContext("versions")
    base = SessionRow(
        id="v",
        project_id="versions",
        created_at=at("03-01 10:00"),
        ended_at=at("03-01 10:05"),
        version=1,
        entry_path="/a",
    )
    rows = [
        base,
        dataclasses.replace(base, sign=-1),
        dataclasses.replace(base, version=2, entry_path="/b"),
        dataclasses.replace(base, version=2, entry_path="/b", sign=-1),
        dataclasses.replace(base, version=3, entry_path="/c"),
        dataclasses.replace(base, id="gone"),
        dataclasses.replace(base, id="gone", sign=-1),
    ]
    store.insert_sessions(rows[:3])  # in two parts, so nothing is merged away yet
    store.insert_sessions(rows[3:])
    found = session_detail(client, SessionRequest(session_id="v"), ctx).session
    assert found is not None and found.entry_path == "/c"
    assert session_detail(client, SessionRequest(session_id="gone"), ctx).session is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "sessionId"),
        ({"sessionId": ""}, "sessionId"),
        ({"sessionId": "s", "eventsLimit": 0}, "eventsLimit"),
    ],
)
def test_session_request_errors_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SessionRequest.model_validate(payload)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_event_names_with_counts(client: AnalyticsClient) -> None:
    def names(ctx: Any = None, **payload: Any) -> tuple[list[tuple[str, int]], bool]:
        request = EventNamesRequest.model_validate(payload)
        result = event_names(client, request, ctx or context())
        return [(n.name, n.count) for n in result.names], result.more

    # All time: 7 sessions (14 views), 2 signups, 2 purchases, the server event.
    assert names() == (
        [
            ("screen_view", 14),
            ("session_end", 7),
            ("session_start", 7),
            ("purchase", 2),
            ("signup", 2),
            ("invoice_paid", 1),
        ],
        False,
    )
    # Mon..Wed: without s0 (Feb 20) and s6 (Sun 1 March).
    assert names(**RANGE)[0] == [
        ("screen_view", 12),
        ("session_end", 5),
        ("session_start", 5),
        ("purchase", 2),
        ("signup", 2),
        ("invoice_paid", 1),
    ]
    # Mon..Wed in Tokyo starts Sunday 15:00 UTC: s6 (Sunday 20:00 UTC) is in.
    assert names(context("Asia/Tokyo"), **RANGE)[0][:3] == [
        ("screen_view", 13),
        ("session_end", 6),
        ("session_start", 6),
    ]
    assert names(limit=2) == ([("screen_view", 14), ("session_end", 7)], True)
    assert names(limit=6)[1] is False
    assert names(range="today") == ([], False)
    assert names(QueryContext("other")) == ([("screen_view", 1)], False)
    with pytest.raises(ValidationError) as caught:
        EventNamesRequest.model_validate({"limit": 0})
    assert caught.value.errors()[0]["loc"] == ("limit",)


def test_realtime(results: dict[str, Any], client: AnalyticsClient) -> None:
    live = results["realtime"]
    assert (live["visitors"], live["sessions"], live["events"]) == (1, 1, 5)
    assert len(live["minutes"]) == 31
    busy = {m["date"][11:16]: m["events"] for m in live["minutes"] if m["events"]}
    assert busy == {"08:59": 1, "09:00": 1, "09:05": 1, "09:06": 2}
    assert [(t["value"], t["visitors"], t["events"]) for t in live["pages"]] == [
        ("/checkout", 1, 3),
        ("/pricing", 1, 2),
    ]
    assert [t["value"] for t in live["referrers"]] == ["Google"]
    assert [t["value"] for t in live["countries"]] == ["DE"]
    ctx = context_at(at("03-04 09:10"), "Asia/Tokyo")
    filtered = realtime(
        client,
        RealtimeRequest.model_validate(
            {"minutes": 5, "filters": [{"name": "path", "operator": "is", "value": ["/checkout"]}]}
        ),
        ctx,
    )
    assert (filtered.events, filtered.visitors) == (3, 1)
    assert filtered.minutes[0].date == "2026-03-04T18:05:00+09:00"


def test_the_facade_runs_every_query(store: Store, results: dict[str, Any]) -> None:
    analytics = Analytics(store)
    ctx = context()

    def dump(model: Any) -> Any:
        return model.model_dump(by_alias=True)

    assert (
        dump(analytics.overview(OverviewRequest.model_validate(RANGE), ctx)) == results["overview"]
    )
    top = analytics.top(TopRequest.model_validate({**RANGE, "dimension": "path"}), ctx)
    assert dump(top) == results["top_path"]
    series = TimeSeriesRequest.model_validate(
        {**RANGE, "series": [{"name": "*"}], "breakdowns": [{"name": "country"}], "limit": 2}
    )
    assert dump(analytics.time_series(series, ctx)) == results["breakdown"]
    retained = analytics.retention(RetentionRequest.model_validate({**RANGE, "period": "day"}), ctx)
    assert dump(retained) == results["retention_UTC"]
    assert dump(analytics.paths(PathsRequest.model_validate(RANGE), ctx)) == results["paths"]
    assert dump(analytics.sankey(SankeyRequest.model_validate(RANGE), ctx)) == results["sankey"]
    assert analytics.cohort_size(COHORTS["buyers"], ctx) == 1
    members = analytics.cohort_members(COHORTS["viewers3"], ctx, limit=1)
    assert (members.size, members.profile_ids) == (2, ["u1"])
    activity = CohortActivityRequest.model_validate({**RANGE, "cohortId": "buyers"})
    assert dump(analytics.cohort_activity(activity, ctx)) == results["cohort_activity"]
    sessions = SessionListRequest.model_validate(RANGE)
    assert analytics.sessions(sessions, ctx).total == 5
    assert dump(analytics.session_stats(sessions, ctx)) == results["session_stats"]
    assert dump(analytics.profiles(ProfileListRequest(), ctx)) == results["profiles"]
    assert dump(analytics.profile("u1", ctx)) == results["profile_u1"]
    live = analytics.realtime(RealtimeRequest(minutes=30), context_at(at("03-04 09:10")))
    assert dump(live) == results["realtime"]
    steps = [{"name": "signup"}, {"name": "purchase"}]
    converted = analytics.funnel(FunnelRequest.model_validate({**RANGE, "steps": steps}), ctx)
    assert [s.count for s in converted.steps] == [2, 1]
