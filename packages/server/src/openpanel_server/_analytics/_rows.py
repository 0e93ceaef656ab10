"""Row models returned by list queries (sessions, events, profiles) and their SQL columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from openpanel_server._analytics._base import ApiModel

__all__ = [
    "EVENT_ITEM_COLUMNS",
    "PROFILE_ITEM_COLUMNS",
    "SESSION_ITEM_COLUMNS",
    "EventItem",
    "ProfileItem",
    "SessionItem",
    "iso_utc",
    "item",
]


class SessionItem(ApiModel):
    """One session (times are UTC ISO strings, durations milliseconds)."""

    id: str
    profile_id: str
    device_id: str
    created_at: str
    ended_at: str
    duration: int
    is_bounce: bool
    entry_path: str
    exit_path: str
    screen_view_count: int
    event_count: int
    revenue: float
    country: str
    region: str
    city: str
    os: str
    browser: str
    device: str
    referrer: str
    referrer_name: str
    referrer_type: str
    utm_source: str
    utm_medium: str
    utm_campaign: str


SESSION_ITEM_COLUMNS: Mapping[str, str] = {
    name: ("toString(country)" if name == "country" else name) for name in SessionItem.model_fields
}


class EventItem(ApiModel):
    """One event, with its properties (the flat dotted-key map)."""

    id: str
    name: str
    device_id: str
    profile_id: str
    session_id: str
    created_at: str
    path: str
    origin: str
    referrer_name: str
    duration: int
    revenue: int
    country: str
    city: str
    os: str
    browser: str
    device: str
    properties: dict[str, str]


EVENT_ITEM_COLUMNS: Mapping[str, str] = {
    name: ("toString(country)" if name == "country" else name) for name in EventItem.model_fields
}


class ProfileItem(ApiModel):
    """The newest version of an identified profile."""

    id: str
    first_name: str
    last_name: str
    email: str
    avatar: str
    is_external: bool
    properties: dict[str, str]
    created_at: str
    last_seen_at: str


PROFILE_ITEM_COLUMNS: Mapping[str, str] = {name: name for name in ProfileItem.model_fields}


def iso_utc(value: datetime) -> str:
    """A UTC datetime as ``2026-03-01T12:00:00.000Z``."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, dict):
        mapping = cast("dict[object, object]", value)
        return {str(k): str(v) for k, v in mapping.items()}
    return value


_M = TypeVar("_M", bound=ApiModel)


def item(model: type[_M], columns: Mapping[str, str], row: Sequence[Any]) -> _M:
    """Build ``model`` from a row selected with ``columns``' expressions, in order."""
    values = {name: _plain(v) for name, v in zip(columns, row, strict=True)}
    return model.model_validate(values)
