"""Profiles: the list of identified profiles and one profile with its activity and events."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import OptionalRangeFields, optional_window
from openpanel_server._analytics._rows import (
    EVENT_ITEM_COLUMNS,
    PROFILE_ITEM_COLUMNS,
    EventItem,
    ProfileItem,
    iso_utc,
    item,
)
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import number
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions

__all__ = [
    "ProfileDetail",
    "ProfileListRequest",
    "ProfileListResult",
    "ProfileMetrics",
    "build_profile_events",
    "build_profile_list",
    "list_profiles",
    "profile_detail",
]


class ProfileListRequest(OptionalRangeFields):
    """A page of identified profiles, most recently seen first.

    Without ``range`` and ``filters`` every profile is listed. With either, only profiles with
    at least one event of their own in the range (all time without one) that matches every
    filter. An event is a profile's own when its ``profile_id`` is the profile's id and not the
    event's device id (that is an anonymous event, as :func:`profile_detail` counts it).

    Attributes:
        range: Optional (see :class:`OptionalRangeFields`): keep profiles active in it.
        filters: Event filters: keep profiles with a matching event.
        search: Case-insensitive text in the id, email, first or last name.
        is_external: Keep only external (True) or internal (False) profiles.
        page: 1-based page.
        limit: Page size (1..1000).
    """

    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    search: str | None = Field(default=None, max_length=500)
    is_external: bool | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=1000)


class ProfileListResult(ApiModel):
    """One page and the total."""

    total: int
    profiles: list[ProfileItem]


class ProfileMetrics(ApiModel):
    """A profile's activity (its own events and its devices' anonymous ones)."""

    first_seen: str | None
    last_seen: str | None
    events: int
    sessions: int
    screen_views: int
    revenue: int
    avg_session_duration: float


class ProfileDetail(ApiModel):
    """The stored profile (None for an anonymous id), its metrics and latest events."""

    profile_id: str
    profile: ProfileItem | None
    metrics: ProfileMetrics
    events: list[EventItem]


def build_profile_list(request: ProfileListRequest, ctx: QueryContext) -> tuple[Query, Query]:
    """The page query (each row ends with the total) and the count query (``profiles FINAL``).

    The page query's last column is the total number of matching profiles (a window count), so
    one query usually answers both; the count query is for a page past the end (no rows).

    Raises:
        pydantic.ValidationError: A custom range ends before it starts, or a filter names an
            unknown cohort.
    """
    window = optional_window(request, ctx.zone, ctx.current_time())
    queries: list[Query] = []
    for paged in (True, False):
        params = Params()
        where = [f"project_id = {params.add(ctx.project_id, 'String')}"]
        if window is not None or request.filters:
            active = " AND ".join(event_conditions(ctx, params, window, request.filters))
            where.append(
                "id GLOBAL IN (SELECT profile_id FROM events"
                f" WHERE {active} AND profile_id != '' AND profile_id != device_id)"
            )
        if request.search:
            needle = params.add([request.search], "Array(String)")
            where.append(
                "multiSearchAnyCaseInsensitiveUTF8("
                f"concat(id, ' ', email, ' ', first_name, ' ', last_name), {needle})"
            )
        if request.is_external is not None:
            where.append(f"is_external = {params.add(request.is_external, 'Bool')}")
        condition = " AND ".join(where)
        if paged:
            offset = (request.page - 1) * request.limit
            sql = (
                f"SELECT {', '.join(PROFILE_ITEM_COLUMNS.values())}, count() OVER ()"
                " FROM profiles FINAL"
                f" WHERE {condition} ORDER BY last_seen_at DESC, id"
                f" LIMIT {params.add(request.limit, 'UInt32')} OFFSET {params.add(offset, 'UInt64')}"
            )
        else:
            sql = f"SELECT count() FROM profiles FINAL WHERE {condition}"
        queries.append(params.query(sql))
    return queries[0], queries[1]


def list_profiles(
    client: AnalyticsClient, request: ProfileListRequest, ctx: QueryContext
) -> ProfileListResult:
    """A page of profiles and the total (one query unless the page is past the end)."""
    page, count = build_profile_list(request, ctx)
    rows = fetch(client, page)
    total = int(rows[0][-1]) if rows else 0
    if not rows and request.page > 1:  # past the end: count on its own
        total = int(fetch(client, count)[0][0])
    return ProfileListResult(
        total=total,
        profiles=[item(ProfileItem, PROFILE_ITEM_COLUMNS, row[:-1]) for row in rows],
    )


def _stitched(params: Params, ctx: QueryContext, profile_id: str) -> str:
    """The profile's events plus the anonymous events of the devices it used (OpenPanel)."""
    project = params.add(ctx.project_id, "String")
    profile = params.add(profile_id, "String")
    return (
        f"project_id = {project} AND (profile_id = {profile}"
        " OR ((profile_id = '' OR profile_id = device_id) AND device_id != ''"
        " AND device_id GLOBAL IN (SELECT DISTINCT device_id FROM events"
        f" WHERE project_id = {project} AND profile_id = {profile} AND device_id != '')))"
    )


def build_profile_events(ctx: QueryContext, profile_id: str, *, limit: int) -> tuple[Query, Query]:
    """The latest-events query and the metrics query of one profile."""
    params = Params()
    events = params.query(
        f"SELECT {', '.join(EVENT_ITEM_COLUMNS.values())} FROM events"
        f" WHERE {_stitched(params, ctx, profile_id)}"
        f" ORDER BY created_at DESC, id LIMIT {params.add(limit, 'UInt32')}"
    )
    params = Params()
    metrics = params.query(
        "SELECT min(created_at), max(created_at), count(),"
        " uniqIf(session_id, session_id != ''), countIf(name = 'screen_view'), sum(revenue),"
        " avgIf(duration, name = 'session_end')"
        f" FROM events WHERE {_stitched(params, ctx, profile_id)}"
    )
    return events, metrics


def profile_detail(
    client: AnalyticsClient, ctx: QueryContext, profile_id: str, *, events_limit: int = 50
) -> ProfileDetail:
    """A profile, its activity and its latest events (``events_limit`` at most 1000).

    Mean session duration comes from the ``session_end`` events (their ``duration``, ms).
    """
    events_q, metrics_q = build_profile_events(
        ctx, profile_id, limit=max(1, min(1000, events_limit))
    )
    params = Params()
    profile_rows = fetch(
        client,
        params.query(
            f"SELECT {', '.join(PROFILE_ITEM_COLUMNS.values())} FROM profiles FINAL"
            f" WHERE project_id = {params.add(ctx.project_id, 'String')}"
            f" AND id = {params.add(profile_id, 'String')} ORDER BY last_seen_at DESC LIMIT 1"
        ),
    )
    profile = item(ProfileItem, PROFILE_ITEM_COLUMNS, profile_rows[0]) if profile_rows else None
    row = fetch(client, metrics_q)[0]
    count = int(row[2])
    metrics = ProfileMetrics(
        first_seen=iso_utc(row[0]) if count else None,
        last_seen=iso_utc(row[1]) if count else None,
        events=count,
        sessions=int(row[3]),
        screen_views=int(row[4]),
        revenue=int(row[5]),
        avg_session_duration=round(number(row[6]) / 1000, 3),
    )
    events = [item(EventItem, EVENT_ITEM_COLUMNS, r) for r in fetch(client, events_q)]
    return ProfileDetail(profile_id=profile_id, profile=profile, metrics=metrics, events=events)
