"""The allow-list of event fields a query may filter, break down or aggregate by.

A field name from a request is only ever a key into :data:`EVENT_FIELDS` (or, for
``properties.<key>``, selects the ``properties`` map with the key as a parameter); the SQL
expressions below are the only column text a query contains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic.alias_generators import to_camel

__all__ = [
    "EVENT_FIELDS",
    "MAX_PROPERTY_KEY_LENGTH",
    "PROPERTY_PREFIX",
    "SESSION_COLUMNS",
    "EventField",
    "FieldKind",
    "canonical_field",
    "field_kind",
]

FieldKind = Literal["string", "number", "nullable_number", "datetime", "array", "property"]
"""How a field compares: text, a number (nullable or not), a time, a string array, a property."""

PROPERTY_PREFIX = "properties."
MAX_PROPERTY_KEY_LENGTH = 256


@dataclass(frozen=True, slots=True)
class EventField:
    """One allow-listed column of ``events``: its SQL expression and kind."""

    sql: str
    kind: FieldKind


_S: FieldKind = "string"

EVENT_FIELDS: Mapping[str, EventField] = {
    "id": EventField("id", _S),
    "name": EventField("name", _S),
    "device_id": EventField("device_id", _S),
    "profile_id": EventField("profile_id", _S),
    "session_id": EventField("session_id", _S),
    "path": EventField("path", _S),
    "origin": EventField("origin", _S),
    "referrer": EventField("referrer", _S),
    "referrer_name": EventField("referrer_name", _S),
    "referrer_type": EventField("referrer_type", _S),
    # FixedString(2): compare and return it as text (no NUL padding).
    "country": EventField("toString(country)", _S),
    "city": EventField("city", _S),
    "region": EventField("region", _S),
    "os": EventField("os", _S),
    "os_version": EventField("os_version", _S),
    "browser": EventField("browser", _S),
    "browser_version": EventField("browser_version", _S),
    "device": EventField("device", _S),
    "brand": EventField("brand", _S),
    "model": EventField("model", _S),
    "sdk_name": EventField("sdk_name", _S),
    "sdk_version": EventField("sdk_version", _S),
    "revenue": EventField("revenue", "number"),
    "duration": EventField("duration", "number"),
    "longitude": EventField("longitude", "nullable_number"),
    "latitude": EventField("latitude", "nullable_number"),
    "created_at": EventField("created_at", "datetime"),
    "groups": EventField("groups", "array"),
}
"""Filterable event columns by snake_case name (camelCase spellings are accepted too)."""

_CAMEL: Mapping[str, str] = {to_camel(name): name for name in EVENT_FIELDS if "_" in name}

SESSION_COLUMNS: Mapping[str, str] = {
    name: EVENT_FIELDS[name].sql
    for name in (
        "device_id",
        "profile_id",
        "referrer",
        "referrer_name",
        "referrer_type",
        "country",
        "city",
        "region",
        "os",
        "os_version",
        "browser",
        "browser_version",
        "device",
        "brand",
        "model",
    )
} | {"session_id": "id"}
"""Event fields that a ``sessions`` row carries with the same value as each of its events
(the device, geo and first-touch referrer), so a filter on them applies to sessions directly."""


def canonical_field(name: str) -> str | None:
    """Return the canonical spelling of a field name, or None when it is not allowed.

    ``properties.<key>`` keeps its key verbatim (any text up to 256 characters); column names
    map camelCase to snake_case (``referrerName`` -> ``referrer_name``).
    """
    if name.startswith(PROPERTY_PREFIX):
        key = name[len(PROPERTY_PREFIX) :]
        return name if 0 < len(key) <= MAX_PROPERTY_KEY_LENGTH else None
    if name in EVENT_FIELDS:
        return name
    return _CAMEL.get(name)


def field_kind(canonical: str) -> FieldKind:
    """The kind of a canonical field name (see :func:`canonical_field`)."""
    if canonical.startswith(PROPERTY_PREFIX):
        return "property"
    return EVENT_FIELDS[canonical].kind
