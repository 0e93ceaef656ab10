"""Running built queries: the client protocol, the regex probe, and row fetching."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from clickhouse_connect.driver.exceptions import DatabaseError

from openpanel_server._analytics._errors import Loc, invalid
from openpanel_server._analytics._sql import Query

__all__ = ["AnalyticsClient", "RawStream", "check_regexes", "fetch"]


class _Result(Protocol):
    @property
    def result_rows(self) -> Sequence[Sequence[Any]]: ...


class RawStream(Protocol):
    """A readable byte stream of a query result (clickhouse-connect ``raw_stream``)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...

    def close(self) -> None:
        """Stop the query and release the connection."""
        ...


class AnalyticsClient(Protocol):
    """The part of a clickhouse-connect ``Client`` the analytics layer calls."""

    def query(
        self,
        query: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> _Result:
        """Run a SELECT with server-side parameters."""
        ...

    def raw_stream(
        self,
        query: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        fmt: str | None = None,
    ) -> RawStream:
        """Run a SELECT and stream its output in ``fmt``."""
        ...


_CACHE_SIZE = 1024
_good_patterns: OrderedDict[str, None] = OrderedDict()
_cache_lock = threading.Lock()
_REASONS = (
    # replaceRegexpOne compiles the whole pattern with RE2 and reports its error.
    re.compile(r"not a valid re2 pattern: (.*?)(?:: In scope|$)", re.DOTALL),
    # match()'s OptimizedRegularExpression wording.
    re.compile(r"cannot compile re2: .*?, error: (.*?)(?:\. Look at|$)", re.DOTALL),
)
# match() alone is lenient: its pattern analyser stops at an unbalanced ")" and matches the
# prefix ("a)" finds "a"). replaceRegexpOne compiles the pattern exactly as RE2 does, so the
# probe runs both: a pattern passes only if RE2 accepts it whole and match() can run it.
_PROBE = "SELECT replaceRegexpOne('', {re:String}, ''), match('', {re:String})"


def _remember(pattern: str) -> None:
    with _cache_lock:
        _good_patterns[pattern] = None
        _good_patterns.move_to_end(pattern)
        while len(_good_patterns) > _CACHE_SIZE:
            _good_patterns.popitem(last=False)


def _known(pattern: str) -> bool:
    with _cache_lock:
        return pattern in _good_patterns


def check_regexes(client: AnalyticsClient, regexes: Iterable[tuple[Loc, str]]) -> None:
    """Compile each pattern with the engine's own RE2 before use.

    A pattern ClickHouse cannot compile is the caller's mistake, not a server error, so it is
    reported as a validation error on the filter value that holds it. Good patterns are
    remembered (1024 most recent) so a dashboard's repeated queries skip the probe.

    Raises:
        pydantic.ValidationError: A pattern does not compile (type ``invalid_regex``).
    """
    for loc, pattern in regexes:
        if _known(pattern):
            continue
        try:
            client.query(_PROBE, parameters={"re": pattern})
        except DatabaseError as exc:
            text = str(exc)
            found = next((m for r in _REASONS if (m := r.search(text)) is not None), None)
            if found is None:
                raise
            reason = found.group(1).strip()
            msg = f"not a valid RE2 regular expression: {reason}"
            raise invalid(loc, "invalid_regex", msg, pattern) from None
        _remember(pattern)


def fetch(client: AnalyticsClient, query: Query) -> Sequence[Sequence[Any]]:
    """Probe the query's regexes, then run it and return its rows."""
    check_regexes(client, query.regexes)
    return client.query(query.sql, parameters=dict(query.parameters)).result_rows
