"""Event store tests against embedded chDB.

chDB hosts one data directory per process, so this module opens ONE store (one tmp dir per
pytest-xdist worker) and isolates tests by project id. The store is closed at module teardown
so other modules in the same worker can open their own directory afterwards. Tests that need
a second directory or a chDB config run in a subprocess (test_store_cluster.py).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from openpanel_server._store import (
    TABLES,
    BotEventRow,
    EventRow,
    GroupRow,
    ProfileRow,
    ReplayChunkRow,
    SessionRow,
    Store,
    StoreOpenError,
    open_store,
    pending_statements,
)

UTC = timezone.utc
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(None, tmp_path_factory.mktemp("store"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def project() -> str:
    return f"proj-{uuid.uuid4().hex[:12]}"


def _event(project: str, i: int, **kw: object) -> EventRow:
    fields: dict[str, Any] = {
        "id": f"{i:032x}",
        "project_id": project,
        "name": "screen_view",
        "created_at": BASE + timedelta(minutes=i),
        "device_id": f"dev-{i % 3}",
        "profile_id": f"dev-{i % 3}",
        "session_id": f"sess-{i % 5}",
        "path": f"/page/{i}",
        "properties": {"__title": f"Page {i}", "k.nested": "v"},
        "country": "DE",
        "city": "Berlin",
        "os": "Linux",
        "browser": "Firefox",
    }
    fields.update(kw)
    return EventRow(**fields)


def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    assert store.migrate() == []
    assert store.migrate() == []
    rows = store.client.query(
        "SELECT version, name FROM schema_migrations ORDER BY version"
    ).result_rows
    assert [tuple(r) for r in rows] == [
        (1, "initial_schema"),
        (2, "session_replay_chunks"),
        (3, "session_replay_chunks_ttl"),
    ]
    ddl = str(store.client.command("SHOW CREATE TABLE session_replay_chunks"))
    assert "TTL toDateTime(started_at) + toIntervalDay(30)" in ddl
    engines = {
        str(n): str(e)
        for n, e in store.client.query(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    }
    assert engines["events"] == "MergeTree"
    assert engines["sessions"] == "VersionedCollapsingMergeTree"
    assert engines["profiles"] == "ReplacingMergeTree"
    assert engines["groups"] == "ReplacingMergeTree"
    assert engines["events_bots"] == "MergeTree"
    assert store.layout == "embedded"


def test_cluster_ddl_parses(store: Store) -> None:
    for statement in pending_statements("cluster"):
        out = store.client.query(
            "SELECT formatQuerySingleLine({q:String})", parameters={"q": statement}
        ).result_rows
        assert str(out[0][0]).startswith(("CREATE TABLE", "ALTER TABLE"))


def test_open_other_dir_raises(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreOpenError, match="one data directory per process"):
        open_store(None, tmp_path / "other")
    with pytest.raises(StoreOpenError, match="chdb_config"):
        open_store(None, tmp_path / "x", cluster=True)


def test_reopen_same_dir_is_reference_counted(store: Store) -> None:
    assert store.data_dir is not None
    first = open_store(None, store.data_dir)
    second = open_store(None, store.data_dir)
    assert first is second is store
    second.close()
    assert not first.closed
    assert first.count_events("nobody") == 0
    first.close()
    assert not first.closed  # the module fixture still holds its reference


def test_insert_and_list_events(store: Store, project: str) -> None:
    store.insert_events([_event(project, i) for i in range(10)])
    store.insert_events([])
    assert store.count_events(project) == 10
    events, total = store.list_events(project, limit=3)
    assert total == 10
    assert [e["id"] for e in events] == [f"{i:032x}" for i in (9, 8, 7)]
    first = events[0]
    assert set(first) == {
        "id", "name", "deviceId", "profileId", "sessionId", "projectId", "createdAt",
        "path", "duration", "city", "country", "os", "browser",
    }  # fmt: skip
    assert first["createdAt"] == "2026-03-01T12:09:00.000Z"
    assert first["country"] == "DE"
    assert first["projectId"] == project
    page2, _ = store.list_events(project, limit=3, page=2)
    assert [e["id"] for e in page2] == [f"{i:032x}" for i in (6, 5, 4)]
    with_props, _ = store.list_events(project, limit=1, include_properties=True)
    assert with_props[0]["properties"] == {"__title": "Page 9", "k.nested": "v"}
    extra, _ = store.list_events(project, limit=1, include=("origin", "groups", "bogus"))
    assert "origin" in extra[0]
    assert extra[0]["groups"] == []
    assert "bogus" not in extra[0]


def test_list_events_order_ties_by_id(store: Store, project: str) -> None:
    store.insert_events(
        [_event(project, i, id=f"id-{c}", created_at=BASE) for i, c in enumerate("cab")]
    )
    events, _ = store.list_events(project)
    assert [e["id"] for e in events] == ["id-a", "id-b", "id-c"]


def test_list_events_limit_is_clamped(store: Store, project: str) -> None:
    store.insert_events([_event(project, i) for i in range(1005)])
    events, total = store.list_events(project, limit=5000)
    assert (len(events), total) == (1000, 1005)
    events, _ = store.list_events(project, limit=0, page=0)
    assert len(events) == 1


def test_list_events_filters(store: Store, project: str) -> None:
    rows = [_event(project, i, name="click" if i % 2 else "screen_view") for i in range(6)]
    rows.append(_event(project, 100, created_at=BASE + timedelta(days=2)))
    store.insert_events(rows)
    _, total = store.list_events(project, event_names=["click"])
    assert total == 3
    _, total = store.list_events(project, event_names=["click", "screen_view"])
    assert total == 7
    _, total = store.list_events(project, start=BASE + timedelta(minutes=2))
    assert total == 5  # minutes 2..5 and day+2
    _, total = store.list_events(project, end=BASE + timedelta(minutes=2))
    assert total == 3  # inclusive upper bound
    _, total = store.list_events(project, start=date(2026, 3, 1), end=date(2026, 3, 1))
    assert total == 6  # whole UTC days
    _, total = store.list_events(project, start=date(2026, 3, 3), end=date(2026, 3, 3))
    assert total == 1
    with pytest.raises(ValueError, match="timezone aware"):
        store.list_events(project, start=datetime(2026, 3, 1))  # noqa: DTZ001


def test_list_events_profile_identity_stitching(store: Store, project: str) -> None:
    store.insert_events(
        [
            # anonymous events of a device, later identified as user-1
            _event(project, 1, device_id="dev-a", profile_id="dev-a"),
            _event(project, 2, device_id="dev-a", profile_id="user-1"),
            # server event without device
            _event(project, 3, device_id="", profile_id="user-1"),
            # another user's events on the same device stay out; other devices stay out
            _event(project, 4, device_id="dev-a", profile_id="user-2"),
            _event(project, 5, device_id="dev-b", profile_id="dev-b"),
        ]
    )
    events, total = store.list_events(project, profile_id="user-1")
    assert total == 3
    assert sorted(e["id"] for e in events) == [f"{i:032x}" for i in (1, 2, 3)]


def test_parameters_are_not_sql(store: Store) -> None:
    tricky = "p' OR 1=1 --"
    store.insert_events([_event(tricky, 1)])
    assert store.count_events(tricky) == 1
    assert store.count_events("p") == 0
    events, total = store.list_events(tricky, event_names=["x') OR ('1'='1"])
    assert (events, total) == ([], 0)


def test_known_event_ids(store: Store, project: str) -> None:
    store.insert_events([_event(project, i) for i in range(5)])
    ids = [f"{i:032x}" for i in range(8)]
    assert store.known_event_ids(project, ids, BASE - timedelta(hours=1)) == set(ids[:5])
    assert store.known_event_ids(project, ids, BASE + timedelta(minutes=3)) == set(ids[3:5])
    assert store.known_event_ids("other-project", ids, BASE) == set()
    assert store.known_event_ids(project, [], BASE) == set()


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EventRow(id="x", project_id="p", name="n", created_at=datetime(2026, 1, 1))  # noqa: DTZ001


def test_profiles_final_returns_newest(store: Store, project: str) -> None:
    old = ProfileRow(
        id="user-1",
        project_id=project,
        created_at=BASE,
        last_seen_at=BASE,
        first_name="Ada",
        properties={"plan": "free"},
    )
    new = ProfileRow(
        id="user-1",
        project_id=project,
        created_at=BASE,
        last_seen_at=BASE + timedelta(hours=1),
        is_external=True,
        first_name="Ada",
        email="ada@example.com",
        properties={"plan": "pro", "a.b": "c"},
        groups=["g1"],
    )
    store.insert_profiles([old])
    store.insert_profiles([new])
    profile = store.get_profile(project, "user-1")
    assert profile == {
        "id": "user-1",
        "isExternal": True,
        "firstName": "Ada",
        "lastName": "",
        "email": "ada@example.com",
        "avatar": "",
        "properties": {"plan": "pro", "a.b": "c"},
        "projectId": project,
        "groups": ["g1"],
        "createdAt": "2026-03-01T12:00:00.000Z",
        "lastSeenAt": "2026-03-01T13:00:00.000Z",
    }
    assert store.get_profile(project, "nobody") is None


def test_sessions_collapse_to_latest_version(store: Store, project: str) -> None:
    v1 = SessionRow(
        id="s1",
        project_id=project,
        created_at=BASE,
        ended_at=BASE,
        version=1,
        entry_path="/",
        exit_path="/",
        event_count=1,
        country="US",
    )
    v1_cancel = replace(v1, sign=-1)
    v2 = replace(
        v1,
        ended_at=BASE + timedelta(seconds=30),
        version=2,
        exit_path="/b",
        is_bounce=False,
        duration=30000,
    )
    store.insert_sessions([v1])
    store.insert_sessions([v1_cancel, v2])
    session = store.get_session(project, "s1")
    assert session is not None
    assert session["version"] == 2
    assert session["exitPath"] == "/b"
    assert session["isBounce"] is False
    assert session["duration"] == 30000
    assert session["country"] == "US"
    assert session["endedAt"] == "2026-03-01T12:00:30.000Z"
    assert "sign" not in session
    assert store.get_session(project, "missing") is None
    live = store.client.query(
        "SELECT sum(sign) FROM sessions WHERE project_id = {p:String}", parameters={"p": project}
    ).result_rows
    assert live[0][0] == 1


def test_groups_and_bots(store: Store, project: str) -> None:
    store.insert_groups(
        [
            GroupRow(id="g1", project_id=project, created_at=BASE, version=1, name="Acme"),
            GroupRow(id="g1", project_id=project, created_at=BASE, version=2, name="Acme Inc"),
            GroupRow(id="g2", project_id=project, created_at=BASE, version=1, name="Gone"),
            GroupRow(id="g2", project_id=project, created_at=BASE, version=2, deleted=True),
        ]
    )
    rows = store.client.query(
        "SELECT id, name FROM groups FINAL WHERE project_id = {p:String} ORDER BY id",
        parameters={"p": project},
    ).result_rows
    assert [tuple(r) for r in rows] == [("g1", "Acme Inc")]
    store.insert_bot_events(
        [
            BotEventRow(
                id="b1", project_id=project, name="Googlebot", type="crawler", created_at=BASE
            )
        ]
    )
    bots = store.client.query(
        "SELECT count() FROM events_bots WHERE project_id = {p:String}", parameters={"p": project}
    ).result_rows
    assert bots[0][0] == 1


def test_concurrent_reads_and_writes(store: Store, project: str) -> None:
    store.insert_events([_event(project, i) for i in range(50)])
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(10):
                assert store.count_events(project) >= 50
                events, _ = store.list_events(project, limit=5)
                assert len(events) == 5
        except BaseException as exc:
            errors.append(exc)

    def writer(k: int) -> None:
        try:
            for b in range(5):
                store.insert_events([_event(f"{project}-w{k}", 1000 * b + i) for i in range(20)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    threads += [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [store.count_events(f"{project}-w{k}") for k in range(3)] == [100, 100, 100]


def test_all_tables_exist(store: Store) -> None:
    names = {
        str(r[0])
        for r in store.client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    }
    assert {spec.name for spec in TABLES} | {"schema_migrations"} <= names


def test_replay_chunks_expire_after_30_days(store: Store) -> None:
    now = datetime.now(timezone.utc)
    session = f"ttl-{uuid.uuid4()}"

    def chunk(index: int, age: timedelta) -> ReplayChunkRow:
        started = now - age
        return ReplayChunkRow(
            project_id="p-ttl",
            session_id=session,
            chunk_index=index,
            started_at=started,
            ended_at=started + timedelta(seconds=5),
            events_count=1,
            is_full_snapshot=index == 0,
            payload="[]",
        )

    store.insert_replay_chunks([chunk(0, timedelta(days=31)), chunk(1, timedelta(days=29))])
    store.client.command("OPTIMIZE TABLE session_replay_chunks FINAL")
    kept = store.list_replay_chunks("p-ttl", session)
    assert [c["chunkIndex"] for c in kept] == [1]


RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _sample(cls: Any, project: str, n: int) -> Any:
    """A row of ``cls`` with every field set to an awkward, non-default value."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        optional = type(None) in args  # X | None: the field's type is X
        base = next(a for a in args if a is not type(None)) if optional else hint
        origin = typing.get_origin(base) or base
        if f.name == "project_id":
            value: Any = project
        elif f.name == "country":
            value = "SE"
        elif f.name == "sign":
            value = -1
        elif origin is str:
            value = f'{f.name} "é\\\n\t{n}'
        elif origin is bool:
            value = True
        elif origin is int:
            value = 7 + n
        elif origin is float:
            value = 1.5 + n
        elif origin is datetime:
            # recent: replay chunks older than their 30-day TTL are dropped on insert
            value = RECENT + timedelta(milliseconds=1234 + n)
        elif origin is dict:
            value = {"a.b": 'x"y\n', "emoji": "🙂", "n": str(n)}
        elif origin is list:
            value = ["g1", f"g{n}"]
        else:  # pragma: no cover - a new field type: teach this test about it
            raise AssertionError(f"{cls.__name__}.{f.name}: {hint}")
        values[f.name] = value
    return cls(**values)


