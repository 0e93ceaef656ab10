"""Filter operators against the engine, injection attempts, and regex validation.

Two projects: the fixed dataset (``proj``: 12 page views in the Monday..Wednesday range) and
``inj``, whose events carry hostile strings in every text column and property, so that an
exact match proves the value reached ClickHouse intact as a parameter, and a wrong match or
a syntax error would show that it changed the query.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from analytics_helpers import NOW, RANGE, context, load_dataset
from pydantic import ValidationError

from openpanel_server._analytics import (
    AnalyticsClient,
    EventNamesRequest,
    ExportRequest,
    FunnelRequest,
    ProfileListRequest,
    QueryContext,
    RetentionRequest,
    SessionListRequest,
    SessionRequest,
    TimeSeriesRequest,
    TopRequest,
    build_event_names,
    build_profile_list,
    build_session_detail,
    event_names,
    funnel,
    list_profiles,
    list_sessions,
    open_export,
    retention,
    session_detail,
    time_series,
    top_values,
)
from openpanel_server._store import EventRow, Store, open_store
from openpanel_server._store._readers import analytics_client

UTC = timezone.utc

HOSTILE = [
    "') OR 1=1 --",
    "' OR '1'='1",
    "\\",
    "\\'",
    "back\\slash\\",
    '"; DROP TABLE events; --',
    "{p0:String}",
    "}) UNION ALL SELECT name FROM system.tables --",
    "%",
    "_",
    "50%_off",
    "ünï𝄞cödé ☃",
    "tab\there\nnewline",
    "`tick`",
    "x" * 9_999,
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(None, tmp_path_factory.mktemp("analytics-filters"))
    try:
        load_dataset(s)
        base = datetime(2026, 3, 3, 12, tzinfo=UTC)
        s.insert_events(
            [
                EventRow(
                    id=f"inj-{i}",
                    project_id="inj",
                    name=value[:200],
                    created_at=base + timedelta(minutes=i),
                    device_id=f"dev-{i}",
                    profile_id=f"dev-{i}",
                    session_id=f"sess-{i}",
                    path=value,
                    referrer_name=value,
                    properties={value[:256]: value, "plain": value},
                    groups=[value],
                )
                for i, value in enumerate(HOSTILE)
            ]
        )
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def client(store: Store) -> AnalyticsClient:
    return analytics_client(store)  # pyright: ignore[reportReturnType]


def _count(
    client: AnalyticsClient,
    filters: list[dict[str, Any]],
    name: str = "screen_view",
    ctx: QueryContext | None = None,
) -> float:
    request = TimeSeriesRequest.model_validate(
        {**RANGE, "series": [{"name": name}], "filters": filters}
    )
    return time_series(client, request, ctx or context()).series[0].metrics.sum


def _f(name: str, operator: str, *value: Any) -> dict[str, Any]:
    return {"name": name, "operator": operator, "value": list(value)}


@pytest.mark.parametrize(
    ("flt", "name", "expected"),
    [
        (_f("path", "is", "/pricing"), "screen_view", 4),
        (_f("path", "is", "/pricing", "/docs"), "screen_view", 6),
        (_f("path", "isNot", "/home", "/pricing"), "screen_view", 4),
        (_f("path", "contains", "PRIC"), "screen_view", 4),  # case-insensitive, like ILIKE
        (_f("path", "contains", "doc", "check"), "screen_view", 4),
        (_f("path", "doesNotContain", "o"), "screen_view", 4),
        (_f("path", "startsWith", "/CH"), "screen_view", 2),
        (_f("path", "endsWith", "ing"), "screen_view", 4),
        (_f("path", "endsWith", "S", "e"), "screen_view", 6),
        (_f("path", "regex", "^/(home|docs)$"), "screen_view", 6),
        (_f("path", "regex", "^/h", "s$"), "screen_view", 6),
        (_f("path", "isNull"), "*", 1),  # the server-side event
        (_f("path", "isNotNull"), "*", 26),
        (_f("country", "is", "DE"), "screen_view", 5),
        (_f("referrerName", "is", "Google"), "screen_view", 7),
        (_f("properties.plan", "is", "pro"), "*", 1),
        (_f("properties.price", "gt", 5), "*", 3),
        (_f("properties.price", "gte", "10"), "*", 3),
        (_f("properties.price", "lt", 10), "*", 1),
        (_f("properties.price", "lte", 10.0), "*", 3),
        (_f("properties.price", "gt", 30, -1), "*", 4),  # values are ORed
        (_f("properties.price", "isNull"), "*", 23),
        (_f("properties.price", "isNotNull"), "*", 4),
        (_f("properties.amount", "gt", 5), "*", 1),  # "5.5"
        (_f("properties.product.id", "is", "p-2"), "*", 1),  # a dotted key
        (_f("properties.__query.utm_source", "is", "newsletter"), "*", 2),
        (_f("properties.price", "regex", "^[12]"), "*", 3),
        (_f("revenue", "gt", 0), "*", 3),
        (_f("revenue", "is", 1000, 500), "*", 2),
        (_f("revenue", "isNot", 0), "*", 3),
        (_f("duration", "gte", 180000), "*", 3),
        (_f("revenue", "isNull"), "*", 24),
        (_f("longitude", "isNotNull"), "*", 7),
        (_f("latitude", "isNull"), "*", 20),
        (_f("longitude", "lt", 20), "*", 7),
        (_f("created_at", "gte", "2026-03-04T00:00:00Z"), "*", 10),
        (_f("created_at", "lt", "2026-03-03T00:00:00+00:00", "2026-03-04T09:00:00+09:00"), "*", 17),
        (_f("groups", "is", "acme"), "*", 1),
        (_f("groups", "contains", "CM"), "*", 1),
        (_f("groups", "isNot", "acme"), "*", 26),
        (_f("groups", "isNotNull"), "*", 1),
        (_f("groups", "isNull"), "*", 26),
        (_f("cohort", "inCohort", "buyers"), "screen_view", 5),
        (_f("cohort", "notInCohort", "buyers"), "screen_view", 7),
        (_f("cohort", "inCohort", "buyers", "viewers3"), "screen_view", 9),
        (_f("cohort", "notInCohort", "buyers", "viewers3"), "screen_view", 3),
        (_f("cohort", "inCohort", "pro_buyers"), "*", 12),
    ],
)
def test_operators(
    client: AnalyticsClient, flt: dict[str, Any], name: str, expected: float
) -> None:
    assert _count(client, [flt], name) == expected


def test_filters_are_anded(client: AnalyticsClient) -> None:
    both = [_f("path", "is", "/pricing"), _f("country", "is", "FR")]
    assert _count(client, both) == 2


# -- injection ------------------------------------------------------------------------------

INJ = QueryContext(project_id="inj", now=NOW)
INJ_RANGE = {"range": "custom", "startDate": "2026-03-03", "endDate": "2026-03-03"}


def _inj_count(client: AnalyticsClient, filters: list[dict[str, Any]]) -> float:
    request = TimeSeriesRequest.model_validate({**INJ_RANGE, "series": [{}], "filters": filters})
    return time_series(client, request, INJ).series[0].metrics.sum


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_values_match_exactly(client: AnalyticsClient, index: int) -> None:
    value = HOSTILE[index]
    total = len(HOSTILE)
    key = f"properties.{value[:256]}"
    # Exactly the one row that stores the value, through every text operator and field.
    assert _inj_count(client, [_f("path", "is", value)]) == 1
    assert _inj_count(client, [_f("path", "isNot", value)]) == total - 1
    assert _inj_count(client, [_f("referrer_name", "is", value)]) == 1
    assert _inj_count(client, [_f("properties.plain", "is", value)]) == 1
    assert _inj_count(client, [_f(key, "is", value)]) == 1
    assert _inj_count(client, [_f(key, "isNotNull")]) == 1
    assert _inj_count(client, [_f("groups", "is", value)]) == 1
    # startsWith/endsWith escape LIKE wildcards: "%" and "_" are literal characters.
    starts = sum(1 for v in HOSTILE if v.lower().startswith(value.lower()))
    ends = sum(1 for v in HOSTILE if v.lower().endswith(value.lower()))
    assert _inj_count(client, [_f("path", "startsWith", value)]) == starts
    assert _inj_count(client, [_f("path", "endsWith", value)]) == ends
    contained = sum(1 for v in HOSTILE if value.lower() in v.lower())
    assert _inj_count(client, [_f("path", "contains", value)]) == contained
    assert _inj_count(client, [_f("path", "doesNotContain", value)]) == total - contained
    # As event names and breakdown keys.
    named = TimeSeriesRequest.model_validate(
        {**INJ_RANGE, "series": [{"name": value[:200]}], "breakdowns": [{"name": key}]}
    )
    result = time_series(client, named, INJ)
    assert [(s.breakdown, s.metrics.sum) for s in result.series] == [([value], 1)]


def test_hostile_values_elsewhere(client: AnalyticsClient) -> None:
    value = HOSTILE[0]
    ctx = INJ
    steps = {"steps": [{"name": value}, {"name": HOSTILE[1]}], "windowHours": 24}
    result = funnel(client, FunnelRequest.model_validate({**INJ_RANGE, **steps}), ctx)
    assert [s.count for s in result.steps] == [1, 0]  # different devices: no conversion
    kept = retention(
        client,
        RetentionRequest.model_validate({**INJ_RANGE, "period": "day", "startEvent": value}),
        ctx,
    )
    assert [(c.size, c.retained) for c in kept.cohorts] == [(1, [1])]
    sessions = list_sessions(
        client,
        SessionListRequest.model_validate({**INJ_RANGE, "filters": [_f("path", "is", value)]}),
        ctx,
    )
    assert sessions.total == 0  # no sessions rows in this project, and no error
    top = top_values(
        client, TopRequest.model_validate({**INJ_RANGE, "dimension": "name", "limit": 100}), ctx
    )
    assert sorted(r.value for r in top.rows) == sorted(v[:200] for v in HOSTILE)
    exported = b"".join(
        open_export(
            client,
            ExportRequest.model_validate({**INJ_RANGE, "events": [value], "format": "csv"}),
            ctx,
        )
    )
    assert exported.count(b"\n") == 2  # header and one row
    # A hostile project id is just another (empty) project.
    assert _count(client, [], "*", QueryContext(project_id="proj' OR 1=1 --", now=NOW)) == 0


def test_hostile_values_in_the_lookups(client: AnalyticsClient) -> None:
    # Event names: each hostile name once, intact.
    names = event_names(client, EventNamesRequest(limit=100), INJ)
    assert sorted((n.name, n.count) for n in names.names) == sorted((v[:200], 1) for v in HOSTILE)
    ranged = event_names(client, EventNamesRequest.model_validate({**INJ_RANGE, "limit": 100}), INJ)
    assert len(ranged.names) == len(HOSTILE)
    benign_session = [q.sql for q in build_session_detail(SessionRequest(session_id="x"), INJ)]

    def profile_request(value: str) -> ProfileListRequest:
        return ProfileListRequest.model_validate(
            {**INJ_RANGE, "search": value[:500], "filters": [_f("path", "is", value)]}
        )

    benign_profiles = [q.sql for q in build_profile_list(profile_request("x"), INJ)]
    for i, value in enumerate(HOSTILE):
        # The query text is the same whatever the value (it travels as a parameter).
        request = SessionRequest(session_id=value[:500])
        assert [q.sql for q in build_session_detail(request, INJ)] == benign_session
        profiles = profile_request(value)
        assert [q.sql for q in build_profile_list(profiles, INJ)] == benign_profiles
        # A hostile session id finds nothing; each session finds its own hostile event.
        assert session_detail(client, request, INJ).events == []
        found = session_detail(client, SessionRequest(session_id=f"sess-{i}"), INJ)
        assert [(e.name, e.path) for e in found.events] == [(value[:200], value)]
        # Profiles filtered by a hostile value: none stored in this project, and no error.
        assert list_profiles(client, profiles, INJ).total == 0
    # The range of event_names is parameters too.
    sql = build_event_names(EventNamesRequest.model_validate(INJ_RANGE), INJ).sql
    assert "2026" not in sql and "inj" not in sql


def test_nothing_was_dropped_or_changed(client: AnalyticsClient) -> None:
    assert _inj_count(client, []) == len(HOSTILE)
    assert _count(client, [], "*") == 27


# -- regex validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(", "missing )"),
        ("') OR 1=1 --", "unexpected )"),  # match() alone would silently cut it at ")"
        ("(') OR 1=1 --(", "missing )"),
        ("[a-", "missing ]"),
        ("(?=lookahead)", "invalid perl operator"),  # valid in Python, not in RE2
        ("(a)\\1", "invalid escape"),  # backreferences: not RE2
        ("a{2,1}", "invalid repetition size"),
        ("x{1001}", "invalid repetition size"),
        ("\\", "trailing \\"),
    ],
)
def test_invalid_regex_is_a_validation_error(
    client: AnalyticsClient, pattern: str, reason: str
) -> None:
    filters = [_f("path", "is", "/"), _f("path", "regex", "^ok$", pattern)]
    with pytest.raises(ValidationError) as exc:
        _count(client, filters)
    error = exc.value.errors()[0]
    assert error["loc"] == ("filters", 1, "value", 1)
    assert error["type"] == "invalid_regex"
    assert reason in error["msg"].lower()
    assert error["input"] == pattern
    # Everywhere a filter can be: series, steps, cohorts and exports.
    series = TimeSeriesRequest.model_validate(
        {**RANGE, "series": [{"filters": [_f("path", "regex", pattern)]}]}
    )
    with pytest.raises(ValidationError) as exc:
        time_series(client, series, context())
    assert exc.value.errors()[0]["loc"] == ("series", 0, "filters", 0, "value", 0)
    steps = FunnelRequest.model_validate(
        {
            **RANGE,
            "steps": [
                {"name": "a"},
                {"name": "b", "filters": [_f("properties.k", "regex", pattern)]},
            ],
        }
    )
    with pytest.raises(ValidationError) as exc:
        funnel(client, steps, context())
    assert exc.value.errors()[0]["loc"] == ("steps", 1, "filters", 0, "value", 0)
    with pytest.raises(ValidationError):
        open_export(
            client,
            ExportRequest.model_validate({**RANGE, "filters": [_f("path", "regex", pattern)]}),
            context(),
        )


def test_valid_regex_with_quotes_and_backslashes(client: AnalyticsClient) -> None:
    assert _inj_count(client, [_f("path", "regex", "^' OR '1'='1$")]) == 1
    assert _inj_count(client, [_f("path", "regex", "^\\\\$")]) == 1  # one literal backslash
    assert _inj_count(client, [_f("path", "regex", "\\\\'$")]) == 1
    assert _inj_count(client, [_f("path", "regex", "^x{1000}")]) == 1
    assert _inj_count(client, [_f("path", "regex", "^(')\\) OR 1=1 --$")]) == 1
    assert _inj_count(client, [_f("path", "regex", "𝄞")]) == 1
