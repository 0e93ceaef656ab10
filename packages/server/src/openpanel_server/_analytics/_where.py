"""Compile filters into parameterised WHERE conditions (``events`` or ``sessions`` scope).

Column text comes from the allow-list in :mod:`._fields`; property keys, values, patterns and
cohort ids become parameters. ``inCohort`` turns a saved cohort definition into a
``profile_id GLOBAL IN (SELECT ...)`` subquery (``GLOBAL`` so the cluster layout evaluates it
once on the initiator and ships the set to the shards).
"""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._errors import Loc, invalid
from openpanel_server._analytics._fields import (
    EVENT_FIELDS,
    PROPERTY_PREFIX,
    SESSION_COLUMNS,
    FieldKind,
    field_kind,
)
from openpanel_server._analytics._filter_model import COHORT_FIELD, Filter
from openpanel_server._analytics._ranges import Window, resolve_window
from openpanel_server._analytics._sql import Params

__all__ = [
    "MAX_COHORT_DEPTH",
    "cohort_members_sql",
    "event_conditions",
    "field_expr",
    "filter_conditions",
    "session_conditions",
]

MAX_COHORT_DEPTH = 3
_CMP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def field_expr(name: str, params: Params) -> str:
    """The SQL expression of a canonical field name (a property key becomes a parameter)."""
    if name.startswith(PROPERTY_PREFIX):
        return f"properties[{params.add(name[len(PROPERTY_PREFIX) :], 'String')}]"
    return EVENT_FIELDS[name].sql


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _any(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _text_condition(expr: str, f: Filter, loc: Loc, params: Params) -> str:
    op, texts = f.operator, f.texts
    if op == "is":
        return f"{expr} IN {params.add(texts, 'Array(String)')}"
    if op == "isNot":
        return f"{expr} NOT IN {params.add(texts, 'Array(String)')}"
    if op in ("contains", "doesNotContain"):
        found = f"multiSearchAnyCaseInsensitiveUTF8({expr}, {params.add(texts, 'Array(String)')})"
        return found if op == "contains" else f"NOT {found}"
    if op == "startsWith":
        return _any([f"{expr} ILIKE {params.add(_like_escape(t) + '%', 'String')}" for t in texts])
    if op == "endsWith":
        return _any([f"{expr} ILIKE {params.add('%' + _like_escape(t), 'String')}" for t in texts])
    if op == "regex":
        return _any(
            [f"match({expr}, {params.regex((*loc, 'value', i), t)})" for i, t in enumerate(texts)]
        )
    if op == "isNull":
        return f"{expr} = ''"
    if op == "isNotNull":
        return f"{expr} != ''"
    # gt, gte, lt, lte on a property: compare as numbers; non-numeric values never match.
    return _any(
        [f"toFloat64OrNull({expr}) {_CMP[op]} {params.add(n, 'Float64')}" for n in f.numbers]
    )


def _number_condition(expr: str, kind: FieldKind, f: Filter, params: Params) -> str:
    op = f.operator
    if op == "isNull":
        return f"{expr} IS NULL" if kind == "nullable_number" else f"{expr} = 0"
    if op == "isNotNull":
        return f"{expr} IS NOT NULL" if kind == "nullable_number" else f"{expr} != 0"
    if op in ("is", "isNot"):
        negate = " NOT" if op == "isNot" else ""
        return f"{expr}{negate} IN {params.add(f.numbers, 'Array(Float64)')}"
    return _any([f"{expr} {_CMP[op]} {params.add(n, 'Float64')}" for n in f.numbers])


def _time_condition(expr: str, f: Filter, params: Params) -> str:
    parts: list[str] = []
    for text in f.texts:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        parts.append(f"{expr} {_CMP[f.operator]} {params.time(moment)}")
    return _any(parts)


def _array_condition(expr: str, f: Filter, params: Params) -> str:
    op = f.operator
    if op == "isNull":
        return f"empty({expr})"
    if op == "isNotNull":
        return f"notEmpty({expr})"
    values = params.add(f.texts, "Array(String)")
    if op in ("is", "isNot"):
        found = f"hasAny({expr}, {values})"
    else:
        found = f"arrayExists(g -> multiSearchAnyCaseInsensitiveUTF8(g, {values}), {expr})"
    return found if op in ("is", "contains") else f"NOT {found}"


def _column_condition(expr: str, kind: FieldKind, f: Filter, loc: Loc, params: Params) -> str:
    if kind in ("string", "property"):
        return _text_condition(expr, f, loc, params)
    if kind in ("number", "nullable_number"):
        return _number_condition(expr, kind, f, params)
    if kind == "datetime":
        return _time_condition(expr, f, params)
    return _array_condition(expr, f, params)


def _cohort_condition(
    f: Filter, loc: Loc, params: Params, ctx: QueryContext, depth: int, column: str
) -> str:
    members = [
        cohort_members_sql(cohort_id, params, ctx, depth + 1, (*loc, "value", i))
        for i, cohort_id in enumerate(f.texts)
    ]
    if f.operator == "notInCohort":  # a member of none of them
        return " AND ".join(f"{column} GLOBAL NOT IN ({sql})" for sql in members)
    return _any([f"{column} GLOBAL IN ({sql})" for sql in members])


def filter_conditions(
    filters: Sequence[Filter],
    loc: Loc,
    params: Params,
    ctx: QueryContext,
    *,
    depth: int = 0,
) -> list[str]:
    """Conditions on ``events`` rows, one per filter (to be ANDed).

    Args:
        filters: The filters.
        loc: Where the list sits in the request (``("filters",)``); used in errors.
        params: Receives the values.
        ctx: Supplies saved cohorts (and the clock and timezone for their ranges).
        depth: Cohort nesting level (internal).

    Raises:
        pydantic.ValidationError: An unknown cohort id, or cohorts nested too deep or in a
            cycle.
    """
    out: list[str] = []
    for i, f in enumerate(filters):
        here = (*loc, i)
        if f.name == COHORT_FIELD:
            out.append(_cohort_condition(f, here, params, ctx, depth, "profile_id"))
            continue
        expr = field_expr(f.name, params)
        out.append(_column_condition(expr, field_kind(f.name), f, here, params))
    return out


def event_conditions(
    ctx: QueryContext,
    params: Params,
    window: Window | None,
    filters: Sequence[Filter] = (),
    loc: Loc = ("filters",),
    *,
    names: Sequence[str] | None = None,
) -> list[str]:
    """The project, the time window, optional event names and the filters, for ``events``."""
    out = [f"project_id = {params.add(ctx.project_id, 'String')}"]
    if window is not None:
        out.append(f"created_at >= {params.time(window.start)}")
        out.append(f"created_at < {params.time(window.end)}")
    if names:
        out.append(f"name IN {params.add(list(names), 'Array(String)')}")
    out.extend(filter_conditions(filters, loc, params, ctx))
    return out


def cohort_members_sql(
    cohort_id: str, params: Params, ctx: QueryContext, depth: int, loc: Loc
) -> str:
    """``SELECT profile_id ...`` of a saved cohort's members (for ``IN`` and counts).

    Raises:
        pydantic.ValidationError: Unknown id, or nesting deeper than 3 (which also stops
            cycles), reported at ``loc``.
    """
    cohort = ctx.cohorts.get(cohort_id)
    if cohort is None:
        raise invalid(loc, "unknown_cohort", f"unknown cohort {cohort_id!r}", cohort_id)
    if depth > MAX_COHORT_DEPTH:
        msg = f"cohorts nest deeper than {MAX_COHORT_DEPTH} levels (or refer to each other)"
        raise invalid(loc, "cohort_depth", msg, cohort_id)
    window = resolve_window(cohort, ctx.zone, ctx.current_time())
    conditions = [f"project_id = {params.add(ctx.project_id, 'String')}"]
    conditions.append(f"created_at >= {params.time(window.start)}")
    conditions.append(f"created_at < {params.time(window.end)}")
    if cohort.events:
        conditions.append(f"name IN {params.add(list(cohort.events), 'Array(String)')}")
    conditions.extend(
        filter_conditions(
            cohort.filters, ("cohort", cohort.id, "filters"), params, ctx, depth=depth
        )
    )
    having = ""
    if cohort.min_events > 1:
        having = f" HAVING count() >= {params.add(cohort.min_events, 'UInt64')}"
    return (
        "SELECT profile_id FROM events WHERE "
        + " AND ".join(conditions)
        + " GROUP BY profile_id"
        + having
    )


def session_conditions(
    ctx: QueryContext,
    params: Params,
    window: Window | None,
    filters: Sequence[Filter] = (),
    loc: Loc = ("filters",),
) -> list[str]:
    """Conditions on ``sessions`` rows for event filters.

    Filters on the device, geo and first-touch referrer columns (which a session row shares
    with its events) and cohort filters apply to the session row; the others select the
    sessions having at least one matching event in the window (``id GLOBAL IN (SELECT
    session_id FROM events ...)``).
    """
    out = [f"project_id = {params.add(ctx.project_id, 'String')}"]
    if window is not None:
        out.append(f"created_at >= {params.time(window.start)}")
        out.append(f"created_at < {params.time(window.end)}")
    via_events: list[tuple[int, Filter]] = []
    for i, f in enumerate(filters):
        here = (*loc, i)
        if f.name == COHORT_FIELD:
            out.append(_cohort_condition(f, here, params, ctx, 0, "profile_id"))
        elif f.name in SESSION_COLUMNS:
            out.append(_column_condition(SESSION_COLUMNS[f.name], "string", f, here, params))
        else:
            via_events.append((i, f))
    if via_events:
        inner = [f"project_id = {params.add(ctx.project_id, 'String')}"]
        if window is not None:
            inner.append(f"created_at >= {params.time(window.start)}")
            inner.append(f"created_at < {params.time(window.end)}")
        for i, f in via_events:
            expr = field_expr(f.name, params)
            inner.append(_column_condition(expr, field_kind(f.name), f, (*loc, i), params))
        out.append("id GLOBAL IN (SELECT session_id FROM events WHERE " + " AND ".join(inner) + ")")
    return out
