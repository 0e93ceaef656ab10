"""Which records become which webhook messages; schema versioning; secrets at rest."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from openpanel_server._meta import MIGRATIONS, MetaStore
from openpanel_server._secretbox import SecretBox, SecretBoxError, load_or_create_key
from openpanel_server._webhook_events import (
    EVENT_TYPES,
    PROFILE_UPDATE_MARK,
    Subscription,
    WebhookRouter,
    message_id,
)

P = "proj1"


def _event(event_id: str, name: str, project: str = P) -> list[Any]:
    return [
        "event",
        {
            "id": event_id,
            "project_id": project,
            "name": name,
            "created_at": "2027-01-15T08:00:00.000+00:00",
            "properties": {"sku": "B-1"},
            "imported_at": None,
        },
    ]


RECORDS: list[tuple[int, list[Any]]] = [
    (1, _event("e1", "purchase")),
    (2, _event("e2", "screen_view")),
    (3, _event("s1", "session_start")),
    (4, _event("x1", "session_end")),  # session.ended comes from the session row
    (
        5,
        [
            "session",
            {
                "id": "sess1",
                "project_id": P,
                "created_at": "2027-01-15T08:00:00.000+00:00",
                "ended_at": "2027-01-15T08:10:00.000+00:00",
                "sign": 1,
                "version": 1,
                "duration": 600000,
            },
        ],
    ),
    (6, ["profile", {"id": "u1", "project_id": P, "email": "a@b.c", "last_seen_at": "t"}]),
    (7, ["profile", {"id": "u1", "project_id": P, PROFILE_UPDATE_MARK: "profile.updated"}]),
    (8, ["bot", {"id": "b1", "project_id": P, "name": "Googlebot"}]),
    (9, ["group", {"id": "g1", "project_id": P}]),
    (10, _event("e3", "purchase", project="other")),
]


def _router(subs: dict[str, list[Subscription]]) -> WebhookRouter:
    return WebhookRouter(lambda: subs, lambda: 1)


def test_records_map_to_event_types() -> None:
    everything = Subscription("ep_all", frozenset(), frozenset())
    messages = _router({P: [everything]}).collect(RECORDS)
    got = [(m.event_type, m.source_id) for m in messages]
    assert got == [
        ("event.created", "e1"),
        ("event.created", "e2"),
        ("session.started", "s1"),
        ("session.ended", "sess1"),
        ("profile.identified", "wal:6"),
        ("profile.updated", "wal:7"),
    ]
    body = json.loads(messages[0].body)
    assert body["type"] == "event.created"
    assert body["timestamp"] == "2027-01-15T08:00:00.000Z"
    assert body["data"]["createdAt"] == "2027-01-15T08:00:00.000Z"
    assert body["data"]["properties"] == {"sku": "B-1"}
    assert "importedAt" not in body["data"]
    session = json.loads(messages[3].body)
    assert session["timestamp"] == "2027-01-15T08:10:00.000Z"
    assert "sign" not in session["data"] and session["data"]["duration"] == 600000
    updated = json.loads(messages[5].body)
    assert PROFILE_UPDATE_MARK not in json.dumps(updated)


def test_subscriptions_filter_by_type_and_event_name() -> None:
    purchases = Subscription("ep_p", frozenset({"event.created"}), frozenset({"purchase"}))
    sessions = Subscription("ep_s", frozenset({"session.ended", "session.started"}), frozenset())
    messages = _router({P: [purchases, sessions]}).collect(RECORDS)
    got = sorted((m.endpoint_id, m.event_type, m.source_id) for m in messages)
    assert got == [
        ("ep_p", "event.created", "e1"),
        ("ep_s", "session.ended", "sess1"),
        ("ep_s", "session.started", "s1"),
    ]


def test_message_ids_are_stable_per_record_and_endpoint() -> None:
    a = Subscription("ep_a", frozenset(), frozenset())
    b = Subscription("ep_b", frozenset(), frozenset())
    first = _router({P: [a, b]}).collect(RECORDS)
    again = _router({P: [a, b]}).collect(RECORDS)  # the log replayed after a crash
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first)  # one per (record, endpoint)
    assert first[0].id == message_id("ep_a", "event.created", "e1")
    assert first[0].id.startswith("msg_") and "." not in first[0].id
    assert first[0].body is first[1].body  # serialised once for every endpoint


def test_no_endpoints_means_no_work() -> None:
    assert _router({}).collect(RECORDS) == []
    other = {"someone-else": [Subscription("e", frozenset(), frozenset())]}
    assert [m.source_id for m in _router(other).collect(RECORDS)] == []


def test_the_router_reloads_when_the_database_changes() -> None:
    loads: list[int] = []
    version = [1]

    def load() -> dict[str, list[Subscription]]:
        loads.append(1)
        return {}

    router = WebhookRouter(load, lambda: version[0])
    router.collect(RECORDS)
    router.collect(RECORDS)
    assert len(loads) == 1
    version[0] = 2  # another connection (the CLI) committed
    router.collect(RECORDS)
    router.invalidate()  # this process's API changed something
    router.collect(RECORDS)
    assert len(loads) == 3


def test_event_types_are_documented() -> None:
    assert set(EVENT_TYPES) == {
        "event.created",
        "session.started",
        "session.ended",
        "profile.identified",
        "profile.updated",
    }


# ---------------------------------------------------------------------- schema versions


def test_an_unversioned_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0][1]:  # as databases were created before versioning
        conn.execute(statement)
    conn.execute(
        "INSERT INTO projects (id, name, cors, allow_unsafe_revenue, created_at) "
        "VALUES ('p0', 'Old', '[]', 0, '2026-01-01')"
    )
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()
    meta = MetaStore(path)
    assert [p.id for p in meta.list_projects()] == ["p0"]
    meta.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0] == 3
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"webhook_endpoints", "webhook_messages", "webhook_attempts"} <= tables
    conn.close()
    MetaStore(path).close()  # opening again is a no-op


# ---------------------------------------------------------------------- secrets at rest


def test_the_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "webhook-secrets.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == key
    path.write_text("not hex\n")
    with pytest.raises(SecretBoxError, match="32-byte"):
        load_or_create_key(path)


def test_the_box_detects_tampering_and_the_wrong_key() -> None:
    box = SecretBox(b"a" * 32)
    token = box.encrypt("whsec_c2VjcmV0")
    assert token.startswith("v2:") and "c2VjcmV0" not in token
    assert box.decrypt(token) == "whsec_c2VjcmV0"
    assert box.encrypt("same") != box.encrypt("same")  # a fresh nonce each time
    with pytest.raises(SecretBoxError):
        SecretBox(b"b" * 32).decrypt(token)
    raw = bytearray(token.encode())
    raw[10] ^= 1
    with pytest.raises(SecretBoxError):
        box.decrypt(raw.decode(errors="replace"))
    for junk in ("", "v1:" + token[3:], "v2:abc", "v2:!!!", "v2:" + "A" * 8):
        with pytest.raises(SecretBoxError):
            box.decrypt(junk)
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox(b"short")
    assert "a" * 8 not in repr(box)