def _wal_json(row: Any) -> bytes:
    """The row as the server's write-ahead log holds it (``*_at`` fields as ISO text)."""
    import dataclasses
    import json

    values = {
        k: v.astimezone(UTC).isoformat(timespec="milliseconds") if isinstance(v, datetime) else v
        for k, v in dataclasses.asdict(row).items()
    }
    values["not_a_column"] = "skipped"
    return json.dumps(values, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("cls", "table"),
    [
        (EventRow, "events"),
        (ProfileRow, "profiles"),
        (GroupRow, "groups"),
        (SessionRow, "sessions"),
        (BotEventRow, "events_bots"),
        (ReplayChunkRow, "session_replay_chunks"),
    ],
)
def test_json_rows_store_exactly_what_typed_rows_store(store: Store, cls: Any, table: str) -> None:
    typed, raw = f"proj-{uuid.uuid4().hex[:12]}", f"proj-{uuid.uuid4().hex[:12]}"
    rows = [_sample(cls, typed, n) for n in range(3)]
    inserts = {
        EventRow: store.insert_events,
        ProfileRow: store.insert_profiles,
        GroupRow: store.insert_groups,
        SessionRow: store.insert_sessions,
        BotEventRow: store.insert_bot_events,
        ReplayChunkRow: store.insert_replay_chunks,
    }
    inserts[cls](rows)
    store.insert_json(table, [_wal_json(_sample(cls, raw, n)) for n in range(3)])

    def read(project: str) -> list[tuple[Any, ...]]:
        result = store.client.query(
            f"SELECT * EXCEPT project_id FROM {table} WHERE project_id = {{p:String}} ORDER BY ALL",
            parameters={"p": project},
        )
        return [tuple(r) for r in result.result_rows]

    expected = read(typed)
    assert len(expected) == 3
    assert read(raw) == expected


def test_json_rows_refuse_unknown_tables(store: Store) -> None:
    with pytest.raises(ValueError, match="not a store table"):
        store.insert_json("schema_migrations", [b"{}"])
