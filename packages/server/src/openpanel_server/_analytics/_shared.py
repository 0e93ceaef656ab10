"""Small pieces shared by the query modules: breakdown and numeric field references."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._fields import canonical_field, field_kind
from openpanel_server._analytics._sql import Params
from openpanel_server._analytics._where import field_expr

__all__ = ["Breakdown", "iso_local", "number", "numeric_expr", "text_expr"]

_BREAKDOWN_KINDS = frozenset({"string", "property", "number", "nullable_number"})


class Breakdown(ApiModel):
    """Split a result by the values of one field (top N values).

    Attributes:
        name: An event column or ``properties.<key>`` (text and number fields).
    """

    name: str = Field(min_length=1, max_length=300)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        canonical = canonical_field(name)
        if canonical is None or field_kind(canonical) not in _BREAKDOWN_KINDS:
            msg = f"cannot break down by {name!r}: use a text or number column or properties.<key>"
            raise ValueError(msg)
        return canonical


def text_expr(name: str, params: Params) -> str:
    """A canonical field as text (numbers are formatted; for group-by keys)."""
    expr = field_expr(name, params)
    if field_kind(name) in ("number", "nullable_number"):
        return f"toString({expr})"
    return expr


def numeric_expr(name: str, params: Params) -> str:
    """A canonical field as a nullable Float64 (a property that is not a number is NULL)."""
    expr = field_expr(name, params)
    if field_kind(name) == "property":
        return f"toFloat64OrNull({expr})"
    return f"toFloat64({expr})"


def number(value: Any) -> float:
    """A result value as a finite float (NULL and NaN, from aggregates over no rows, are 0)."""
    if value is None:
        return 0.0
    result = float(value)
    return result if math.isfinite(result) else 0.0


def iso_local(moment: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 in the project timezone, with its offset (``2026-03-01T00:00:00+09:00``)."""
    return moment.astimezone(zone).isoformat()
