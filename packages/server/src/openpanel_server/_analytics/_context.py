"""What a query runs against: the project, its timezone, the clock and its saved cohorts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpanel_server._analytics._cohort_model import CohortDefinition
from openpanel_server._analytics._errors import invalid

__all__ = ["QueryContext"]


@dataclass(frozen=True, slots=True)
class QueryContext:
    """The per-request context, filled in by the API from the authenticated project.

    Attributes:
        project_id: Every query reads only this project's rows.
        timezone: The project's IANA timezone; ranges and buckets use its local days.
        now: The current time (aware); None means the real clock. Tests pin it.
        cohorts: Saved cohorts by id, for ``inCohort``/``notInCohort`` filters.

    Raises:
        pydantic.ValidationError: ``timezone`` is not an IANA name (field ``timezone``).
    """

    project_id: str
    timezone: str = "UTC"
    now: datetime | None = None
    cohorts: Mapping[str, CohortDefinition] = field(default_factory=dict[str, CohortDefinition])

    def __post_init__(self) -> None:
        try:
            if not self.timezone or self.timezone != self.timezone.strip():
                raise ZoneInfoNotFoundError(self.timezone)
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"unknown IANA timezone {self.timezone!r}"
            raise invalid(("timezone",), "unknown_timezone", msg, self.timezone) from exc
        if self.now is not None and self.now.utcoffset() is None:
            raise invalid(("now",), "naive_time", "now must be timezone aware", self.now)

    @property
    def zone(self) -> ZoneInfo:
        """The project timezone."""
        return ZoneInfo(self.timezone)

    def current_time(self) -> datetime:
        """``now``, or the real UTC clock."""
        return self.now if self.now is not None else datetime.now(timezone.utc)
