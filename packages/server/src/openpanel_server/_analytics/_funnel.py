"""Funnels: ordered steps within a conversion window (ClickHouse ``windowFunnel``)."""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import RangeFields, resolve_window
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import Breakdown, text_expr
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions, filter_conditions

__all__ = [
    "FunnelGroup",
    "FunnelRequest",
    "FunnelResult",
    "FunnelStep",
    "FunnelStepResult",
    "build_funnel",
    "funnel",
]


class FunnelStep(ApiModel):
    """One step: an event name and conditions on that event."""

    name: str = Field(min_length=1, max_length=200)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)


class FunnelRequest(RangeFields):
    """A funnel.

    Attributes:
        steps: 2 to 10 steps, in order (other events may happen between them).
        filters: Conditions on every step's events.
        window_hours: The time allowed from the first step to the last (default 24).
        group: Count ``profile``s (default) or ``session``s.
        breakdowns: Up to 3 fields, read from each profile's first step-1 event.
        limit: How many breakdown groups to return (largest step 1 first).
    """

    steps: list[FunnelStep] = Field(min_length=2, max_length=10)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    window_hours: float = Field(default=24, gt=0, le=24 * 366)
    group: Literal["profile", "session"] = "profile"
    breakdowns: list[Breakdown] = Field(default_factory=list[Breakdown], max_length=3)
    limit: int = Field(default=10, ge=1, le=100)


class FunnelStepResult(ApiModel):
    """How many reached a step; rates are percentages (2 decimals)."""

    name: str
    count: int
    conversion: float
    conversion_from_previous: float
    dropoff: int


class FunnelGroup(ApiModel):
    """The funnel of one breakdown group."""

    breakdown: list[str]
    steps: list[FunnelStepResult]
    total_conversion: float


class FunnelResult(ApiModel):
    """The whole funnel, its last-step conversion and the top breakdown groups."""

    steps: list[FunnelStepResult]
    total_conversion: float
    breakdowns: list[FunnelGroup]


def build_funnel(request: FunnelRequest, ctx: QueryContext) -> Query:
    """Rows ``(*breakdown, level, count)``: how many groups got exactly ``level`` steps far."""
    params = Params()
    window = resolve_window(request, ctx.zone, ctx.current_time())
    names = list(dict.fromkeys(step.name for step in request.steps))
    where = event_conditions(ctx, params, window, request.filters, names=names)
    key = "profile_id"
    if request.group == "session":
        key = "session_id"
        where.append("session_id != ''")
    conditions: list[str] = []
    for i, step in enumerate(request.steps):
        parts = [f"name = {params.add(step.name, 'String')}"]
        parts += filter_conditions(step.filters, ("steps", i, "filters"), params, ctx)
        conditions.append("(" + " AND ".join(parts) + ")")
    window_ms = params.add(int(request.window_hours * 3_600_000), "UInt64")
    level = (
        f"windowFunnel({window_ms})(toUInt64(toUnixTimestamp64Milli(created_at)),"
        f" {', '.join(conditions)})"
    )
    aliases = [f"b{i}" for i in range(len(request.breakdowns))]
    inner = [f"{key} AS k", f"{level} AS level"]
    inner += [
        f"argMinIf({text_expr(b.name, params)}, created_at, {conditions[0]}) AS {a}"
        for b, a in zip(request.breakdowns, aliases, strict=True)
    ]
    group = ", ".join([*aliases, "level"])
    sql = (
        f"SELECT {group}, count() AS n FROM (SELECT {', '.join(inner)} FROM events"
        f" WHERE {' AND '.join(where)} GROUP BY k) WHERE level > 0"
        f" GROUP BY {group} ORDER BY {group}"
    )
    return params.query(sql)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _steps(request: FunnelRequest, levels: dict[int, int]) -> list[FunnelStepResult]:
    total = len(request.steps)
    reached = [sum(n for level, n in levels.items() if level >= i + 1) for i in range(total)]
    out: list[FunnelStepResult] = []
    for i, step in enumerate(request.steps):
        before = reached[i - 1] if i else reached[0]
        out.append(
            FunnelStepResult(
                name=step.name,
                count=reached[i],
                conversion=_pct(reached[i], reached[0]),
                conversion_from_previous=_pct(reached[i], before),
                dropoff=before - reached[i],
            )
        )
    return out


def funnel(client: AnalyticsClient, request: FunnelRequest, ctx: QueryContext) -> FunnelResult:
    """Run a funnel.

    Returns:
        Per-step counts and conversion (from step 1 and from the previous step); with
        breakdowns, the same per group for the ``limit`` groups with most step-1 entries.
    """
    width = len(request.breakdowns)
    overall: dict[int, int] = defaultdict(int)
    groups: dict[tuple[str, ...], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in fetch(client, build_funnel(request, ctx)):
        level, n = int(row[width]), int(row[width + 1])
        overall[level] += n
        groups[tuple(str(v) for v in row[:width])][level] += n
    steps = _steps(request, overall)
    result_groups: list[FunnelGroup] = []
    if width:
        for key, levels in groups.items():
            group_steps = _steps(request, levels)
            result_groups.append(
                FunnelGroup(
                    breakdown=list(key),
                    steps=group_steps,
                    total_conversion=group_steps[-1].conversion,
                )
            )
        result_groups.sort(key=lambda g: (-g.steps[0].count, g.breakdown))
        result_groups = result_groups[: request.limit]
    return FunnelResult(
        steps=steps, total_conversion=steps[-1].conversion, breakdowns=result_groups
    )
