from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from openpanel_server._normalize import parse_client_time, resolve_timestamp

UTC = timezone.utc
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def at(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T11:59:00.000Z", at(minutes=-1)),
        ("2024-05-01T11:59:00Z", at(minutes=-1)),
        ("2024-05-01T11:59:00.123456Z", at(minutes=-1, milliseconds=123)),  # truncated to ms
        ("2024-05-01t11:59:00z", at(minutes=-1)),
        ("2024-05-01T13:59:00+02:00", at(minutes=-1)),
        ("2024-05-01T13:59:00+0200", at(minutes=-1)),
        ("2024-05-01T06:29:00-05:30", at(minutes=-1)),
        ("2024-05-01 11:59:00Z", at(minutes=-1)),
        ("2024-05-01T11:59", at(minutes=-1)),  # no offset: read as UTC
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-04-30T24:00:00Z", datetime(2024, 5, 1, tzinfo=UTC)),
        ("Wed, 01 May 2024 11:59:00 GMT", at(minutes=-1)),
        (NOW_MS - 60_000, at(minutes=-1)),
        (float(NOW_MS - 60_000) + 0.9, at(minutes=-1)),  # truncated like TimeClip
        (0.5, datetime(1970, 1, 1, tzinfo=UTC)),
        (-1000, datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (at(minutes=-1).replace(tzinfo=None), at(minutes=-1)),
    ],
)
def test_parse_client_time(value: object, expected: datetime) -> None:
    parsed = parse_client_time(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "yesterday",
        "not a date",
        "2024-13-01",
        "2024-02-30T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "2024-05-01T12:00:00+25:00",
        "1714564800000",  # numeric strings are not epoch ms in JavaScript either
        float("nan"),
        float("inf"),
        8.64e15 + 1,
        10**20,
        True,
        False,
        [],
        {},
        object(),
    ],
)
def test_parse_client_time_invalid(value: object) -> None:
    assert parse_client_time(value) is None


@pytest.mark.parametrize(
    ("value", "expected", "from_past"),
    [
        (None, NOW, False),
        ("", NOW, False),
        (0, NOW, False),  # falsy, as upstream
        ("garbage", NOW, False),
        ("2024-05-01T11:59:00Z", at(minutes=-1), False),
        ("2024-05-01T12:01:00Z", at(minutes=1), False),  # exactly +1 min is accepted
        ("2024-05-01T12:01:00.001Z", NOW, False),  # later is ignored
        ("2099-01-01T00:00:00Z", NOW, False),
        ("2024-05-01T11:45:00Z", at(minutes=-15), False),  # exactly 15 min is not "past"
        ("2024-05-01T11:44:59.999Z", at(minutes=-15, milliseconds=-1), True),
        ("2020-01-01T00:00:00Z", datetime(2020, 1, 1, tzinfo=UTC), True),
        (NOW_MS - 3_600_000, at(hours=-1), True),
        (NOW_MS + 60_000, at(minutes=1), False),
        (NOW_MS + 60_001, NOW, False),
    ],
)
def test_resolve_timestamp(value: object, expected: datetime, from_past: bool) -> None:
    assert resolve_timestamp(value, NOW) == (expected, from_past)


def test_resolve_timestamp_received_at_zones() -> None:
    berlin = timezone(timedelta(hours=2))
    received = NOW.astimezone(berlin)
    stamp, past = resolve_timestamp(None, received)
    assert stamp == NOW
    assert stamp.utcoffset() == timedelta(0)
    assert not past
    naive = NOW.replace(tzinfo=None)
    assert resolve_timestamp("2024-05-01T11:00:00Z", naive) == (at(hours=-1), True)
