"""Paths and sankey: the order in which sessions visit pages.

Each session's page views are sorted by time (consecutive repeats of one page, e.g. reloads,
collapse into one step by default) and cut at the start path: the first view of it, or the
session's entry page when no start path is given.
"""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict

from pydantic import Field

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import RangeFields, resolve_window
from openpanel_server._analytics._run import AnalyticsClient, fetch
from openpanel_server._analytics._shared import number
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions

__all__ = [
    "PathSequence",
    "PathsRequest",
    "PathsResult",
    "SankeyLink",
    "SankeyNode",
    "SankeyRequest",
    "SankeyResult",
    "build_paths",
    "build_sankey",
    "paths",
    "sankey",
]


class PathsRequest(RangeFields):
    """Top page sequences.

    Attributes:
        start_path: Where sequences start (None: each session's entry page).
        steps: Pages per sequence, 2 to 10 (shorter sessions give shorter sequences).
        event: The page-view event (default ``screen_view``).
        filters: Conditions on those events.
        collapse_repeats: Count a page viewed several times in a row once.
        limit: How many sequences (most frequent first).
    """

    start_path: str | None = Field(default=None, max_length=2000)
    steps: int = Field(default=5, ge=2, le=10)
    event: str = Field(default="screen_view", min_length=1, max_length=200)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    collapse_repeats: bool = True
    limit: int = Field(default=20, ge=1, le=500)


class SankeyRequest(PathsRequest):
    """Page-to-page transitions.

    Attributes:
        by_step: Keep the position of each transition (a sankey diagram's columns); without
            it, every consecutive pair in the sequences counts once per occurrence.
        limit: Links kept per step (or in total without ``by_step``).
    """

    by_step: bool = True


class PathSequence(ApiModel):
    """A sequence, how many sessions followed it, and the mean seconds between its pages."""

    paths: list[str]
    count: int
    avg_seconds_between: list[float]


class PathsResult(ApiModel):
    """The most frequent sequences."""

    sequences: list[PathSequence]


class SankeyLink(ApiModel):
    """A transition between two pages.

    ``count`` sessions went from ``source`` to ``target`` at ``step`` (1-based; 0 without
    ``by_step``), taking ``avg_seconds`` on average.
    """

    step: int
    source: str
    target: str
    count: int
    avg_seconds: float


class SankeyNode(ApiModel):
    """A page at a step (1-based position in the sequence).

    ``count`` is how many sessions were there, as far as the returned links show.
    """

    step: int
    path: str
    count: int


class SankeyResult(ApiModel):
    """Links and the nodes they connect."""

    links: list[SankeyLink]
    nodes: list[SankeyNode]


def _sequences(
    request: PathsRequest, ctx: QueryContext, params: Params, *, min_views: int = 1
) -> str:
    """SQL yielding ``seq`` (paths) and ``gaps`` (ms between them) per session."""
    window = resolve_window(request, ctx.zone, ctx.current_time())
    where = event_conditions(ctx, params, window, request.filters, names=[request.event])
    where.append("session_id != ''")
    if request.collapse_repeats:
        kept = "arrayFilter((x, j) -> j = 1 OR x.2 != ev[j - 1].2, ev, arrayEnumerate(ev))"
    else:
        kept = "ev"
    start = (
        "1"
        if request.start_path is None
        else f"indexOf(pages, {params.add(request.start_path, 'String')})"
    )
    steps = params.add(request.steps, "UInt8")
    return (
        f"SELECT arraySlice(pages, i, {steps}) AS seq,"
        f" arraySlice(times, i, {steps}) AS ts,"
        " arrayPopFront(arrayDifference(ts)) AS gaps"
        # (time, path) tuples sort by time (then path); no lambdas where a plain function does.
        " FROM (SELECT arraySort(groupArray((toUnixTimestamp64Milli(created_at), path))) AS ev,"
        f" {kept} AS kept, kept.2 AS pages, kept.1 AS times, {start} AS i"
        # A 64-bit hash groups faster than the id string (a collision merges two sessions).
        f" FROM events WHERE {' AND '.join(where)} GROUP BY cityHash64(session_id)"
        f"{' HAVING count() > 1' if min_views > 1 else ''}) WHERE i > 0"
    )


def build_paths(request: PathsRequest, ctx: QueryContext) -> Query:
    """Rows ``(paths, sessions, mean ms between consecutive pages)``."""
    params = Params()
    inner = _sequences(request, ctx, params)
    sql = (
        f"SELECT seq, count() AS n, avgForEach(gaps) FROM ({inner})"
        f" GROUP BY seq ORDER BY n DESC, seq LIMIT {params.add(request.limit, 'UInt32')}"
    )
    return params.query(sql)


def build_sankey(request: SankeyRequest, ctx: QueryContext) -> Query:
    """Rows ``(step, source, target, sessions, mean ms)``."""
    params = Params()
    inner = _sequences(request, ctx, params, min_views=2)  # one view: no transition
    limit = params.add(request.limit, "UInt32")
    step = "s" if request.by_step else "toUInt32(0)"
    limit_clause = f"LIMIT {limit} BY st" if request.by_step else f"LIMIT {limit}"
    sql = (
        f"SELECT {step} AS st, seq[s] AS source, seq[s + 1] AS target, count() AS n,"
        f" avg(gaps[s]) FROM ({inner}) ARRAY JOIN arrayEnumerate(arrayPopBack(seq)) AS s"
        f" GROUP BY st, source, target ORDER BY st, n DESC, source, target {limit_clause}"
    )
    return params.query(sql)


def paths(client: AnalyticsClient, request: PathsRequest, ctx: QueryContext) -> PathsResult:
    """The most frequent page sequences from the start path."""
    rows = fetch(client, build_paths(request, ctx))
    return PathsResult(
        sequences=[
            PathSequence(
                paths=[str(p) for p in row[0]],
                count=int(row[1]),
                avg_seconds_between=[round(number(g) / 1000, 3) for g in row[2]],
            )
            for row in rows
        ]
    )


def sankey(client: AnalyticsClient, request: SankeyRequest, ctx: QueryContext) -> SankeyResult:
    """Transitions between pages, per step of the sequences (or overall)."""
    rows = fetch(client, build_sankey(request, ctx))
    links = [
        SankeyLink(
            step=int(row[0]),
            source=str(row[1]),
            target=str(row[2]),
            count=int(row[3]),
            avg_seconds=round(number(row[4]) / 1000, 3),
        )
        for row in rows
    ]
    nodes: dict[tuple[int, str], int] = defaultdict(int)
    if request.by_step:
        for link in links:
            if link.step == 1:
                nodes[(1, link.source)] += link.count
            nodes[(link.step + 1, link.target)] += link.count
    return SankeyResult(
        links=links,
        nodes=[SankeyNode(step=s, path=p, count=c) for (s, p), c in sorted(nodes.items())],
    )
