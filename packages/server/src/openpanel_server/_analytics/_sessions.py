"""Sessions: the list and the aggregates (duration, views, bounce, entry and exit pages).

Sessions come from the ``sessions`` table (a VersionedCollapsingMergeTree the server writes
when a session ends), so live sessions appear once they close. Aggregates multiply by
``sign`` (OpenPanel's way: correct before background merges collapse the rows); the list
reads ``FINAL``.
"""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import RangeFields, Window, resolve_window
from openpanel_server._analytics._rows import SESSION_ITEM_COLUMNS, SessionItem, item
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import number
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import session_conditions

__all__ = [
    "SESSION_DIMENSIONS",
    "SessionDimension",
    "SessionListRequest",
    "SessionListResult",
    "SessionStats",
    "build_session_list",
    "build_session_stats",
    "list_sessions",
    "session_stats",
    "session_stats_in",
]

SessionDimension = Literal[
    "entry_path",
    "exit_path",
    "referrer",
    "referrer_name",
    "referrer_type",
    "country",
    "region",
    "city",
    "browser",
    "os",
    "device",
    "brand",
    "model",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
]
"""Columns of ``sessions`` that overview top lists group by."""

SESSION_DIMENSIONS: dict[str, str] = {
    name: "toString(country)" if name == "country" else name  # country is FixedString(2)
    for name in get_args(SessionDimension)
}


class SessionListRequest(RangeFields):
    """A page of sessions, newest first.

    Attributes:
        filters: Event filters (device, geo and referrer fields apply to the session row;
            others keep sessions with a matching event).
        page: 1-based page.
        limit: Page size (1..1000).
    """

    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=1000)


class SessionListResult(ApiModel):
    """One page and the total number of matching sessions."""

    total: int
    sessions: list[SessionItem]


class SessionStats(ApiModel):
    """Session aggregates over a window (durations in seconds, rates in percent)."""

    sessions: int
    visitors: int
    avg_duration: float
    bounce_rate: float
    avg_screen_views: float
    avg_events: float


def build_session_list(request: SessionListRequest, ctx: QueryContext) -> tuple[Query, Query]:
    """The page query and the count query."""
    window = resolve_window(request, ctx.zone, ctx.current_time())
    params = Params()
    where = session_conditions(ctx, params, window, request.filters)
    columns = ", ".join(SESSION_ITEM_COLUMNS.values())
    offset = (request.page - 1) * request.limit
    page = (
        f"SELECT {columns} FROM sessions FINAL WHERE {' AND '.join(where)} AND sign = 1"
        f" ORDER BY created_at DESC, id LIMIT {params.add(request.limit, 'UInt32')}"
        f" OFFSET {params.add(offset, 'UInt64')}"
    )
    count_params = Params()
    count_where = session_conditions(ctx, count_params, window, request.filters)
    count = count_params.query(f"SELECT sum(sign) FROM sessions WHERE {' AND '.join(count_where)}")
    return params.query(page), count


def list_sessions(
    client: AnalyticsClient, request: SessionListRequest, ctx: QueryContext
) -> SessionListResult:
    """A page of sessions (newest first) and the total."""
    page, count = build_session_list(request, ctx)
    rows = fetch(client, page)
    total = fetch(client, count)
    return SessionListResult(
        total=int(number(total[0][0])) if total else 0,
        sessions=[item(SessionItem, SESSION_ITEM_COLUMNS, row) for row in rows],
    )


_STATS = (
    "sum(sign) AS n, uniqIf(profile_id, sign = 1),"
    " sum(sign * duration) / greatest(n, 1) / 1000,"
    " 100 * sum(sign * toInt8(is_bounce)) / greatest(n, 1),"
    " sum(sign * screen_view_count) / greatest(n, 1),"
    " sum(sign * event_count) / greatest(n, 1)"
)


def build_session_stats(
    ctx: QueryContext, window: Window, filters: list[Filter], *, previous: bool = False
) -> Query:
    """Rows ``(period, sessions, visitors, avg s, bounce %, views, events)``.

    Period 1 is the previous window (only with ``previous``).
    """
    params = Params()
    scan = Window(window.previous().start, window.end) if previous else window
    where = session_conditions(ctx, params, scan, filters)
    period = f"if(created_at >= {params.time(window.start)}, 0, 1)" if previous else "0"
    sql = (
        f"SELECT {period} AS period, {_STATS} FROM sessions"
        f" WHERE {' AND '.join(where)} GROUP BY period ORDER BY period"
    )
    return params.query(sql)


def _stats(row: tuple[object, ...] | None) -> SessionStats:
    if row is None:
        return SessionStats(
            sessions=0, visitors=0, avg_duration=0, bounce_rate=0, avg_screen_views=0, avg_events=0
        )
    return SessionStats(
        sessions=int(number(row[0])),
        visitors=int(number(row[1])),
        avg_duration=round(number(row[2]), 3),
        bounce_rate=round(number(row[3]), 2),
        avg_screen_views=round(number(row[4]), 3),
        avg_events=round(number(row[5]), 3),
    )


def session_stats_in(
    client: AnalyticsClient,
    ctx: QueryContext,
    window: Window,
    filters: list[Filter],
    *,
    previous: bool = False,
) -> tuple[SessionStats, SessionStats | None]:
    """Session aggregates for ``window`` (and the previous window)."""
    by_period = {
        int(row[0]): tuple(row[1:])
        for row in fetch(client, build_session_stats(ctx, window, filters, previous=previous))
    }
    return _stats(by_period.get(0)), _stats(by_period.get(1)) if previous else None


def session_stats(
    client: AnalyticsClient, request: SessionListRequest, ctx: QueryContext
) -> SessionStats:
    """Session aggregates for a request's range and filters (paging ignored)."""
    window = resolve_window(request, ctx.zone, ctx.current_time())
    return session_stats_in(client, ctx, window, request.filters)[0]
