"""Realtime: visitors and events in the last N minutes (the dashboard polls or is pushed it)."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import Window, bucket_starts
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import iso_local
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions

__all__ = [
    "RealtimeMinute",
    "RealtimeRequest",
    "RealtimeResult",
    "RealtimeTop",
    "build_realtime",
    "realtime",
    "realtime_window",
]


class RealtimeRequest(ApiModel):
    """The live view.

    Attributes:
        minutes: How far back (1..1440, default 30).
        filters: Event filters.
        limit: Rows per top list.
    """

    minutes: int = Field(default=30, ge=1, le=1440)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    limit: int = Field(default=10, ge=1, le=100)


class RealtimeMinute(ApiModel):
    """One minute (local ISO start): unique visitors and events."""

    date: str
    visitors: int
    events: int


class RealtimeTop(ApiModel):
    """A value and its unique visitors and events."""

    value: str
    visitors: int
    events: int


class RealtimeResult(ApiModel):
    """Totals, the per-minute series (zero-filled) and top pages, referrers and countries."""

    visitors: int
    sessions: int
    events: int
    minutes: list[RealtimeMinute]
    pages: list[RealtimeTop]
    referrers: list[RealtimeTop]
    countries: list[RealtimeTop]


def realtime_window(request: RealtimeRequest, ctx: QueryContext) -> Window:
    """``[now - minutes, now]`` (the end is inclusive of the current millisecond)."""
    now = ctx.current_time()
    return Window(now - timedelta(minutes=request.minutes), now + timedelta(milliseconds=1))


_TOPS = {"pages": "path", "referrers": "referrer_name", "countries": "toString(country)"}


def build_realtime(request: RealtimeRequest, ctx: QueryContext) -> list[Query]:
    """The queries: totals, per minute, then one per top list."""
    window = realtime_window(request, ctx)
    queries: list[Query] = []
    params = Params()
    where = " AND ".join(event_conditions(ctx, params, window, request.filters))
    queries.append(
        params.query(
            "SELECT uniq(profile_id), uniqIf(session_id, session_id != ''), count()"
            f" FROM events WHERE {where}"
        )
    )
    params = Params()
    where = " AND ".join(event_conditions(ctx, params, window, request.filters))
    queries.append(
        params.query(
            "SELECT toUnixTimestamp(toStartOfMinute(created_at)) AS t, uniq(profile_id), count()"
            f" FROM events WHERE {where} GROUP BY t ORDER BY t"
        )
    )
    for column in _TOPS.values():
        params = Params()
        where = " AND ".join(event_conditions(ctx, params, window, request.filters))
        queries.append(
            params.query(
                f"SELECT {column} AS v, uniq(profile_id) AS u, count() AS n FROM events"
                f" WHERE {where} AND v != '' GROUP BY v ORDER BY u DESC, n DESC, v"
                f" LIMIT {params.add(request.limit, 'UInt32')}"
            )
        )
    return queries


def realtime(
    client: AnalyticsClient, request: RealtimeRequest, ctx: QueryContext
) -> RealtimeResult:
    """Run the live view."""
    zone = ctx.zone
    window = realtime_window(request, ctx)
    totals, minutes, *tops = (fetch(client, q) for q in build_realtime(request, ctx))
    per_minute = {int(r[0]): (int(r[1]), int(r[2])) for r in minutes}
    series = [
        RealtimeMinute(date=iso_local(b, zone), visitors=v, events=e)
        for b in bucket_starts(window, "minute", zone)
        for v, e in [per_minute.get(int(b.timestamp()), (0, 0))]
    ]
    lists = [
        [RealtimeTop(value=str(r[0]), visitors=int(r[1]), events=int(r[2])) for r in rows]
        for rows in tops
    ]
    return RealtimeResult(
        visitors=int(totals[0][0]),
        sessions=int(totals[0][1]),
        events=int(totals[0][2]),
        minutes=series,
        pages=lists[0],
        referrers=lists[1],
        countries=lists[2],
    )
