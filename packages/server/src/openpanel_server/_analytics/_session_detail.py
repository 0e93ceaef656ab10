"""One session by id: its stored row and its events in order, whatever its age."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._ranges import Window
from openpanel_server._analytics._rows import (
    EVENT_ITEM_COLUMNS,
    SESSION_ITEM_COLUMNS,
    EventItem,
    SessionItem,
    item,
)
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._sql import Params, Query

__all__ = [
    "SESSION_MARGIN",
    "SessionDetail",
    "SessionRequest",
    "build_session_detail",
    "session_detail",
]

SESSION_MARGIN = timedelta(days=1)
"""How far before its start and after its end a stored session's events are looked for.

A session's events lie between its start and its end (the server starts a session at its
earliest event and backdated events older than 15 minutes join none), so a day either side is
generous; it lets the events query use the table's date key instead of scanning every day.
"""


class SessionRequest(ApiModel):
    """The body of ``session``.

    Attributes:
        session_id: The session's id.
        events_limit: Most events returned (1..10000, default 1000), oldest first.
    """

    session_id: str = Field(min_length=1, max_length=500)
    events_limit: int = Field(default=1000, ge=1, le=10_000)


class SessionDetail(ApiModel):
    """A session and its events.

    Attributes:
        session_id: The id asked for.
        session: The stored session (None while it is still live, or for an unknown id).
        events: Its events in order (time; ``session_start`` first and ``session_end`` last on
            equal times), at most ``events_limit``.
        more_events: The session has more events than were returned.
    """

    session_id: str
    session: SessionItem | None
    events: list[EventItem]
    more_events: bool


_ORDER = "created_at, multiIf(name = 'session_start', 0, name = 'session_end', 2, 1), id"


def build_session_detail(
    request: SessionRequest, ctx: QueryContext, around: Window | None = None
) -> tuple[Query, Query]:
    """The session-row query and the events query (one row more than the limit).

    The row query has no time bound, so a session of any age is found (its newest version that
    no ``sign = -1`` row cancels, as ``FINAL`` would collapse them). The events query reads by ``session_id``, within ``around`` when
    given (the stored session's times widened by :data:`SESSION_MARGIN`), else over all time
    (a live or unknown session).
    """
    params = Params()
    project = params.add(ctx.project_id, "String")
    session_id = params.add(request.session_id, "String")
    # The newest version not cancelled by a sign -1 row: what FINAL would keep, without
    # FINAL's merge of every session of the project (the rows of one id are few).
    row = params.query(
        f"SELECT {', '.join(SESSION_ITEM_COLUMNS.values())} FROM sessions"
        f" WHERE project_id = {project} AND id = {session_id} AND sign = 1"
        " AND version GLOBAL IN (SELECT version FROM sessions"
        f" WHERE project_id = {project} AND id = {session_id}"
        " GROUP BY version HAVING sum(sign) > 0)"
        " ORDER BY version DESC LIMIT 1"
    )
    params = Params()
    project = params.add(ctx.project_id, "String")
    session_id = params.add(request.session_id, "String")
    events = params.query(
        f"SELECT {', '.join(EVENT_ITEM_COLUMNS.values())} FROM events"
        f" WHERE project_id = {project} AND session_id = {session_id}{_within(params, around)}"
        f" ORDER BY {_ORDER} LIMIT {params.add(request.events_limit + 1, 'UInt32')}"
    )
    return row, events


def _within(params: Params, around: Window | None) -> str:
    if around is None:
        return ""
    return (
        f" AND created_at >= {params.time(around.start)} AND created_at < {params.time(around.end)}"
    )


def _utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def session_detail(
    client: AnalyticsClient, request: SessionRequest, ctx: QueryContext
) -> SessionDetail:
    """A session's stored row and its events, oldest first (two queries)."""
    row_q, _ = build_session_detail(request, ctx)
    rows = fetch(client, row_q)
    session = item(SessionItem, SESSION_ITEM_COLUMNS, rows[0]) if rows else None
    around = None
    if session is not None:
        start, end = _utc(session.created_at), _utc(session.ended_at)
        around = Window(start - SESSION_MARGIN, max(start, end) + SESSION_MARGIN)
    _, events_q = build_session_detail(request, ctx, around)
    events = [item(EventItem, EVENT_ITEM_COLUMNS, r) for r in fetch(client, events_q)]
    return SessionDetail(
        session_id=request.session_id,
        session=session,
        events=events[: request.events_limit],
        more_events=len(events) > request.events_limit,
    )
