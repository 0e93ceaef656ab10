"""Saved cohort definitions: who did something (events + filters) within a date range."""

from __future__ import annotations

from pydantic import Field

from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import RangeFields

__all__ = ["CohortDefinition", "CohortRule"]


class CohortRule(RangeFields):
    """Who is in a cohort: the profiles with at least ``min_events`` matching events in the range.

    This is what a saved cohort stores as its ``definition`` (``/api/cohorts``). The range is
    resolved when the cohort is used (``30d`` is a rolling cohort), in the project's timezone.
    Profiles are ``profile_id`` values (a device id for anonymous visitors, as OpenPanel stores
    them).

    Attributes:
        events: Event names that count (empty: any event).
        filters: Conditions on those events (may use other cohorts, up to 3 levels deep).
        min_events: How many matching events make a member (default 1).
    """

    events: list[str] = Field(default_factory=list[str], max_length=50)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    min_events: int = Field(default=1, ge=1, le=1_000_000)


class CohortDefinition(CohortRule):
    """A cohort rule with its id and name, as queries use it (``QueryContext.cohorts``).

    Attributes:
        id: The cohort id that ``inCohort``/``notInCohort`` filters name.
        name: A label.
    """

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
