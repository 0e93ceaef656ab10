"""OpenPanel's ``GET /export/charts`` (protocol notes section 1.9) on the time-series query.

Query parameters (JSON values as JSON text):

* ``series`` (or OpenPanel's older ``events``): a JSON array of
  ``{name, filters?, segment?, property?, id?, displayName?}``; ``name`` ``*`` is every event.
  Filters are the analytics filters (an OpenPanel filter's ``id`` and ``type`` keys are
  ignored). ``segment`` is one of the time-series segments (OpenPanel's ``group`` is not
  supported: a 400).
* ``breakdowns``: a JSON array of ``{name}``; ``limit``: breakdown groups per series (10).
* ``interval`` (``minute`` .. ``month``, default ``day``), ``range`` (OpenPanel's names, default
  ``30d``), ``previous`` (``true``/``false``).
* ``startDate`` and ``endDate``: when both are given they define the range (``range`` becomes
  ``custom``, as OpenPanel uses the dates whenever both are set). A date is a whole day of the
  project timezone (the end day included); a time with an offset is that instant; a time
  without one is read in the project timezone (OpenPanel reads it in the server's zone).

Ranges and buckets are in the project's timezone. The answer is OpenPanel's ``FinalChart``::

    {"series": [{"id", "names": [name, *breakdown values],
                 "event": {"id", "name", "breakdowns"?: {field: value}},
                 "metrics": {"sum", "average", "min", "max", "previous"?: {...}},
                 "data": [{"date", "count", "previous"?: {"value", "diff", "state"}}]}],
     "metrics": {"sum", "average", "min", "max", "previous"?: {...}}}

``date`` is the bucket's local start in ISO 8601 with its offset. A ``previous`` value is
``{"value": <previous>, "diff": <percent change, 1 decimal, null when equal or from 0>,
"state": "positive"|"negative"|"neutral"}``; ``average`` is rounded to 2 decimals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import LiteralString

from openpanel_server._analytics import (
    Loc,
    SeriesResult,
    TimeSeriesRequest,
    TimeSeriesResult,
    invalid,
)

__all__ = ["chart_request", "final_chart", "run_chart"]

_JSON_PARAMS = ("series", "events", "breakdowns")
_PLAIN_PARAMS = ("interval", "range", "previous", "startDate", "endDate", "limit")
_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise invalid((name,), "json_invalid", f"{name} is not valid JSON", text) from None


def _without(items: Any, keys: tuple[str, ...]) -> Any:
    """``items`` (a JSON list) with ``keys`` dropped from its objects; anything else as is."""
    if not isinstance(items, list):
        return items
    out: list[Any] = []
    for item in cast("list[Any]", items):
        if isinstance(item, dict):
            fields = cast("dict[str, Any]", item)
            out.append({k: v for k, v in fields.items() if k not in keys})
        else:
            out.append(item)
    return out


def chart_request(params: Mapping[str, str]) -> tuple[TimeSeriesRequest, list[tuple[str, str]]]:
    """The time-series request of ``/export/charts`` query parameters.

    Returns:
        The request, and per series its ``(event id, display name)``.

    Raises:
        pydantic.ValidationError: A parameter is missing, not JSON where JSON is expected, or
            invalid (the field names the parameter: ``series.0.segment``).
    """
    key = "series" if "series" in params else "events"
    if key not in params:
        raise invalid(("series",), "missing", "series (a JSON array of events) is required")
    items = _json(key, params[key])
    if not isinstance(items, list):
        raise invalid((key,), "list_type", f"{key} must be a JSON array", items)
    series: list[Any] = []
    labels: list[tuple[str, str]] = []
    for index, item in enumerate(items):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        if not isinstance(item, dict):
            series.append(item)
            labels.append(("", ""))
            continue
        fields: dict[str, Any] = dict(item)  # pyright: ignore[reportUnknownArgumentType]
        event_id = fields.pop("id", None)
        display = fields.pop("displayName", None)
        if fields.get("type") == "event":
            fields.pop("type")
        if "filters" in fields:
            fields["filters"] = _without(fields["filters"], ("id", "type"))
        name = str(fields.get("name", "*"))
        default_id = _ALPHA[index] if index < len(_ALPHA) else f"series-{index}"
        labels.append((str(event_id or default_id), str(display or name)))
        series.append(fields)
    body: dict[str, Any] = {"series": series}
    if "breakdowns" in params:
        body["breakdowns"] = _without(_json("breakdowns", params["breakdowns"]), ("id",))
    for name in _PLAIN_PARAMS:
        if params.get(name):
            body[name] = params[name]
    if body.get("startDate") and body.get("endDate"):
        body["range"] = "custom"
    try:
        request = TimeSeriesRequest.model_validate(body)
    except ValidationError as exc:
        if key == "series":
            raise
        # OpenPanel's older name: report the fields under the parameter that was sent.
        raise _relocate(
            exc, lambda loc: ("events", *loc[1:]) if loc[:1] == ("series",) else loc
        ) from None
    return request, labels


def _relocate(exc: ValidationError, move: Callable[[Loc], Loc]) -> ValidationError:
    """``exc`` with every error's location passed through ``move`` (types and messages kept)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError(
                cast("LiteralString", err["type"]), "{reason}", {"reason": err["msg"]}
            ),
            loc=move(tuple(err["loc"])),
            input=err.get("input"),
        )
        for err in exc.errors(include_url=False)
    ]
    return ValidationError.from_exception_data(exc.title, details)


