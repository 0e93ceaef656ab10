"""Cohorts: size, membership and behaviour over time of a saved definition."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._cohort_model import CohortDefinition
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._errors import invalid
from openpanel_server._analytics._filter_model import COHORT_FIELD, Filter
from openpanel_server._analytics._ranges import (
    Interval,
    RangeFields,
    bucket_sql,
    bucket_starts,
    resolve_window,
)
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import iso_local
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import cohort_members_sql, event_conditions

__all__ = [
    "CohortActivityPoint",
    "CohortActivityRequest",
    "CohortActivityResult",
    "CohortMembers",
    "build_cohort_activity",
    "build_cohort_members",
    "cohort_activity",
    "cohort_members",
    "cohort_size",
    "in_cohort",
    "with_cohort",
]


def with_cohort(ctx: QueryContext, cohort: CohortDefinition) -> QueryContext:
    """``ctx`` with ``cohort`` added (or replaced) in its saved cohorts (for unsaved drafts)."""
    return dataclasses.replace(ctx, cohorts={**ctx.cohorts, cohort.id: cohort})


def in_cohort(cohort_id: str, *, negate: bool = False) -> Filter:
    """The filter selecting the members (or, with ``negate``, the non-members) of a cohort."""
    return Filter(
        name=COHORT_FIELD, operator="notInCohort" if negate else "inCohort", value=[cohort_id]
    )


class CohortMembers(ApiModel):
    """A page of member profile ids (sorted) and the cohort size."""

    size: int
    profile_ids: list[str]


def build_cohort_members(
    cohort: CohortDefinition, ctx: QueryContext, *, limit: int, offset: int
) -> Query:
    """Rows ``(profile_id, size)`` for one page of members, sorted by id."""
    params = Params()
    ctx = with_cohort(ctx, cohort)
    members = cohort_members_sql(cohort.id, params, ctx, 0, ("cohort", cohort.id))
    sql = (
        f"SELECT profile_id, count() OVER () AS size FROM ({members})"
        f" ORDER BY profile_id LIMIT {params.add(limit, 'UInt32')}"
        f" OFFSET {params.add(offset, 'UInt64')}"
    )
    return params.query(sql)


def cohort_size(client: AnalyticsClient, cohort: CohortDefinition, ctx: QueryContext) -> int:
    """How many profiles are in the cohort now (its range resolved against ``ctx``)."""
    params = Params()
    ctx = with_cohort(ctx, cohort)
    members = cohort_members_sql(cohort.id, params, ctx, 0, ("cohort", cohort.id))
    rows = fetch(client, params.query(f"SELECT count() FROM ({members})"))
    return int(rows[0][0])


def cohort_members(
    client: AnalyticsClient,
    cohort: CohortDefinition,
    ctx: QueryContext,
    *,
    limit: int = 100,
    offset: int = 0,
) -> CohortMembers:
    """The cohort's size and a page of its members' profile ids (``limit`` at most 10,000)."""
    limit = max(1, min(10_000, limit))
    rows = fetch(client, build_cohort_members(cohort, ctx, limit=limit, offset=max(0, offset)))
    if not rows:
        return CohortMembers(size=cohort_size(client, cohort, ctx), profile_ids=[])
    return CohortMembers(size=int(rows[0][1]), profile_ids=[str(r[0]) for r in rows])


class CohortActivityRequest(RangeFields):
    """What a cohort's members did over time.

    Attributes:
        cohort_id: A saved cohort (``QueryContext.cohorts``).
        interval: Bucket size.
        filters: Conditions on the events counted.
    """

    cohort_id: str = Field(min_length=1, max_length=200)
    interval: Interval = "day"
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=50)


class CohortActivityPoint(ApiModel):
    """One bucket: active members, their sessions and their events."""

    date: str
    users: int
    sessions: int
    events: int


class CohortActivityResult(ApiModel):
    """The cohort's activity per bucket (zero-filled)."""

    cohort_id: str
    data: list[CohortActivityPoint]


def build_cohort_activity(request: CohortActivityRequest, ctx: QueryContext) -> Query:
    """Rows ``(bucket epoch s, users, sessions, events)`` of the cohort's members."""
    if request.cohort_id not in ctx.cohorts:
        msg = f"unknown cohort {request.cohort_id!r}"
        raise invalid(("cohortId",), "unknown_cohort", msg, request.cohort_id)
    params = Params()
    window = resolve_window(request, ctx.zone, ctx.current_time())
    tz = params.add(ctx.timezone, "String")
    filters = [in_cohort(request.cohort_id), *request.filters]
    where = event_conditions(ctx, params, window, filters, ("cohortActivity",))
    sql = (
        f"SELECT {bucket_sql(request.interval, tz)} AS t, uniq(profile_id),"
        " uniqIf(session_id, session_id != ''), count()"
        f" FROM events WHERE {' AND '.join(where)} GROUP BY t ORDER BY t"
    )
    return params.query(sql)


def cohort_activity(
    client: AnalyticsClient, request: CohortActivityRequest, ctx: QueryContext
) -> CohortActivityResult:
    """Active members, sessions and events per bucket.

    Raises:
        pydantic.ValidationError: Unknown cohort (field ``cohortId``), bad range or filters.
    """
    zone = ctx.zone
    window = resolve_window(request, zone, ctx.current_time())
    buckets = bucket_starts(window, request.interval, zone)
    rows = fetch(client, build_cohort_activity(request, ctx))
    found = {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    data = [
        CohortActivityPoint(date=iso_local(b, zone), users=u, sessions=s, events=e)
        for b in buckets
        for u, s, e in [found.get(int(b.timestamp()), (0, 0, 0))]
    ]
    return CohortActivityResult(cohort_id=request.cohort_id, data=data)
