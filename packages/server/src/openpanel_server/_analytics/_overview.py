"""The dashboard overview: headline metrics and top lists (pages, referrers, geo, tech)."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from typing import Literal

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import RangeFields, Window, resolve_window
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._sessions import (
    SESSION_DIMENSIONS,
    SessionDimension,
    SessionStats,
    session_stats_in,
)
from openpanel_server._analytics._shared import iso_local, number
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions, session_conditions

__all__ = [
    "OverviewMetrics",
    "OverviewRequest",
    "OverviewResult",
    "TopDimension",
    "TopRequest",
    "TopResult",
    "TopRow",
    "build_overview_events",
    "build_top",
    "overview",
    "top_values",
]

TopDimension = Literal["path", "origin", "name", SessionDimension]
"""``path``/``origin``: page views per page; ``name``: events per name; the rest: sessions."""


class OverviewRequest(RangeFields):
    """Headline metrics for a range.

    Attributes:
        filters: Event filters (sessions follow the rules of the session list).
        previous: Also compute the previous period.
    """

    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    previous: bool = True


class OverviewMetrics(ApiModel):
    """Headline metrics of a window.

    Unique visitors, sessions, page views, events, bounce rate (%), mean session duration (s)
    and page views per session.
    """

    visitors: int
    sessions: int
    screen_views: int
    events: int
    bounce_rate: float
    avg_session_duration: float
    views_per_session: float


class OverviewResult(ApiModel):
    """The metrics, the previous period's, and the resolved window (local ISO)."""

    metrics: OverviewMetrics
    previous: OverviewMetrics | None
    start: str
    end: str


class TopRequest(RangeFields):
    """A top list.

    Attributes:
        dimension: What to group by (see :data:`TopDimension`).
        filters: Event filters.
        limit: Rows (1..100).
    """

    dimension: TopDimension
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    limit: int = Field(default=10, ge=1, le=100)


class TopRow(ApiModel):
    """One row of a top list.

    A value with its count (page views, events or sessions) and unique visitors; session
    dimensions add the bounce rate (%) and mean duration (s).
    """

    value: str
    count: int
    visitors: int
    bounce_rate: float | None = None
    avg_duration: float | None = None


class TopResult(ApiModel):
    """The rows, largest first."""

    dimension: TopDimension
    rows: list[TopRow]


def build_overview_events(
    ctx: QueryContext, window: Window, filters: list[Filter], *, previous: bool
) -> Query:
    """Rows ``(period, screen views, events)``."""
    params = Params()
    scan = Window(window.previous().start, window.end) if previous else window
    where = event_conditions(ctx, params, scan, filters)
    period = f"if(created_at >= {params.time(window.start)}, 0, 1)" if previous else "0"
    sql = (
        f"SELECT {period} AS period, countIf(name = 'screen_view'), count()"
        f" FROM events WHERE {' AND '.join(where)} GROUP BY period ORDER BY period"
    )
    return params.query(sql)


def _metrics(events: tuple[object, ...] | None, sessions: SessionStats) -> OverviewMetrics:
    views, count = (int(number(v)) for v in events) if events else (0, 0)
    return OverviewMetrics(
        visitors=sessions.visitors,
        sessions=sessions.sessions,
        screen_views=views,
        events=count,
        bounce_rate=sessions.bounce_rate,
        avg_session_duration=sessions.avg_duration,
        views_per_session=round(views / sessions.sessions, 3) if sessions.sessions else 0.0,
    )


def overview(
    client: AnalyticsClient, request: OverviewRequest, ctx: QueryContext
) -> OverviewResult:
    """Headline metrics (two queries, each covering both periods).

    Sessions, visitors (profiles with a session), bounce rate and duration come from the
    ``sessions`` table; page views and events from ``events`` (as OpenPanel's overview).
    """
    zone = ctx.zone
    window = resolve_window(request, zone, ctx.current_time())
    query = build_overview_events(ctx, window, request.filters, previous=request.previous)
    by_period = {int(row[0]): tuple(row[1:]) for row in fetch(client, query)}
    current, before = session_stats_in(
        client, ctx, window, request.filters, previous=request.previous
    )
    previous = None
    if request.previous and before is not None:
        previous = _metrics(by_period.get(1), before)
    return OverviewResult(
        metrics=_metrics(by_period.get(0), current),
        previous=previous,
        start=iso_local(window.start, zone),
        end=iso_local(window.end, zone),
    )


def build_top(request: TopRequest, ctx: QueryContext) -> Query:
    """Rows ``(value, count, visitors[, bounce %, mean s])``."""
    params = Params()
    window = resolve_window(request, ctx.zone, ctx.current_time())
    limit = params.add(request.limit, "UInt32")
    dim = request.dimension
    if dim in ("path", "origin", "name"):
        names = ["screen_view"] if dim != "name" else None
        where = event_conditions(ctx, params, window, request.filters, names=names)
        sql = (
            f"SELECT {dim} AS v, count() AS n, uniq(profile_id) FROM events"
            f" WHERE {' AND '.join(where)} GROUP BY v ORDER BY n DESC, v LIMIT {limit}"
        )
        return params.query(sql)
    where = session_conditions(ctx, params, window, request.filters)
    sql = (
        f"SELECT {SESSION_DIMENSIONS[dim]} AS v, sum(sign) AS n, uniqIf(profile_id, sign = 1),"
        " 100 * sum(sign * toInt8(is_bounce)) / greatest(n, 1),"
        " sum(sign * duration) / greatest(n, 1) / 1000"
        f" FROM sessions WHERE {' AND '.join(where)} GROUP BY v HAVING n > 0"
        f" ORDER BY n DESC, v LIMIT {limit}"
    )
    return params.query(sql)


def top_values(client: AnalyticsClient, request: TopRequest, ctx: QueryContext) -> TopResult:
    """A top list for the overview."""
    rows: list[TopRow] = []
    for row in fetch(client, build_top(request, ctx)):
        extra: dict[str, float] = {}
        if len(row) > 3:
            extra = {
                "bounce_rate": round(number(row[3]), 2),
                "avg_duration": round(number(row[4]), 3),
            }
        rows.append(TopRow(value=str(row[0]), count=int(row[1]), visitors=int(row[2]), **extra))
    return TopResult(dimension=request.dimension, rows=rows)
