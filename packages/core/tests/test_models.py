"""The wire models: what they accept, what they refuse, the JSON Schema they export."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from openpanel_core._models import (
    BatchResponse,
    TrackEvent,
    batch_request_adapter,
    track_request_adapter,
)
from openpanel_core.schema import protocol_schema

VALID: list[dict[str, Any]] = [
    {"type": "track", "payload": {"name": "x"}},
    {"type": "track", "payload": {"name": "x", "profileId": 7, "groups": ["g"], "properties": {}}},
    {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": 0}}},
    {
        "type": "identify",
        "payload": {"profileId": "u", "email": "a@b.co", "avatar": "https://x.y/a.png"},
    },
    {"type": "increment", "payload": {"profileId": "u", "property": "a.b"}},
    {"type": "decrement", "payload": {"profileId": "u", "property": "a", "value": 2}},
    {"type": "alias", "payload": {"profileId": "u", "alias": "v"}},
    {"type": "group", "payload": {"id": "g", "type": "company", "name": "Acme"}},
    {"type": "assign_group", "payload": {"groupIds": ["g"]}},
    {
        "type": "replay",
        "payload": {
            "chunk_index": 0,
            "events_count": 1,
            "is_full_snapshot": True,
            "started_at": "2026-01-01T00:00:00Z",
            "ended_at": "2026-01-01T00:00:01Z",
            "payload": "[]",
            "sessionId": "s",
        },
    },
]

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"type": "track", "payload": {"name": "session_start"}}, "track.payload.name"),
    ({"type": "track", "payload": {"name": "session_end"}}, "track.payload.name"),
    ({"type": "track", "payload": {"name": "x" * 81}}, "track.payload.name"),
    ({"type": "track", "payload": {"name": ""}}, "track.payload.name"),
    ({"type": "track", "payload": {"name": "a\nb"}}, "track.payload.name"),
    ({"type": "track", "payload": {"name": "x", "profileId": None}}, "track.payload.profileId"),
    ({"type": "track", "payload": {"name": "x", "properties": None}}, "track.payload.properties"),
    (
        {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": 12.5}}},
        "track.payload",
    ),
    (
        {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": "12"}}},
        "track.payload",
    ),
    (
        {"type": "track", "payload": {"name": "revenue", "properties": {"__revenue": -1}}},
        "track.payload",
    ),
    (
        {"type": "identify", "payload": {"profileId": "u", "email": "nope"}},
        "identify.payload.email",
    ),
    (
        {"type": "identify", "payload": {"profileId": "u", "avatar": "nope"}},
        "identify.payload.avatar",
    ),
    ({"type": "identify", "payload": {}}, "identify.payload.profileId"),
    (
        {"type": "increment", "payload": {"profileId": "u", "property": "a", "value": 0}},
        "increment.payload.value",
    ),
    (
        {"type": "increment", "payload": {"profileId": "u", "property": "a", "value": -1}},
        "increment.payload.value",
    ),
    (
        {"type": "increment", "payload": {"profileId": "u", "property": "a", "value": None}},
        "increment.payload.value",
    ),
    (
        {
            "type": "replay",
            "payload": {
                "chunk_index": 65536,
                "events_count": 1,
                "is_full_snapshot": True,
                "started_at": "a",
                "ended_at": "b",
                "payload": "[]",
            },
        },
        "replay.payload.chunk_index",
    ),
    ({"type": "nope", "payload": {}}, ""),
]


@pytest.mark.parametrize("body", VALID)
def test_valid_requests(body: dict[str, Any]) -> None:
    model = track_request_adapter.validate_python(body)
    assert model.to_wire() == body


@pytest.mark.parametrize(("body", "loc"), INVALID)
def test_invalid_requests_name_the_field(body: dict[str, Any], loc: str) -> None:
    with pytest.raises(ValidationError) as info:
        track_request_adapter.validate_python(body)
    errors = info.value.errors()
    assert len(errors) == 1
    assert ".".join(str(p) for p in errors[0]["loc"]) == loc or loc == ""


def test_snake_case_names_work_in_python() -> None:
    event = TrackEvent(type="track", payload={"name": "x", "profile_id": "u"})  # type: ignore[arg-type]
    assert event.to_wire() == {"type": "track", "payload": {"name": "x", "profileId": "u"}}


def test_batch_items_carry_id_and_end_user_context() -> None:
    items = batch_request_adapter.validate_python(
        [
            {
                "id": "1",
                "type": "track",
                "payload": {"name": "x"},
                "ip": "203.0.113.1",
                "userAgent": "UA",
            }
        ]
    )
    assert items[0].to_wire()["userAgent"] == "UA"
    with pytest.raises(ValidationError):
        batch_request_adapter.validate_python([{"type": "track", "payload": {"name": "x"}}])
    with pytest.raises(ValidationError):
        batch_request_adapter.validate_python([])
    assert (
        BatchResponse.model_validate({"results": [{"id": "1", "status": 200}]}).results[0].status
        == 200
    )


def test_schema_has_every_message_and_no_nullable_optionals() -> None:
    schema = protocol_schema()
    defs = schema["$defs"]
    for name in ("TrackRequest", "BatchRequest", "TrackResponse", "BatchResponse", "TrackPayload"):
        assert name in defs
    text = json.dumps(schema)
    assert '"null"' not in text and '"default": null' not in text
    track = defs["TrackPayload"]
    assert track["required"] == ["name"]
    assert "profileId" in track["properties"]
    assert schema["x-openpanel"]["headers"]["clientId"] == "openpanel-client-id"


def test_schema_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "openpanel_core.schema"], capture_output=True, check=True, text=True
    ).stdout
    assert json.loads(out) == protocol_schema()
