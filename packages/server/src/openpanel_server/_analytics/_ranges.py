"""Date ranges and time buckets in the project's timezone.

A range resolves to a half-open UTC window ``[start, end)``. Presets count calendar days,
months and years in the project timezone (an IANA name), relative to "now". Buckets are the
local starts of minutes, hours, days, ISO weeks (Monday) or months; SQL and Python compute the
same bucket starts, so series can be filled with zeros where no row exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator

from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._errors import invalid

__all__ = [
    "MAX_BUCKETS",
    "Interval",
    "OptionalRangeFields",
    "RangeFields",
    "RangePreset",
    "Window",
    "bucket_sql",
    "bucket_starts",
    "optional_window",
    "resolve_window",
]

RangePreset = Literal[
    "30min",
    "lastHour",
    "last24h",
    "today",
    "yesterday",
    "7d",
    "30d",
    "3m",
    "6m",
    "12m",
    "monthToDate",
    "lastMonth",
    "yearToDate",
    "lastYear",
    "custom",
]
"""OpenPanel's range names (``/export/charts``)."""

Interval = Literal["minute", "hour", "day", "week", "month"]

MAX_BUCKETS = 5000
"""Most buckets one series may have (a minute series over a year is refused)."""

UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open UTC time window ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        """``end - start``."""
        return self.end - self.start

    def previous(self) -> Window:
        """The window of the same length just before this one (period comparison)."""
        return Window(self.start - self.length, self.start)


class RangeFields(ApiModel):
    """The range part of a request.

    Attributes:
        range: A preset (default ``30d``: the last 30 days including today) or ``custom``.
        start_date: With ``custom``: a date (the whole local day) or a time (an offset-less
            time is read in the project timezone).
        end_date: With ``custom``: a date (inclusive, the whole local day) or a time
            (inclusive).
    """

    range: RangePreset = "30d"
    start_date: date | datetime | None = Field(default=None, validate_default=True)
    end_date: date | datetime | None = Field(default=None, validate_default=True)

    @field_validator("start_date", "end_date")
    @classmethod
    def _custom_bounds(
        cls, value: date | datetime | None, info: ValidationInfo
    ) -> date | datetime | None:
        # Reported on the missing field itself, so a 400 names it.
        if value is None and info.data.get("range") == "custom":
            raise ValueError("range 'custom' needs startDate and endDate")
        return value


class OptionalRangeFields(ApiModel):
    """An optional range: no ``range`` means all time.

    Attributes:
        range: A preset or ``custom``; None (the default) applies no time limit.
        start_date: With ``custom``: as in :class:`RangeFields`.
        end_date: With ``custom``: as in :class:`RangeFields`.
    """

    range: RangePreset | None = None
    start_date: date | datetime | None = Field(default=None, validate_default=True)
    end_date: date | datetime | None = Field(default=None, validate_default=True)

    @field_validator("start_date", "end_date")
    @classmethod
    def _custom_bounds(
        cls, value: date | datetime | None, info: ValidationInfo
    ) -> date | datetime | None:
        if "range" not in info.data:  # the range itself failed: reported there
            return value
        preset = info.data["range"]
        if value is None and preset == "custom":
            raise ValueError("range 'custom' needs startDate and endDate")
        if value is not None and preset is None:
            raise ValueError("startDate and endDate need range 'custom'")
        return value