def _round(value: float, digits: int) -> float:
    factor = 10**digits
    return math.floor(value * factor + 0.5) / factor


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _change(current: float, previous: float | None) -> dict[str, Any] | None:
    if previous is None:
        return None
    diff: float | None = None
    if previous != 0 and current != previous:
        diff = _round(abs(current - previous) / abs(previous) * 100, 1)
    state = "positive" if current > previous else "negative" if current < previous else "neutral"
    return {"value": _num(previous), "diff": diff, "state": state}


def _stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"sum": 0, "average": 0, "min": 0, "max": 0}
    total = sum(values)
    return {
        "sum": total,
        "average": _round(total / len(values), 2),
        "min": min(values),
        "max": max(values),
    }


def _metrics(current: Sequence[float], previous: Sequence[float] | None) -> dict[str, Any]:
    stats = _stats(current)
    out: dict[str, Any] = {k: _num(v) for k, v in stats.items()}
    if previous is not None:
        before = _stats(previous)
        out["previous"] = {k: _change(stats[k], before[k]) for k in stats}
    return out


def final_chart(
    request: TimeSeriesRequest,
    labels: Sequence[tuple[str, str]],
    results: Sequence[TimeSeriesResult],
) -> dict[str, Any]:
    """OpenPanel's ``FinalChart`` JSON from one time-series result per request series."""
    out: list[dict[str, Any]] = []
    all_current: list[float] = []
    all_previous: list[float] = []
    for (event_id, display), series, result in zip(labels, request.series, results, strict=True):
        for group in result.series:
            out.append(_one(request, event_id, display, series.name, group))
            all_current.extend(p.count for p in group.data)
            all_previous.extend(p.previous or 0.0 for p in group.data)
    return {
        "series": out,
        "metrics": _metrics(all_current, all_previous if request.previous else None),
    }


def _one(
    request: TimeSeriesRequest, event_id: str, display: str, name: str, group: SeriesResult
) -> dict[str, Any]:
    names = [display, *group.breakdown]
    event: dict[str, Any] = {"id": event_id, "name": name}
    if request.breakdowns:
        event["breakdowns"] = {
            b.name: value for b, value in zip(request.breakdowns, group.breakdown, strict=True)
        }
    current = [p.count for p in group.data]
    previous = [p.previous or 0.0 for p in group.data] if request.previous else None
    data: list[dict[str, Any]] = []
    for point in group.data:
        entry: dict[str, Any] = {"date": point.date, "count": _num(point.count)}
        if request.previous:
            entry["previous"] = _change(point.count, point.previous or 0.0)
        data.append(entry)
    return {
        "id": "-".join([event_id, *names]),
        "names": names,
        "event": event,
        "metrics": _metrics(current, previous),
        "data": data,
    }


def run_chart(
    request: TimeSeriesRequest,
    labels: Sequence[tuple[str, str]],
    run: Callable[[TimeSeriesRequest], TimeSeriesResult],
) -> dict[str, Any]:
    """Run each series through ``run`` (one time-series query each) and format the chart."""
    results: list[TimeSeriesResult] = []
    for index, series in enumerate(request.series):
        try:
            results.append(run(request.model_copy(update={"series": [series]})))
        except ValidationError as exc:  # name the series by its index in the request

            def move(loc: Loc, index: int = index) -> Loc:
                return ("series", index, *loc[2:]) if loc[:2] == ("series", 0) else loc

            raise _relocate(exc, move) from None
    return final_chart(request, labels, results)
