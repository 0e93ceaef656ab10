"""The project's event names with their counts (for event pickers)."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._ranges import OptionalRangeFields, optional_window
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions

__all__ = [
    "EventName",
    "EventNamesRequest",
    "EventNamesResult",
    "build_event_names",
    "event_names",
]


class EventNamesRequest(OptionalRangeFields):
    """The body of ``event_names``.

    Attributes:
        range: Optional: count only the events in it (all time without one).
        limit: Most names returned (1..10000, default 1000), most frequent first.
    """

    limit: int = Field(default=1000, ge=1, le=10_000)


class EventName(ApiModel):
    """One event name and how many events have it."""

    name: str
    count: int


class EventNamesResult(ApiModel):
    """The names, most frequent first (then by name), and whether more exist past the limit."""

    names: list[EventName]
    more: bool


def build_event_names(request: EventNamesRequest, ctx: QueryContext) -> Query:
    """Rows ``(name, count)``: one row more than the limit."""
    params = Params()
    window = optional_window(request, ctx.zone, ctx.current_time())
    where = " AND ".join(event_conditions(ctx, params, window))
    return params.query(
        f"SELECT name, count() AS n FROM events WHERE {where} AND name != ''"
        f" GROUP BY name ORDER BY n DESC, name LIMIT {params.add(request.limit + 1, 'UInt32')}"
    )


def event_names(
    client: AnalyticsClient, request: EventNamesRequest, ctx: QueryContext
) -> EventNamesResult:
    """Distinct event names with their counts, within the optional range."""
    rows = fetch(client, build_event_names(request, ctx))
    names = [EventName(name=str(r[0]), count=int(r[1])) for r in rows]
    return EventNamesResult(names=names[: request.limit], more=len(names) > request.limit)
