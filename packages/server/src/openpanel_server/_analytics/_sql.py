"""A tiny builder of parameterised ClickHouse SQL: text from constants, values as parameters.

Every value from a request becomes a server-side parameter (``{p3:String}``); the SQL text is
assembled only from constants in this package and from placeholder names this module makes. So
the text of a built query never contains a caller's value, which the tests assert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openpanel_server._analytics._errors import Loc

__all__ = ["Params", "Query", "epoch_ms"]


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    return int(value.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Query:
    """A built query: SQL text, its parameters, and the regexes to check before running it.

    Attributes:
        sql: The statement (logical table names only).
        parameters: Values for the ``{name:Type}`` placeholders.
        regexes: ``(loc, pattern)`` of every ``regex`` filter value, for the engine probe.
    """

    sql: str
    parameters: Mapping[str, Any]
    regexes: tuple[tuple[Loc, str], ...] = ()


@dataclass(slots=True)
class Params:
    """Collects parameter values and hands out placeholders for them."""

    values: dict[str, Any] = field(default_factory=dict[str, Any])
    regexes: list[tuple[Loc, str]] = field(default_factory=list[tuple[Loc, str]])
    _next: int = 0

    def add(self, value: Any, ch_type: str) -> str:
        """Store ``value`` under a fresh name; return its ``{pN:Type}`` placeholder.

        Args:
            value: The Python value (clickhouse-connect formats it for the engine).
            ch_type: A ClickHouse type name; always a constant of this package.
        """
        name = f"p{self._next}"
        self._next += 1
        self.values[name] = value
        return f"{{{name}:{ch_type}}}"

    def time(self, value: datetime) -> str:
        """A ``DateTime64(3, 'UTC')`` expression for an aware datetime."""
        return f"fromUnixTimestamp64Milli({self.add(epoch_ms(value), 'Int64')}, 'UTC')"

    def regex(self, loc: Loc, pattern: str) -> str:
        """A placeholder for a regular expression, remembered for the validity probe."""
        self.regexes.append((loc, pattern))
        return self.add(pattern, "String")

    def query(self, sql: str) -> Query:
        """Freeze ``sql`` with the collected parameters."""
        return Query(sql, dict(self.values), tuple(self.regexes))