def optional_window(fields: OptionalRangeFields, zone: ZoneInfo, now: datetime) -> Window | None:
    """The UTC window of an optional range (None: all time); see :func:`resolve_window`.

    Raises:
        pydantic.ValidationError: A custom range ends before it starts.
    """
    if fields.range is None:
        return None
    bounds = RangeFields(range=fields.range, start_date=fields.start_date, end_date=fields.end_date)
    return resolve_window(bounds, zone, now)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last = (next_month - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _bound(value: date | datetime, zone: ZoneInfo, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        aware = value if value.utcoffset() is not None else value.replace(tzinfo=zone)
        moment = aware.astimezone(UTC)
        return moment + timedelta(milliseconds=1) if end else moment
    return _local_midnight(value + timedelta(days=1) if end else value, zone)


def resolve_window(fields: RangeFields, zone: ZoneInfo, now: datetime) -> Window:
    """Turn a range into a UTC window.

    Args:
        fields: The request's range fields.
        zone: The project timezone.
        now: The current time (aware).

    Returns:
        The window. ``7d`` and ``30d`` are the last 7/30 local days including today; ``3m``,
        ``6m`` and ``12m`` start on the same local day 3/6/12 months back; presets ending
        "today" end at the next local midnight.

    Raises:
        pydantic.ValidationError: A custom range ends before it starts.
    """
    today = now.astimezone(zone).date()
    tomorrow = _local_midnight(today + timedelta(days=1), zone)
    preset = fields.range
    if preset == "custom":
        assert fields.start_date is not None  # validated
        assert fields.end_date is not None
        window = Window(
            _bound(fields.start_date, zone, end=False), _bound(fields.end_date, zone, end=True)
        )
        if window.end <= window.start:
            raise invalid(("endDate",), "range_order", "endDate is before startDate")
        return window
    moment = now.astimezone(UTC)
    rolling = {"30min": timedelta(minutes=30), "lastHour": timedelta(hours=1)}
    rolling["last24h"] = timedelta(hours=24)
    if preset in rolling:
        return Window(moment - rolling[preset], moment)
    days = {"today": 1, "7d": 7, "30d": 30}
    if preset in days:
        return Window(_local_midnight(today - timedelta(days=days[preset] - 1), zone), tomorrow)
    if preset == "yesterday":
        return Window(
            _local_midnight(today - timedelta(days=1), zone), _local_midnight(today, zone)
        )
    months = {"3m": 3, "6m": 6, "12m": 12}
    if preset in months:
        return Window(_local_midnight(_add_months(today, -months[preset]), zone), tomorrow)
    first = today.replace(day=1)
    if preset == "monthToDate":
        return Window(_local_midnight(first, zone), tomorrow)
    if preset == "lastMonth":
        return Window(_local_midnight(_add_months(first, -1), zone), _local_midnight(first, zone))
    jan = today.replace(month=1, day=1)
    if preset == "yearToDate":
        return Window(_local_midnight(jan, zone), tomorrow)
    # lastYear
    return Window(_local_midnight(jan.replace(year=jan.year - 1), zone), _local_midnight(jan, zone))


def _floor(moment: datetime, interval: Interval, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if interval == "minute":
        return local.replace(second=0, microsecond=0).astimezone(UTC)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    return _local_midnight(day, zone)


def bucket_starts(window: Window, interval: Interval, zone: ZoneInfo) -> list[datetime]:
    """The UTC starts of every bucket that overlaps ``window``, in order.

    Raises:
        pydantic.ValidationError: More than :data:`MAX_BUCKETS` buckets (field ``interval``).
    """
    return list(_iter_buckets(window, interval, zone))


def _iter_buckets(window: Window, interval: Interval, zone: ZoneInfo) -> Iterator[datetime]:
    current = _floor(window.start, interval, zone)
    count = 0
    while current < window.end:
        count += 1
        if count > MAX_BUCKETS:
            msg = (
                f"more than {MAX_BUCKETS} {interval} buckets in this range: pick a longer interval"
            )
            raise invalid(("interval",), "too_many_buckets", msg, interval)
        yield current
        if interval in ("minute", "hour"):
            step = timedelta(minutes=1) if interval == "minute" else timedelta(hours=1)
            # Step in absolute time, then floor again: the local floor of zones with a 30 or
            # 45 minute offset, and DST changes, stay right.
            current = _floor(current + step, interval, zone)
            continue
        local = current.astimezone(zone).date()
        if interval == "day":
            nxt = local + timedelta(days=1)
        elif interval == "week":
            nxt = local + timedelta(days=7)
        else:
            nxt = _add_months(local, 1)
        current = _local_midnight(nxt, zone)


_BUCKET_SQL: dict[str, str] = {
    "minute": "toUnixTimestamp(toStartOfMinute(created_at, {tz}))",
    "hour": "toUnixTimestamp(toStartOfHour(created_at, {tz}))",
    "day": "toUnixTimestamp(toDateTime(toDate(created_at, {tz}), {tz}))",
    "week": "toUnixTimestamp(toDateTime(toStartOfWeek(created_at, 1, {tz}), {tz}))",
    "month": "toUnixTimestamp(toDateTime(toStartOfMonth(created_at, {tz}), {tz}))",
}


def bucket_sql(interval: Interval, tz_placeholder: str) -> str:
    """SQL for the epoch seconds of ``created_at``'s bucket start in the project timezone."""
    return _BUCKET_SQL[interval].replace("{tz}", tz_placeholder)
