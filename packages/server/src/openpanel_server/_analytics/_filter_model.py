"""The filter model: one condition on an event column, a property or a cohort."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._fields import canonical_field, field_kind

__all__ = [
    "COHORT_FIELD",
    "MAX_FILTERS",
    "MAX_VALUES",
    "MAX_VALUE_LENGTH",
    "Filter",
    "FilterValue",
    "Operator",
]

Operator = Literal[
    "is",
    "isNot",
    "contains",
    "doesNotContain",
    "startsWith",
    "endsWith",
    "regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "isNull",
    "isNotNull",
    "inCohort",
    "notInCohort",
]
"""OpenPanel's filter operators (``packages/validation``), same names and meaning."""

FilterValue = str | int | float | bool
MAX_FILTERS = 50
MAX_VALUES = 100
MAX_VALUE_LENGTH = 10_000
MAX_REGEX_LENGTH = 1_000
COHORT_FIELD = "cohort"

_TEXT_OPS = frozenset({"contains", "doesNotContain", "startsWith", "endsWith", "regex"})
_ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})
_NULL_OPS = frozenset({"isNull", "isNotNull"})
_COHORT_OPS = frozenset({"inCohort", "notInCohort"})
_ARRAY_OPS = frozenset({"is", "isNot", "contains", "doesNotContain", *_NULL_OPS})


def _allowed(kind: str, operator: str) -> bool:
    """Whether ``operator`` applies to a field of ``kind``."""
    if operator in _COHORT_OPS:
        return False
    table: dict[str, bool] = {
        "string": operator not in _ORDER_OPS,
        "property": True,
        "number": operator not in _TEXT_OPS,
        "nullable_number": operator not in _TEXT_OPS,
        "datetime": operator in _ORDER_OPS,
        "array": operator in _ARRAY_OPS,
    }
    return table[kind]


def _number(value: FilterValue) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    number = float(value)  # a non-numeric string raises ValueError
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


class Filter(ApiModel):
    """One condition. Several filters in a list are ANDed; values within one are ORed.

    Attributes:
        name: An event column (``path``, ``country``, ``referrer_name``... camelCase works
            too), ``properties.<key>`` for an event property (dotted keys as stored), or
            ``cohort`` with ``inCohort``/``notInCohort`` (values: cohort ids).
        operator: One of :data:`Operator`. ``contains``, ``startsWith`` and ``endsWith`` ignore
            case (OpenPanel uses ``ILIKE``); ``regex`` is RE2 syntax (ClickHouse ``match``);
            ``gt``..``lte`` compare numbers (properties are read as numbers, rows whose value
            is not a number never match) or, on ``created_at``, ISO times; ``isNull`` means
            empty or missing.
        value: The operands (at least one, except for ``isNull``/``isNotNull``).
    """

    name: str = Field(min_length=1, max_length=300)
    operator: Operator
    value: list[FilterValue] = Field(
        default_factory=list[FilterValue], max_length=MAX_VALUES, validate_default=True
    )

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        if name == COHORT_FIELD:
            return name
        canonical = canonical_field(name)
        if canonical is None:
            msg = (
                f"unknown field {name!r}: use an event column, properties.<key>"
                " or cohort (with inCohort/notInCohort)"
            )
            raise ValueError(msg)
        return canonical

    @field_validator("value")
    @classmethod
    def _values_fit(cls, value: list[FilterValue], info: ValidationInfo) -> list[FilterValue]:
        name = info.data.get("name")
        operator = info.data.get("operator")
        if not isinstance(name, str) or not isinstance(operator, str):
            return value  # the name or operator already failed; report that
        if name == COHORT_FIELD or operator in _COHORT_OPS:
            if name != COHORT_FIELD or operator not in _COHORT_OPS:
                msg = "inCohort/notInCohort go with the name 'cohort' (and only they do)"
                raise ValueError(msg)
        else:
            kind = field_kind(name)
            if not _allowed(kind, operator):
                msg = f"operator {operator!r} does not apply to {name!r} ({kind} field)"
                raise ValueError(msg)
            if kind == "datetime":
                for item in value:
                    parsed = datetime.fromisoformat(str(item).replace("Z", "+00:00"))
                    if parsed.utcoffset() is None:
                        raise ValueError("times need a UTC offset, e.g. 2026-03-01T00:00:00Z")
            elif operator in _ORDER_OPS or (
                kind in {"number", "nullable_number"} and operator not in _NULL_OPS
            ):
                for item in value:
                    _number(item)
        if operator in _NULL_OPS:
            return []
        if not value:
            msg = f"operator {operator!r} needs at least one value"
            raise ValueError(msg)
        limit = MAX_REGEX_LENGTH if operator == "regex" else MAX_VALUE_LENGTH
        for item in value:
            if len(str(item)) > limit:
                msg = f"a value is longer than {limit} characters"
                raise ValueError(msg)
        return value

    @property
    def texts(self) -> list[str]:
        """The values as text (booleans as ``true``/``false``, as properties store them)."""
        return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in self.value]

    @property
    def numbers(self) -> list[float]:
        """The values as numbers (validated for numeric operators and fields)."""
        return [_number(v) for v in self.value]
