"""Analytics request models, ranges and buckets, and the purity of the SQL builders.

No engine here: these check validation (errors name the field), the calendar arithmetic in
project timezones, and that every caller-supplied value reaches a built query only as a
parameter, never in its SQL text.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from analytics_helpers import COHORTS, NOW, PROJECT, context
from pydantic import ValidationError

from openpanel_server._analytics import (
    CohortActivityRequest,
    CohortDefinition,
    EventNamesRequest,
    ExportRequest,
    Filter,
    FunnelRequest,
    OverviewRequest,
    PathsRequest,
    ProfileListRequest,
    Query,
    QueryContext,
    RangeFields,
    RetentionRequest,
    SankeyRequest,
    SessionListRequest,
    SessionRequest,
    TimeSeriesRequest,
    TopRequest,
    Window,
    bucket_starts,
    build_cohort_activity,
    build_cohort_members,
    build_event_names,
    build_export,
    build_funnel,
    build_overview_events,
    build_paths,
    build_profile_events,
    build_profile_list,
    build_retention,
    build_sankey,
    build_session_detail,
    build_session_list,
    build_time_series,
    build_top,
    resolve_window,
)

UTC = timezone.utc


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[tuple[Any, ...], str]]:
    return [(tuple(e["loc"]), e["msg"]) for e in exc.value.errors()]


# -- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "loc", "fragment"),
    [
        (
            {"name": "path; DROP TABLE events", "operator": "is", "value": ["x"]},
            ("name",),
            "unknown field",
        ),
        ({"name": "properties.", "operator": "is", "value": ["x"]}, ("name",), "unknown field"),
        (
            {"name": "properties." + "k" * 257, "operator": "is", "value": ["x"]},
            ("name",),
            "unknown",
        ),
        ({"name": "sign", "operator": "is", "value": ["1"]}, ("name",), "unknown field"),
        ({"name": "path", "operator": "like", "value": ["x"]}, ("operator",), "Input should be"),
        ({"name": "path", "operator": "is", "value": []}, ("value",), "at least one value"),
        ({"name": "path", "operator": "gt", "value": ["3"]}, ("value",), "does not apply"),
        ({"name": "revenue", "operator": "contains", "value": ["3"]}, ("value",), "does not apply"),
        ({"name": "revenue", "operator": "gt", "value": ["lots"]}, ("value",), "could not convert"),
        ({"name": "revenue", "operator": "gt", "value": ["nan"]}, ("value",), "finite"),
        ({"name": "revenue", "operator": "is", "value": [True]}, ("value",), "boolean"),
        ({"name": "properties.price", "operator": "lt", "value": ["cheap"]}, ("value",), "convert"),
        ({"name": "created_at", "operator": "is", "value": ["2026-01-01"]}, ("value",), "apply"),
        (
            {"name": "created_at", "operator": "gt", "value": ["2026-01-01T00:00"]},
            ("value",),
            "offset",
        ),
        ({"name": "created_at", "operator": "gt", "value": ["soon"]}, ("value",), "isoformat"),
        ({"name": "groups", "operator": "regex", "value": ["a"]}, ("value",), "does not apply"),
        ({"name": "path", "operator": "inCohort", "value": ["c"]}, ("value",), "cohort"),
        ({"name": "cohort", "operator": "is", "value": ["c"]}, ("value",), "cohort"),
        (
            {"name": "path", "operator": "is", "value": ["x" * 10_001]},
            ("value",),
            "longer than 10000",
        ),
        (
            {"name": "path", "operator": "regex", "value": ["a" * 1001]},
            ("value",),
            "longer than 1000",
        ),
        ({"name": "path", "operator": "is", "value": ["x"] * 101}, ("value",), "at most 100"),
        (
            {"name": "path", "operator": "is", "value": ["x"], "extra": 1},
            ("extra",),
            "Extra inputs",
        ),
    ],
)
def test_bad_filters_name_the_field(
    payload: dict[str, Any], loc: tuple[Any, ...], fragment: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        Filter.model_validate(payload)
    errors = _errors(exc)
    assert errors[0][0] == loc, errors
    assert fragment in errors[0][1], errors


def test_filter_errors_are_located_inside_requests() -> None:
    payload = {
        "series": [{"name": "a", "filters": [{"name": "nope", "operator": "is", "value": ["x"]}]}],
        "filters": [
            {"name": "path", "operator": "is", "value": ["x"]},
            {"name": "path", "operator": "gt", "value": ["1"]},
        ],
    }
    with pytest.raises(ValidationError) as exc:
        TimeSeriesRequest.model_validate(payload)
    locs = [loc for loc, _ in _errors(exc)]
    assert ("series", 0, "filters", 0, "name") in locs
    assert ("filters", 1, "value") in locs


def test_filter_accepts_names_values_and_spellings() -> None:
    assert Filter(name="referrerName", operator="is", value=["Google"]).name == "referrer_name"
    assert Filter(name="properties.__query.utm_source", operator="is", value=["x"]).name == (
        "properties.__query.utm_source"
    )
    nulls = Filter(name="path", operator="isNull", value=["ignored"])
    assert nulls.value == []
    mixed = Filter(name="properties.flag", operator="is", value=[True, 3, 2.5, "x"])
    assert mixed.texts == ["true", "3", "2.5", "x"]
    assert Filter(name="revenue", operator="gte", value=["10", 2]).numbers == [10.0, 2.0]
    huge = "é" * 10_000
    assert Filter(name="path", operator="is", value=[huge]).value == [huge]


# -- ranges and buckets ---------------------------------------------------------------------

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def _window(zone: ZoneInfo, now: datetime, **fields: Any) -> tuple[str, str]:
    w = resolve_window(RangeFields.model_validate(fields), zone, now)
    return w.start.astimezone(zone).isoformat(), w.end.astimezone(zone).isoformat()


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("30min", "2026-03-05T20:30:00+09:00", "2026-03-05T21:00:00+09:00"),
        ("lastHour", "2026-03-05T20:00:00+09:00", "2026-03-05T21:00:00+09:00"),
        ("last24h", "2026-03-04T21:00:00+09:00", "2026-03-05T21:00:00+09:00"),
        ("today", "2026-03-05T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("yesterday", "2026-03-04T00:00:00+09:00", "2026-03-05T00:00:00+09:00"),
        ("7d", "2026-02-27T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("30d", "2026-02-04T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("3m", "2025-12-05T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("6m", "2025-09-05T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("12m", "2025-03-05T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("monthToDate", "2026-03-01T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("lastMonth", "2026-02-01T00:00:00+09:00", "2026-03-01T00:00:00+09:00"),
        ("yearToDate", "2026-01-01T00:00:00+09:00", "2026-03-06T00:00:00+09:00"),
        ("lastYear", "2025-01-01T00:00:00+09:00", "2026-01-01T00:00:00+09:00"),
    ],
)
def test_presets_count_local_days(preset: str, start: str, end: str) -> None:
    # 12:00 UTC is 21:00 in Tokyo: "today" is already Thursday the 5th there.
    assert _window(TOKYO, NOW, range=preset) == (start, end)


def test_today_follows_the_project_timezone() -> None:
    early = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)  # still the 4th in New York (22:00)
    assert _window(NEW_YORK, early, range="today") == (
        "2026-03-04T00:00:00-05:00",
        "2026-03-05T00:00:00-05:00",
    )
    # Month arithmetic clamps to the month's last day.
    assert _window(ZoneInfo("UTC"), datetime(2026, 5, 31, tzinfo=UTC), range="3m")[0] == (
        "2026-02-28T00:00:00+00:00"
    )


def test_custom_ranges() -> None:
    dates = {"range": "custom", "startDate": "2026-03-02", "endDate": "2026-03-04"}
    assert _window(TOKYO, NOW, **dates) == (
        "2026-03-02T00:00:00+09:00",
        "2026-03-05T00:00:00+09:00",
    )
    naive = {
        "range": "custom",
        "startDate": "2026-03-02T10:00:00",
        "endDate": "2026-03-02T11:00:00",
    }
    assert _window(TOKYO, NOW, **naive) == (
        "2026-03-02T10:00:00+09:00",
        "2026-03-02T11:00:00.001000+09:00",
    )
    aware = {
        "range": "custom",
        "startDate": "2026-03-02T10:00:00Z",
        "endDate": "2026-03-02T11:00:00Z",
    }
    assert _window(TOKYO, NOW, **aware)[0] == "2026-03-02T19:00:00+09:00"
    fields = RangeFields.model_validate(dates)
    assert isinstance(fields.start_date, date) and not isinstance(fields.start_date, datetime)
    with pytest.raises(ValidationError) as exc:
        RangeFields.model_validate({"range": "custom", "startDate": "2026-03-02"})
    assert "needs startDate and endDate" in _errors(exc)[0][1]
    with pytest.raises(ValidationError) as exc:
        resolve_window(RangeFields.model_validate({**dates, "startDate": "2026-03-05"}), TOKYO, NOW)
    assert _errors(exc)[0][0] == ("endDate",)
    with pytest.raises(ValidationError) as exc:
        RangeFields.model_validate({"range": "forever"})
    assert _errors(exc)[0][0] == ("range",)


def _local(zone: ZoneInfo, starts: list[datetime]) -> list[str]:
    return [s.astimezone(zone).isoformat() for s in starts]


def test_buckets_in_local_time() -> None:
    # New York switches to daylight time on Sunday 2026-03-08: a 23-hour day.
    window = Window(datetime(2026, 3, 7, 5, tzinfo=UTC), datetime(2026, 3, 10, 4, tzinfo=UTC))
    assert _local(NEW_YORK, bucket_starts(window, "day", NEW_YORK)) == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
    ]
    hours = bucket_starts(
        Window(datetime(2026, 3, 8, 6, tzinfo=UTC), datetime(2026, 3, 8, 8, 30, tzinfo=UTC)),
        "hour",
        NEW_YORK,
    )
    assert _local(NEW_YORK, hours) == [
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30: local hours start at :30 UTC
    hours = bucket_starts(
        Window(datetime(2026, 3, 2, 0, 10, tzinfo=UTC), datetime(2026, 3, 2, 1, 40, tzinfo=UTC)),
        "hour",
        kolkata,
    )
    assert [h.isoformat() for h in hours] == [
        "2026-03-01T23:30:00+00:00",
        "2026-03-02T00:30:00+00:00",
        "2026-03-02T01:30:00+00:00",
    ]
    weeks = bucket_starts(
        Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 17, tzinfo=UTC)), "week", TOKYO
    )
    assert _local(TOKYO, weeks) == [
        "2026-02-23T00:00:00+09:00",
        "2026-03-02T00:00:00+09:00",
        "2026-03-09T00:00:00+09:00",
        "2026-03-16T00:00:00+09:00",
    ]
    months = bucket_starts(
        Window(datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)), "month", TOKYO
    )
    assert _local(TOKYO, months)[0] == "2026-01-01T00:00:00+09:00"
    assert len(months) == 4  # Jan, Feb, Mar, and Apr 1 09:00 JST is before the end


def test_too_many_buckets_is_an_interval_error() -> None:
    window = Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError) as exc:
        bucket_starts(window, "minute", ZoneInfo("UTC"))
    assert _errors(exc)[0][0] == ("interval",)


def test_context_validates_the_timezone() -> None:
    for bad in ("Mars/Olympus", "", " UTC", "../../etc/passwd", "UTC'; DROP"):
        with pytest.raises(ValidationError) as exc:
            QueryContext(project_id=PROJECT, timezone=bad)
        assert _errors(exc)[0][0] == ("timezone",)
    with pytest.raises(ValidationError):
        QueryContext(project_id=PROJECT, now=datetime(2026, 1, 1))  # noqa: DTZ001
    assert QueryContext(project_id=PROJECT, timezone="Europe/Berlin").zone.key == "Europe/Berlin"


def test_model_spellings_and_dumps() -> None:
    req = FunnelRequest.model_validate(
        {"steps": [{"name": "a"}, {"name": "b"}], "windowHours": 2, "group": "session"}
    )
    assert req.window_hours == 2
    assert FunnelRequest(steps=req.steps, window_hours=3).window_hours == 3
    with pytest.raises(ValidationError) as exc:
        FunnelRequest.model_validate({"steps": [{"name": "a"}]})
    assert _errors(exc)[0][0] == ("steps",)
    with pytest.raises(ValidationError) as exc:
        TimeSeriesRequest.model_validate({"series": [{"segment": "property_sum"}]})
    assert _errors(exc)[0][0] == ("series", 0)
    with pytest.raises(ValidationError) as exc:
        TimeSeriesRequest.model_validate(
            {"series": [{"segment": "property_sum", "property": "path"}]}
        )
    assert _errors(exc)[0][0] == ("series", 0, "property")
    with pytest.raises(ValidationError) as exc:
        TimeSeriesRequest.model_validate({"series": [{}], "breakdowns": [{"name": "created_at"}]})
    assert _errors(exc)[0][0] == ("breakdowns", 0, "name")
    with pytest.raises(ValidationError) as exc:
        ExportRequest.model_validate({"includes": ["properties", "password"]})
    assert _errors(exc)[0][0] == ("includes",)
    dumped = CohortActivityRequest(cohort_id="c").model_dump(by_alias=True)
    assert dumped["cohortId"] == "c" and dumped["startDate"] is None


# -- SQL purity -----------------------------------------------------------------------------

NASTY = [
    "') OR 1=1 --",
    "' OR '1'='1",
    '"; DROP TABLE events; --',
    "\\' OR 1=1 --",
    "{project_id:String}",
    "}) UNION ALL SELECT name FROM system.tables --",
    "ünï𝄞cödé ' \\",
    "line\nbreak\ttab\r",
    "`backtick` $$dollar$$",
    "x" * 5000,
]


def _every_value(query: Query) -> list[str]:
    out: list[str] = []
    for value in query.parameters.values():
        if isinstance(value, list):
            out.extend(str(v) for v in value)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
        else:
            out.append(str(value))
    return out


def _filters_with(value: str) -> list[dict[str, Any]]:
    ops = ["is", "isNot", "contains", "doesNotContain", "startsWith", "endsWith", "regex"]
    out: list[dict[str, Any]] = []
    for op in ops:
        operand = value[:1000] if op == "regex" else value
        out.append({"name": "path", "operator": op, "value": [operand]})
        out.append({"name": f"properties.{value[:200]}", "operator": op, "value": [operand]})
    out += [{"name": "groups", "operator": "is", "value": [value]}]
    out += [{"name": "cohort", "operator": "inCohort", "value": ["nasty"]}]
    return out


def _assert_pure(query: Query, value: str) -> None:
    for cut in (value, value[:200], value[:1000]):
        assert cut not in query.sql
    values = _every_value(query)
    assert value in values or value[:200] in values or value[:1000] in values
    for probe in ("OR 1=1", "DROP TABLE", "UNION ALL", "system.tables", "𝄞"):
        assert probe not in query.sql


@pytest.mark.parametrize("value", NASTY)
def test_builders_keep_values_out_of_sql(value: str) -> None:
    nasty_cohort = CohortDefinition(
        id="nasty",
        events=[value],
        filters=[Filter(name=f"properties.{value[:200]}", operator="regex", value=[value[:1000]])],
    )
    ctx = QueryContext(
        project_id=value, timezone="UTC", now=NOW, cohorts={**COHORTS, "nasty": nasty_cohort}
    )
    filters = _filters_with(value)
    base = {"range": "7d", "filters": filters}
    queries: list[Query] = []
    ts = TimeSeriesRequest.model_validate(
        {
            **base,
            "series": [
                {
                    "name": value[:200],
                    "filters": filters,
                    "segment": "property_sum",
                    "property": f"properties.{value[:200]}",
                }
            ],
            "breakdowns": [{"name": f"properties.{value[:200]}"}],
            "previous": True,
        }
    )
    window = resolve_window(ts, ctx.zone, NOW)
    queries.append(build_time_series(ts, ctx, 0, window))
    queries.append(
        build_funnel(
            FunnelRequest.model_validate(
                {
                    **base,
                    "steps": [
                        {"name": value[:200], "filters": filters},
                        {"name": value[:199] + "2"},
                    ],
                    "breakdowns": [{"name": f"properties.{value[:200]}"}],
                }
            ),
            ctx,
        )
    )
    queries.append(
        build_retention(
            RetentionRequest.model_validate(
                {**base, "startEvent": value[:200], "returnEvent": value[:200]}
            ),
            ctx,
        )
    )
    queries.append(
        build_paths(
            PathsRequest.model_validate({**base, "startPath": value[:2000], "event": value[:200]}),
            ctx,
        )
    )
    queries.append(
        build_sankey(SankeyRequest.model_validate({**base, "startPath": value[:2000]}), ctx)
    )
    queries.extend(build_session_list(SessionListRequest.model_validate(base), ctx))
    queries.append(build_top(TopRequest.model_validate({**base, "dimension": "path"}), ctx))
    queries.append(build_top(TopRequest.model_validate({**base, "dimension": "country"}), ctx))
    queries.append(
        build_overview_events(
            ctx, window, [Filter.model_validate(f) for f in filters], previous=True
        )
    )
    queries.extend(build_profile_events(ctx, value, limit=10))
    queries.append(build_cohort_members(nasty_cohort, ctx, limit=10, offset=0))
    queries.append(
        build_cohort_activity(
            CohortActivityRequest.model_validate({**base, "cohortId": "nasty"}), ctx
        )
    )
    queries.append(build_export(ExportRequest.model_validate({**base, "events": [value]}), ctx))
    profiles = ProfileListRequest.model_validate({**base, "search": value[:500]})
    queries.extend(build_profile_list(profiles, ctx))
    session = SessionRequest(session_id=value[:500])
    queries.extend(build_session_detail(session, ctx))
    queries.extend(build_session_detail(session, ctx, window))
    queries.append(build_event_names(EventNamesRequest(range="7d"), ctx))
    for query in queries:
        _assert_pure(query, value)
        # Regexes are collected for the engine probe, with where they came from.
        assert all(loc and isinstance(loc[0], str) for loc, _ in query.regexes)


def test_regexes_are_collected_with_their_location() -> None:
    req = TimeSeriesRequest.model_validate(
        {
            "series": [
                {"filters": [{"name": "path", "operator": "regex", "value": ["^/a", "(b"]}]}
            ],
            "filters": [{"name": "properties.k", "operator": "regex", "value": ["x+"]}],
        }
    )
    ctx = context()
    query = build_time_series(req, ctx, 0, resolve_window(req, ctx.zone, NOW))
    assert set(query.regexes) == {
        (("filters", 0, "value", 0), "x+"),
        (("series", 0, "filters", 0, "value", 0), "^/a"),
        (("series", 0, "filters", 0, "value", 1), "(b"),
    }


def test_unknown_and_looping_cohorts_are_errors() -> None:
    ctx = context()
    req = OverviewRequest.model_validate(
        {
            "filters": [
                {"name": "path", "operator": "is", "value": ["/"]},
                {"name": "cohort", "operator": "inCohort", "value": ["buyers", "ghost"]},
            ]
        }
    )
    window = resolve_window(req, ctx.zone, NOW)
    with pytest.raises(ValidationError) as exc:
        build_overview_events(ctx, window, req.filters, previous=False)
    assert _errors(exc)[0][0] == ("filters", 1, "value", 1)
    assert "unknown cohort 'ghost'" in _errors(exc)[0][1]
    loop = [Filter(name="cohort", operator="notInCohort", value=["loop_a"])]
    with pytest.raises(ValidationError) as exc:
        build_overview_events(ctx, window, loop, previous=False)
    assert "nest deeper" in _errors(exc)[0][1]
    with pytest.raises(ValidationError) as exc:
        build_cohort_activity(CohortActivityRequest(cohort_id="ghost"), ctx)
    assert _errors(exc)[0][0] == ("cohortId",)


def test_retention_period_limit() -> None:
    ctx = context()
    req = RetentionRequest.model_validate({"range": "12m", "period": "day"})
    with pytest.raises(ValidationError) as exc:
        build_retention(req, ctx)
    assert _errors(exc)[0][0] == ("period",)
    wide = build_retention(RetentionRequest.model_validate({"range": "6m", "period": "day"}), ctx)
    assert "toUInt256" in wide.sql  # more than 64 periods: a 256-bit mask
    narrow = build_retention(
        RetentionRequest.model_validate({"range": "30d", "period": "day"}), ctx
    )
    assert "toUInt64(1)" in narrow.sql
    assert "FROM sessions WHERE" in narrow.sql  # any activity: sessions by default
    exact = RetentionRequest.model_validate({"range": "30d", "period": "day", "activity": "events"})
    assert "FROM events WHERE" in build_retention(exact, ctx).sql
    chosen = RetentionRequest.model_validate({"range": "30d", "startEvent": "signup"})
    assert "FROM events WHERE" in build_retention(chosen, ctx).sql


def test_every_query_is_scoped_to_the_project() -> None:
    ctx = context()
    req = SessionListRequest.model_validate(
        {"filters": [{"name": "name", "operator": "is", "value": ["signup"]}]}
    )
    page, count = build_session_list(req, ctx)
    for query in (page, count):
        # The sessions scan and the events subquery both carry the project parameter.
        assert query.sql.count("project_id = {") == 2
        assert list(query.parameters.values()).count(PROJECT) == 2
    assert (datetime(2026, 3, 5, 12, tzinfo=UTC) - timedelta(days=30)) < NOW
