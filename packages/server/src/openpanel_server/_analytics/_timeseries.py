"""Time series: events, visitors, sessions, per-user averages and property aggregates."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Literal

from pydantic import Field, field_validator, model_validator

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._fields import canonical_field, field_kind
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import (
    Interval,
    RangeFields,
    Window,
    bucket_sql,
    bucket_starts,
    resolve_window,
)
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import (
    Breakdown,
    iso_local,
    number,
    numeric_expr,
    text_expr,
)
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions, filter_conditions

__all__ = [
    "ALL_EVENTS",
    "Point",
    "Segment",
    "Series",
    "SeriesMetrics",
    "SeriesResult",
    "TimeSeriesRequest",
    "TimeSeriesResult",
    "build_time_series",
    "time_series",
]

ALL_EVENTS = "*"

Segment = Literal[
    "event",
    "user",
    "session",
    "user_average",
    "one_event_per_user",
    "property_sum",
    "property_average",
    "property_min",
    "property_max",
]
"""OpenPanel's series segments: what each bucket counts."""

_PROPERTY_SEGMENTS = frozenset({"property_sum", "property_average", "property_min", "property_max"})
_NUMERIC_KINDS = frozenset({"number", "nullable_number", "property"})


class Series(ApiModel):
    """One line of a chart.

    Attributes:
        name: The event name, or ``*`` for every event.
        filters: Conditions on that event.
        segment: ``event`` (count), ``user`` (unique profiles), ``session`` (unique sessions),
            ``user_average`` (events per profile), ``one_event_per_user`` (= ``user``), or
            ``property_sum|average|min|max`` of ``property``.
        property: The numeric field of the property segments (``revenue``, ``duration`` or
            ``properties.<key>``; a property that is not a number is skipped).
    """

    name: str = Field(default=ALL_EVENTS, min_length=1, max_length=200)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    segment: Segment = "event"
    property: str | None = Field(default=None, max_length=300)

    @field_validator("property")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        if value is None:
            return None
        canonical = canonical_field(value)
        if canonical is None or field_kind(canonical) not in _NUMERIC_KINDS:
            msg = f"{value!r} is not a number field: use revenue, duration or properties.<key>"
            raise ValueError(msg)
        return canonical

    @model_validator(mode="after")
    def _property_needed(self) -> Series:
        if self.segment in _PROPERTY_SEGMENTS and self.property is None:
            msg = f"segment {self.segment!r} needs a property"
            raise ValueError(msg)
        return self


class TimeSeriesRequest(RangeFields):
    """A chart: series over time, optionally broken down and compared with the period before.

    Attributes:
        series: 1 to 10 series.
        filters: Conditions applied to every series.
        breakdowns: Up to 3 fields; each series splits into its top ``limit`` value groups.
        interval: Bucket size.
        previous: Also compute the previous period of the same length.
        limit: How many breakdown groups to keep (by the series' total).
    """

    series: list[Series] = Field(min_length=1, max_length=10)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    breakdowns: list[Breakdown] = Field(default_factory=list[Breakdown], max_length=3)
    interval: Interval = "day"
    previous: bool = False
    limit: int = Field(default=10, ge=1, le=100)


class Point(ApiModel):
    """One bucket: its local start, its value and (with ``previous``) the matching bucket's."""

    date: str
    count: float
    previous: float | None = None


class SeriesMetrics(ApiModel):
    """Sum, mean, minimum and maximum of a series' bucket values."""

    sum: float
    average: float
    min: float
    max: float
    previous: SeriesMetrics | None = None


class SeriesResult(ApiModel):
    """One series (or one breakdown group of it)."""

    name: str
    segment: Segment
    breakdown: list[str]
    data: list[Point]
    metrics: SeriesMetrics


class TimeSeriesResult(ApiModel):
    """The chart: every series, the interval and the resolved window (local ISO times)."""

    series: list[SeriesResult]
    interval: Interval
    start: str
    end: str


def _metric(series: Series, params: Params) -> str:
    segment = series.segment
    if segment == "event":
        return "toFloat64(count())"
    if segment in ("user", "one_event_per_user"):
        return "toFloat64(uniq(profile_id))"
    if segment == "session":
        return "toFloat64(uniqIf(session_id, session_id != ''))"
    if segment == "user_average":
        return "count() / greatest(uniq(profile_id), 1)"
    assert series.property is not None  # validated
    value = numeric_expr(series.property, params)
    function = {
        "property_sum": "sum",
        "property_average": "avg",
        "property_min": "min",
        "property_max": "max",
    }[segment]
    return f"toFloat64({function}({value}))"


