"""Field allow-lists and value formatting for reads (OpenPanel export JSON shapes).

Every SQL expression used by the read paths comes from the mappings below; caller-supplied
names are only ever used as dictionary keys to look them up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, cast

from openpanel_server._store._schema import PROFILES, SESSIONS

__all__ = [
    "DEFAULT_EVENT_FIELDS",
    "OPTIONAL_EVENT_FIELDS",
    "PROFILE_FIELDS",
    "SESSION_FIELDS",
    "event_field_selection",
    "iso_utc",
    "row_to_dict",
    "to_camel",
]


def to_camel(name: str) -> str:
    """Convert ``snake_case`` to ``camelCase`` (``profile_id`` -> ``profileId``)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def iso_utc(value: datetime) -> str:
    """Format a datetime as OpenPanel does in JSON: ``2026-01-02T03:04:05.678Z``."""
    if value.utcoffset() is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# ``toString`` turns the FixedString(2) country into a str without NUL padding.
DEFAULT_EVENT_FIELDS: Mapping[str, str] = {
    "id": "id",
    "name": "name",
    "deviceId": "device_id",
    "profileId": "profile_id",
    "sessionId": "session_id",
    "projectId": "project_id",
    "createdAt": "created_at",
    "path": "path",
    "duration": "duration",
    "city": "city",
    "country": "toString(country)",
    "os": "os",
    "browser": "browser",
}
"""The fields ``/export/events`` always returns: JSON name -> SQL expression."""

OPTIONAL_EVENT_FIELDS: Mapping[str, str] = {
    "properties": "properties",
    "region": "region",
    "longitude": "longitude",
    "latitude": "latitude",
    "osVersion": "os_version",
    "browserVersion": "browser_version",
    "device": "device",
    "brand": "brand",
    "model": "model",
    "origin": "origin",
    "referrer": "referrer",
    "referrerName": "referrer_name",
    "referrerType": "referrer_type",
    "revenue": "revenue",
    "importedAt": "imported_at",
    "sdkName": "sdk_name",
    "sdkVersion": "sdk_version",
    "groups": "groups",
}
"""Fields added by ``includes=`` (OpenPanel names); unknown names are ignored."""


def _select_for(column: str, column_type: str) -> str:
    return f"toString({column})" if "FixedString" in column_type else column


PROFILE_FIELDS: Mapping[str, str] = {
    to_camel(c.name): _select_for(c.name, c.type) for c in PROFILES.columns
}
"""Profile JSON name -> SQL expression (OpenPanel ``IServiceProfile`` names)."""

SESSION_FIELDS: Mapping[str, str] = {
    to_camel(c.name): _select_for(c.name, c.type) for c in SESSIONS.columns if c.name != "sign"
}
"""Session JSON name -> SQL expression (every column except ``sign``)."""


def event_field_selection(include: Collection[str]) -> dict[str, str]:
    """Return the JSON name -> SQL expression map for an event export.

    Args:
        include: Optional field names (``OPTIONAL_EVENT_FIELDS`` keys); others are ignored.

    Returns:
        The default fields followed by the included optional ones, in a stable order.
    """
    fields = dict(DEFAULT_EVENT_FIELDS)
    fields.update({key: expr for key, expr in OPTIONAL_EVENT_FIELDS.items() if key in include})
    return fields


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, dict):
        mapping = cast("dict[object, object]", value)
        return {str(k): str(v) for k, v in mapping.items()}
    if isinstance(value, (list, tuple)):
        items = cast("Sequence[object]", value)
        return [str(v) for v in items]
    return value


def row_to_dict(names: Collection[str], row: Sequence[Any]) -> dict[str, Any]:
    """Zip JSON names with one result row, converting datetimes to ISO strings."""
    return {name: _json_value(value) for name, value in zip(names, row, strict=True)}
