"""Validation errors of the analytics layer, as pydantic ``ValidationError``s.

Request models validate themselves with pydantic. Checks that need more than the request (the
project's cohorts, the current time, the engine's regular-expression compiler) raise the same
exception type through :func:`invalid`, so an API answers every bad query the same way: a 400
with ``exc.errors()``, whose ``loc`` names the failing field (``("filters", 2, "value", 0)``).
"""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import LiteralString

__all__ = ["Loc", "invalid"]

Loc = tuple[str | int, ...]
"""Where a value sits in a request: field names and list indexes, as pydantic reports it."""


def invalid(loc: Loc, kind: LiteralString, message: str, value: object = None) -> ValidationError:
    """Build a ``ValidationError`` for one field (raise it).

    Args:
        loc: The field's location in the request.
        kind: A short machine-readable error type (``invalid_regex``, ``unknown_cohort``...).
        message: What is wrong, for a person.
        value: The offending input (echoed in ``errors()[0]["input"]``).

    Returns:
        The error, titled ``AnalyticsQuery``.
    """
    detail = InitErrorDetails(
        type=PydanticCustomError(kind, "{reason}", {"reason": message}),
        loc=loc,
        input=value,
    )
    return ValidationError.from_exception_data("AnalyticsQuery", [detail])
