"""Client timestamps (``__timestamp``) as OpenPanel's ``getTimestamp`` judges them.

The value is read the way JavaScript's ``new Date(value)`` reads it: ISO 8601 strings (with
``Z``, an offset, or none; date-only forms), RFC 2822 dates (what ``Date.toUTCString()`` prints)
and numbers as epoch milliseconds. Differences from JavaScript, on purpose: a date-time without
an offset is read as UTC (JavaScript uses the server's local zone), and booleans are invalid
(``new Date(true)`` is 1 ms after the epoch).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

__all__ = ["FUTURE_TOLERANCE", "PAST_THRESHOLD", "parse_client_time", "resolve_timestamp"]

FUTURE_TOLERANCE = timedelta(minutes=1)
"""A client timestamp later than ``received_at`` plus this is ignored."""
PAST_THRESHOLD = timedelta(minutes=15)
"""A client timestamp earlier than ``received_at`` minus this is "from the past"."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_MS = 8_640_000_000_000_000  # ECMAScript time value limit (±100,000,000 days)
# Python's datetime cannot hold all of JavaScript's range (years 1..9999 only).
_MIN_PY_MS = -62_135_596_800_000
_MAX_PY_MS = 253_402_300_799_999

_ISO = re.compile(
    r"""
    (?P<year>[+-]\d{6}|\d{4})
    (?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?
    (?:[Tt\ ](?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
        \s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.VERBOSE,
)


def _from_ms(ms: float) -> datetime | None:
    if not math.isfinite(ms):
        return None
    whole = int(ms)  # JavaScript's TimeClip truncates toward zero
    if abs(whole) > _MAX_MS or not _MIN_PY_MS <= whole <= _MAX_PY_MS:
        return None
    return _EPOCH + timedelta(milliseconds=whole)


def _from_iso(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    g = match.groupdict()
    year = int(g["year"])
    month = int(g["month"] or 1)
    day = int(g["day"] or 1)
    hour = int(g["hour"] or 0)
    minute = int(g["minute"] or 0)
    second = int(g["second"] or 0)
    micro = int(((g["fraction"] or "") + "000")[:3]) * 1000  # milliseconds, truncated
    extra = timedelta()
    if hour == 24 and minute == second == micro == 0:
        hour, extra = 0, timedelta(days=1)
    tz = timezone.utc
    offset = g["tz"]
    if offset and offset not in "Zz":
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        tz = timezone(delta if offset[0] == "+" else -delta)
    try:
        value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz) + extra
    except (ValueError, OverflowError):
        return None
    return value.astimezone(timezone.utc)


def parse_client_time(value: object) -> datetime | None:
    """Parse a client-supplied time the way ``new Date(value)`` would.

    Args:
        value: An ISO 8601 or RFC 2822 string, or epoch milliseconds (int or float).

    Returns:
        An aware UTC datetime with millisecond precision, or ``None`` when the value is not a
        valid time.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_ms(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        aware = aware.astimezone(timezone.utc)
        return aware.replace(microsecond=aware.microsecond // 1000 * 1000)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    parsed = _from_iso(text)
    if parsed is not None:
        return parsed
    if not text[0].isalpha():
        return None
    try:
        rfc = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if rfc.tzinfo is None:
        rfc = rfc.replace(tzinfo=timezone.utc)
    return rfc.astimezone(timezone.utc)


def resolve_timestamp(value: object, received_at: datetime) -> tuple[datetime, bool]:
    """Choose the event time from ``__timestamp`` and the receive time.

    A missing, empty, invalid or too-late value (more than one minute after ``received_at``)
    gives ``received_at``. Otherwise the client time is used, and it is "from the past" when it
    is more than 15 minutes before ``received_at``.

    Args:
        value: The ``__timestamp`` property as sent (string, number or ``None``).
        received_at: When the request arrived; a naive value is taken as UTC.

    Returns:
        ``(timestamp, is_from_the_past)`` with ``timestamp`` an aware UTC datetime.
    """
    if received_at.tzinfo is None:
        received = received_at.replace(tzinfo=timezone.utc)
    else:
        received = received_at.astimezone(timezone.utc)
    if not value:
        return received, False
    client = parse_client_time(value)
    if client is None or client > received + FUTURE_TOLERANCE:
        return received, False
    return client, client < received - PAST_THRESHOLD
