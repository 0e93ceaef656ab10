"""The event store: ClickHouse SQL through clickhouse-connect (embedded chDB or a server).

Process model (chDB): the engine hosts **one data directory per process**. A second process
cannot open a directory in use, and one process cannot open a second directory while the
first is open. :func:`open_store` therefore keeps a registry: opening the same directory again
with the same options returns the already-open :class:`Store` (reference counted, so each
caller closes its own reference); a different directory or different options raise
:class:`StoreOpenError`.

Thread safety: the server calls the store from a thread pool. clickhouse-connect's chDB
backend serialises every call on a client's connection handle with its own lock, so one
client is safe to share (measured: 8 threads x mixed queries/inserts, results correct). The
store keeps a second chDB handle for reads so that a long insert does not delay dashboard
reads (chDB runs the two handles concurrently). For a server DSN the HTTP client is created
without a session id, which clickhouse-connect requires for concurrent use.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from openpanel_server._store._client import ClickHouseClient, chdb_client, server_client
from openpanel_server._store._errors import StoreOpenError
from openpanel_server._store._export import (
    PROFILE_FIELDS,
    SESSION_FIELDS,
    event_field_selection,
    iso_utc,
    row_to_dict,
)
from openpanel_server._store._migrations import migrate
from openpanel_server._store._rows import (
    BotEventRow,
    EventRow,
    GroupRow,
    ProfileRow,
    ReplayChunkRow,
    SessionRow,
)
from openpanel_server._store._schema import (
    BOTS,
    EVENTS,
    GROUPS,
    PROFILES,
    REPLAY_CHUNKS,
    SESSIONS,
    Layout,
    TableSpec,
)

__all__ = ["MAX_PAGE_SIZE", "Store", "open_store"]

MAX_PAGE_SIZE = 1000
"""Upper bound of ``limit`` in :meth:`Store.list_events` (OpenPanel clamps to 1..1000)."""

_ID_CHUNK = 5000  # ids per ``known_event_ids`` query, keeps the query text bounded
_FOREGROUND = {"distributed_foreground_insert": 1}
_TABLES = {spec.name: spec for spec in (EVENTS, PROFILES, GROUPS, SESSIONS, BOTS, REPLAY_CHUNKS)}
# JSON rows as the server's write-ahead log holds them: times are ISO 8601 text, and a row may
# carry bookkeeping keys that are not columns.
_JSON_INPUT: dict[str, Any] = {
    "date_time_input_format": "best_effort",
    "input_format_skip_unknown_fields": 1,
}


@dataclass(frozen=True, slots=True)
class _EmbeddedKey:
    path: str
    layout: Layout
    config: str | None


class _Registry:
    """The process-wide record of the open embedded store (chDB: one directory per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.store: Store | None = None
        self.key: _EmbeddedKey | None = None
        self.refs = 0

    def release(self, store: Store) -> bool:
        """Drop one reference; return True when the caller must close the clients."""
        with self.lock:
            if self.store is not store:
                return True
            self.refs -= 1
            if self.refs > 0:
                return False
            self.store = None
            self.key = None
            return True


_registry = _Registry()


def _epoch_ms(value: datetime) -> int:
    if value.utcoffset() is None:
        msg = "datetimes passed to the store must be timezone aware"
        raise ValueError(msg)
    return int(value.timestamp() * 1000)


def _bound_ms(value: datetime | date, *, end: bool) -> int:
    """Epoch ms for a filter bound; a ``date`` covers the whole UTC day (inclusive)."""
    if isinstance(value, datetime):
        return _epoch_ms(value)
    day = value + timedelta(days=1) if end else value
    ms = _epoch_ms(datetime.combine(day, time(), tzinfo=timezone.utc))
    return ms - 1 if end else ms


class Store:
    """Event store over one clickhouse-connect client. Create it with :func:`open_store`."""

    def __init__(
        self,
        client: ClickHouseClient,
        layout: Layout,
        *,
        read_client: ClickHouseClient | None = None,
        data_dir: Path | None = None,
    ) -> None:
        """Wrap ``client``; prefer :func:`open_store`, which also migrates the schema."""
        self._client = client
        self._read = read_client or client
        self._layout: Layout = layout
        self._data_dir = data_dir
        self._closed = False
        self._close_lock = threading.Lock()
        self._insert_settings = dict(_FOREGROUND) if layout != "embedded" else None
        self._json_settings = {**(self._insert_settings or {}), **_JSON_INPUT}

    # -- properties -----------------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        """The physical table layout (``embedded``, ``cluster`` or ``cluster-sim``)."""
        return self._layout

    @property
    def data_dir(self) -> Path | None:
        """The server data directory of an embedded store (chDB lives in ``data_dir/ch``)."""
        return self._data_dir

    @property
    def client(self) -> ClickHouseClient:
        """The underlying clickhouse-connect client (for analytics queries; parameterise them)."""
        return self._client

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` released the last reference."""
        return self._closed

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied (empty if up to date)."""
        return migrate(self._client, self._layout)

    # -- writes ---------------------------------------------------------------------------

    def _insert(self, spec: TableSpec, rows: Sequence[Any]) -> None:
        if not rows:
            return
        names = spec.column_names
        data = [[getattr(row, name) for row in rows] for name in names]
        self._client.insert(
            spec.name,
            data,
            column_names=names,
            column_type_names=spec.column_types,
            column_oriented=True,
            settings=self._insert_settings,
        )

    def insert_json(self, table: str, rows: Sequence[bytes]) -> None:
        """Insert rows given as JSON objects, one part per call; ClickHouse parses them.

        The fast path for the write-ahead log's records: no Python objects are built. Keys are
        column names (others are skipped), times ISO 8601 text, a missing key takes the column
        default.

        Args:
            table: One of the store's tables (``events``, ``profiles``, ``groups``,
                ``sessions``, ``events_bots``, ``session_replay_chunks``).
            rows: One JSON object per row (bytes, UTF-8).

        Raises:
            ValueError: ``table`` is not one of the store's tables.
        """
        spec = _TABLES.get(table)
        if spec is None:
            msg = f"not a store table: {table!r}"
            raise ValueError(msg)
        if not rows:
            return
        self._client.raw_insert(
            spec.name,
            spec.column_names,
            insert_block=b"\n".join(rows),
            settings=self._json_settings,
            fmt="JSONEachRow",
        )

    def insert_events(self, rows: Sequence[EventRow]) -> None:
        """Insert events in one batch (one part per call: batch them, ~1k-10k rows)."""
        self._insert(EVENTS, rows)

    def insert_profiles(self, rows: Sequence[ProfileRow]) -> None:
        """Insert profile versions (the newest ``last_seen_at`` wins on read)."""
        self._insert(PROFILES, rows)

    def insert_groups(self, rows: Sequence[GroupRow]) -> None:
        """Insert group versions (the highest ``version`` wins; ``deleted`` hides it)."""
        self._insert(GROUPS, rows)

    def insert_sessions(self, rows: Sequence[SessionRow]) -> None:
        """Insert session rows (``sign``/``version`` pairs, see :class:`SessionRow`)."""
        self._insert(SESSIONS, rows)

    def insert_bot_events(self, rows: Sequence[BotEventRow]) -> None:
        """Insert rows into ``events_bots``."""
        self._insert(BOTS, rows)

    def insert_replay_chunks(self, rows: Sequence[ReplayChunkRow]) -> None:
        """Insert rows into ``session_replay_chunks``."""
        self._insert(REPLAY_CHUNKS, rows)

    def list_replay_chunks(self, project_id: str, session_id: str) -> list[dict[str, Any]]:
        """A session's recording chunks in order (``chunkIndex``, times, ``payload``)."""
        result = self._read.query(
            "SELECT chunk_index, started_at, ended_at, events_count, is_full_snapshot, payload"
            " FROM session_replay_chunks"
            " WHERE project_id = {project_id:String} AND session_id = {session_id:String}"
            " ORDER BY started_at, chunk_index",
            parameters={"project_id": project_id, "session_id": session_id},
        )
        return [
            {
                "chunkIndex": int(r[0]),
                "startedAt": iso_utc(r[1]),
                "endedAt": iso_utc(r[2]),
                "eventsCount": int(r[3]),
                "isFullSnapshot": bool(r[4]),
                "payload": str(r[5]),
            }
            for r in result.result_rows
        ]

    # -- reads ----------------------------------------------------------------------------

    def recent_event_ids(self, since: datetime, limit: int) -> list[tuple[str, str]]:
        """(project_id, id) of the newest events created at or after ``since``, at most ``limit``.

        Seeds the server's idempotency memory after a restart.
        """
        result = self._read.query(
            "SELECT project_id, id FROM events"
            " WHERE created_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')"
            " ORDER BY created_at DESC LIMIT {limit:UInt64}",
            parameters={"since_ms": _epoch_ms(since), "limit": limit},
        )
        return [(str(r[0]), str(r[1])) for r in result.result_rows]

    def known_event_ids(self, project_id: str, ids: Sequence[str], since: datetime) -> set[str]:
        """Return the subset of ``ids`` already stored for ``project_id`` at or after ``since``.

        Used during WAL replay to skip events that reached the store before the checkpoint.

        Args:
            project_id: The project.
            ids: Candidate event ids.
            since: Lower bound of ``created_at`` (timezone aware); narrows the scan.

        Returns:
            The ids that exist.
        """
        found: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _ID_CHUNK):
            chunk = unique[start : start + _ID_CHUNK]
            result = self._read.query(
                "SELECT DISTINCT id FROM events"
                " WHERE project_id = {project_id:String}"
                " AND created_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')"
                " AND id IN {ids:Array(String)}",
                parameters={"project_id": project_id, "since_ms": _epoch_ms(since), "ids": chunk},
            )
            found.update(str(row[0]) for row in result.result_rows)
        return found

    def list_events(
        self,
        project_id: str,
        *,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        event_names: Sequence[str] | None = None,
        profile_id: str | None = None,
        page: int = 1,
        limit: int = 50,
        include_properties: bool = False,
        include: Collection[str] = (),
    ) -> tuple[list[dict[str, Any]], int]:
        """List events newest first (``created_at DESC, id ASC``), OpenPanel export shape.

        Args:
            project_id: The project.
            start: Inclusive lower bound; a ``date`` means the start of that UTC day.
            end: Inclusive upper bound; a ``date`` means the end of that UTC day.
            event_names: Keep only these names (``name IN (...)``).
            profile_id: Keep this profile's events plus the anonymous events of the devices
                it used (OpenPanel's identity stitching).
            page: 1-based page number (values below 1 count as 1).
            limit: Page size, clamped to ``1..1000``.
            include_properties: Add ``properties`` (the flat dotted-key map).
            include: Other optional OpenPanel field names (``region``, ``origin``, ...).

        Returns:
            ``(events, total)``: the page as camelCase dicts and the total matching count.
        """
        limit = max(1, min(MAX_PAGE_SIZE, int(limit)))
        page = max(1, int(page))
        where = ["project_id = {project_id:String}"]
        params: dict[str, Any] = {"project_id": project_id}
        if start is not None:
            where.append("created_at >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')")
            params["start_ms"] = _bound_ms(start, end=False)
        if end is not None:
            where.append("created_at <= fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')")
            params["end_ms"] = _bound_ms(end, end=True)
        if event_names is not None:
            where.append("name IN {event_names:Array(String)}")
            params["event_names"] = list(event_names)
        if profile_id is not None:
            where.append(
                "(profile_id = {profile_id:String} OR ((profile_id = '' OR profile_id = device_id)"
                " AND device_id != '' AND device_id GLOBAL IN (SELECT DISTINCT device_id FROM events"
                " WHERE project_id = {project_id:String} AND profile_id = {profile_id:String}"
                " AND device_id != '')))"
            )
            params["profile_id"] = profile_id
        fields = event_field_selection({*include, "properties"} if include_properties else include)
        condition = " AND ".join(where)
        sql = (
            # Only allow-listed expressions and fixed placeholders are interpolated.
            f"SELECT {', '.join(fields.values())} FROM events WHERE {condition}"  # noqa: S608
            " ORDER BY created_at DESC, id ASC LIMIT {limit:UInt32} OFFSET {offset:UInt64}"
        )
        page_params = {**params, "limit": limit, "offset": (page - 1) * limit}
        rows = self._read.query(sql, parameters=page_params).result_rows
        total_rows = self._read.query(
            f"SELECT count() FROM events WHERE {condition}",  # noqa: S608
            parameters=params,
        ).result_rows
        names = list(fields)
        return [row_to_dict(names, row) for row in rows], int(total_rows[0][0])

    def get_profile(self, project_id: str, profile_id: str) -> dict[str, Any] | None:
        """Return the newest version of a profile (``FINAL``) as a camelCase dict, or None."""
        rows = self._read.query(
            f"SELECT {', '.join(PROFILE_FIELDS.values())} FROM profiles FINAL"  # noqa: S608
            " WHERE project_id = {project_id:String} AND id = {id:String}"
            " ORDER BY last_seen_at DESC LIMIT 1",
            parameters={"project_id": project_id, "id": profile_id},
        ).result_rows
        return row_to_dict(list(PROFILE_FIELDS), rows[0]) if rows else None

    def get_session(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        """Return the live version of a session (``FINAL``, ``sign = 1``) or None."""
        rows = self._read.query(
            f"SELECT {', '.join(SESSION_FIELDS.values())} FROM sessions FINAL"  # noqa: S608
            " WHERE project_id = {project_id:String} AND id = {id:String} AND sign = 1"
            " ORDER BY version DESC LIMIT 1",
            parameters={"project_id": project_id, "id": session_id},
        ).result_rows
        return row_to_dict(list(SESSION_FIELDS), rows[0]) if rows else None

    def count_events(self, project_id: str) -> int:
        """Return the number of events stored for ``project_id``."""
        rows = self._read.query(
            "SELECT count() FROM events WHERE project_id = {project_id:String}",
            parameters={"project_id": project_id},
        ).result_rows
        return int(rows[0][0])

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Release this reference; the last one closes the clients (idempotent)."""
        with self._close_lock:
            if self._closed or not _registry.release(self):
                return
            self._closed = True
        if self._read is not self._client:
            self._read.close()
        self._client.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(
    dsn: str | None,
    data_dir: Path,
    *,
    cluster: bool = False,
    chdb_config: Path | None = None,
) -> Store:
    """Open (and migrate) the event store.

    Args:
        dsn: A ClickHouse URL (``https://user:pw@host:8443/openpanel``) or None for the
            embedded chDB engine at ``{data_dir}/ch``.
        data_dir: The server's data directory (used only when ``dsn`` is None).
        cluster: Use the cluster layout: ``Distributed`` tables over ``<name>_replicated``.
            With a DSN this is the real ReplicatedMergeTree layout (``ON CLUSTER``); with
            chDB it is the ``cluster-sim`` layout and needs ``chdb_config``.
        chdb_config: A chDB server config file (memory limits; for ``cluster-sim`` it must
            declare ``remote_servers`` and the ``cluster`` macro).

    Returns:
        The store. Embedded: opening the same directory again in this process returns the
        same (reference-counted) store.

    Raises:
        StoreOpenError: A different chDB directory or different options are already open in
            this process, or ``cluster`` with chDB lacks ``chdb_config``.
    """
    if dsn is not None:
        layout: Layout = "cluster" if cluster else "embedded"
        store = Store(server_client(dsn), layout)
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    if cluster and chdb_config is None:
        msg = "cluster=True with embedded chDB needs chdb_config declaring remote_servers"
        raise StoreOpenError(msg)
    path = (Path(data_dir) / "ch").resolve()
    config = Path(chdb_config).resolve() if chdb_config is not None else None
    layout_sim: Layout = "cluster-sim" if cluster else "embedded"
    key = _EmbeddedKey(str(path), layout_sim, str(config) if config is not None else None)
    with _registry.lock:
        if _registry.store is not None:
            if _registry.key == key:
                _registry.refs += 1
                return _registry.store
            msg = (
                f"chDB allows one data directory per process; {_registry.key} is open,"
                f" cannot open {key}"
            )
            raise StoreOpenError(msg)
        path.mkdir(parents=True, exist_ok=True)
        writer = chdb_client(path, config)
        try:
            reader = chdb_client(path, config)
        except BaseException:
            writer.close()
            raise
        store = Store(writer, key.layout, read_client=reader, data_dir=path.parent)
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
        _registry.store, _registry.key, _registry.refs = store, key, 1
        return store