def build_time_series(
    request: TimeSeriesRequest, ctx: QueryContext, index: int, window: Window
) -> Query:
    """The query of series ``index``: rows ``(period, bucket epoch s, *breakdown, value)``.

    ``period`` is 0 for the window and 1 for the previous one (only with ``previous``).
    """
    series = request.series[index]
    params = Params()
    tz = params.add(ctx.timezone, "String")
    names = None if series.name == ALL_EVENTS else [series.name]
    scan = window.previous() if request.previous else window
    scan = Window(scan.start, window.end)
    where = event_conditions(ctx, params, scan, request.filters, names=names)
    series_loc = ("series", index, "filters")
    where += filter_conditions(series.filters, series_loc, params, ctx)
    metric = _metric(series, params)
    keys = [text_expr(b.name, params) for b in request.breakdowns]
    key_aliases = [f"b{i}" for i in range(len(keys))]
    if keys:
        top_where = event_conditions(ctx, params, window, request.filters, names=names)
        top_where += filter_conditions(series.filters, series_loc, params, ctx)
        top_keys = [text_expr(b.name, params) for b in request.breakdowns]
        top_select = ", ".join(f"{k} AS {a}" for k, a in zip(top_keys, key_aliases, strict=True))
        top_metric = _metric(series, params)
        top = (
            f"SELECT {top_select} FROM events WHERE {' AND '.join(top_where)}"
            f" GROUP BY {', '.join(key_aliases)}"
            f" ORDER BY {top_metric} DESC, {', '.join(key_aliases)}"
            f" LIMIT {params.add(request.limit, 'UInt32')}"
        )
        tuple_expr = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
        where.append(f"{tuple_expr} GLOBAL IN ({top})")
    period = f"if(created_at >= {params.time(window.start)}, 0, 1)" if request.previous else "0"
    select = [f"{period} AS period", f"{bucket_sql(request.interval, tz)} AS t"]
    select += [f"{k} AS {a}" for k, a in zip(keys, key_aliases, strict=True)]
    select.append(f"{metric} AS v")
    group = ", ".join(["period", "t", *key_aliases])
    sql = (
        f"SELECT {', '.join(select)} FROM events WHERE {' AND '.join(where)}"
        f" GROUP BY {group} ORDER BY {group}"
    )
    return params.query(sql)


def _metrics(values: Sequence[float]) -> SeriesMetrics:
    if not values:
        return SeriesMetrics(sum=0, average=0, min=0, max=0)
    total = sum(values)
    return SeriesMetrics(sum=total, average=total / len(values), min=min(values), max=max(values))


def _epoch(moment: datetime) -> int:
    return int(moment.astimezone(timezone.utc).timestamp())


def time_series(
    client: AnalyticsClient, request: TimeSeriesRequest, ctx: QueryContext
) -> TimeSeriesResult:
    """Run a chart request (one query per series).

    Returns:
        Every series, zero-filled on the buckets of the window. With breakdowns, one result
        per group (the top ``limit`` by the metric over the window), largest first.

    Raises:
        pydantic.ValidationError: A bad range, too many buckets, an unknown cohort or a regex
            that does not compile.
    """
    zone = ctx.zone
    window = resolve_window(request, zone, ctx.current_time())
    buckets = bucket_starts(window, request.interval, zone)
    previous = bucket_starts(window.previous(), request.interval, zone) if request.previous else []
    width = len(request.breakdowns)
    out: list[SeriesResult] = []
    for index, series in enumerate(request.series):
        rows = fetch(client, build_time_series(request, ctx, index, window))
        groups: dict[tuple[str, ...], dict[tuple[int, int], float]] = defaultdict(dict)
        for row in rows:
            key = tuple(str(v) for v in row[2 : 2 + width])
            groups[key][(int(row[0]), int(row[1]))] = number(row[2 + width])
        if not groups and width == 0:
            groups[()] = {}
        results: list[SeriesResult] = []
        for key, values in groups.items():
            current = [values.get((0, _epoch(b)), 0.0) for b in buckets]
            before = [values.get((1, _epoch(b)), 0.0) for b in previous]
            points = [
                Point(
                    date=iso_local(b, zone),
                    count=current[i],
                    previous=(before[i] if i < len(before) else None) if request.previous else None,
                )
                for i, b in enumerate(buckets)
            ]
            metrics = _metrics(current)
            if request.previous:
                metrics = metrics.model_copy(update={"previous": _metrics(before)})
            results.append(
                SeriesResult(
                    name=series.name,
                    segment=series.segment,
                    breakdown=list(key),
                    data=points,
                    metrics=metrics,
                )
            )
        results.sort(key=lambda r: (-r.metrics.sum, r.breakdown))
        out.extend(results)
    return TimeSeriesResult(
        series=out,
        interval=request.interval,
        start=iso_local(window.start, zone),
        end=iso_local(window.end, zone),
    )
