"""The server's engine room: metadata, write-ahead log, store, sessions and the flusher.

Durability: :meth:`Server.ingest` appends an accepted item's records to the write-ahead log
(fsync'd, group commit) before the HTTP answer goes out; a flusher thread moves records from
the log to the store in batches and checkpoints. After a crash the log is replayed from the
checkpoint, skipping events the store already has, so an acknowledged event is stored once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from openpanel_core._guard import suppress_internal_errors
from openpanel_server import _fastjson as fastjson
from openpanel_server._auth import Caller
from openpanel_server._batch_pool import BatchPool, auto_workers
from openpanel_server._config import Settings
from openpanel_server._geo import GeoLookup
from openpanel_server._ingest import Ingestor, Record, RequestInfo, Result, session_end_id
from openpanel_server._meta import MetaStore
from openpanel_server._normalize import session_id
from openpanel_server._secretbox import SecretBox, load_or_create_key
from openpanel_server._sessions import SessionTracker
from openpanel_server._store import (
    BotEventRow,
    EventRow,
    GroupRow,
    ProfileRow,
    ReplayChunkRow,
    SessionRow,
    Store,
    open_store,
)
from openpanel_server._wal import WriteAheadLog
from openpanel_server._webhook_admin import WebhookAdmin
from openpanel_server._webhook_delivery import DeliveryPolicy, Dispatcher
from openpanel_server._webhook_events import PROFILE_UPDATE_MARK, WebhookRouter
from openpanel_server._webhook_ssrf import AddressPolicy
from openpanel_server._webhook_store import WebhookStore

__all__ = ["Server"]

logger = logging.getLogger("openpanel_server")

#: Seconds between saves of the live sessions (what a crash can lose of their state).
_SESSION_SAVE_INTERVAL = 2.0
#: Item types whose profile records are ``profile.updated`` webhooks (not identifications).
_PROFILE_UPDATES = frozenset({"increment", "decrement", "assign_group"})


class _RecentIds:
    """Idempotency ids of stored items, per project (bounded, oldest forgotten first).

    An id is *claimed* by the request that stores it and *committed* once its records are
    durable; a concurrent copy of the same item waits for that outcome, so it is never
    acknowledged before the original is on disk.

    The ids live in two generations of ``limit / 2`` (the newer one fills, then replaces the
    older), keyed by one string: plain dicts of strings are invisible to the cyclic garbage
    collector, where a million tuple keys cost every full collection tens of milliseconds.
    """

    def __init__(self, limit: int = 2_000_000) -> None:
        self._ids: dict[str, None] = {}
        self._older: dict[str, None] = {}
        # Claimed, not yet durable; the Event exists only once a copy waits for the outcome.
        self._pending: dict[str, threading.Event | None] = {}
        self._generation = max(1, limit // 2)
        self._lock = threading.Lock()

    @staticmethod
    def _key(project_id: str, event_id: str) -> str:
        return f"{project_id}\x00{event_id}"

    def _known(self, key: str) -> bool:
        return key in self._ids or key in self._older

    def seen(self, project_id: str, event_id: str) -> bool:
        with self._lock:
            return self._known(self._key(project_id, event_id))

    def add(self, project_id: str, event_id: str) -> None:
        with self._lock:
            self._remember(self._key(project_id, event_id))

    def _remember(self, key: str) -> None:
        self._ids[key] = None
        if len(self._ids) >= self._generation:
            self._older, self._ids = self._ids, {}

    def claim(self, project_id: str, event_id: str, timeout: float = 30.0) -> bool:
        """True when this caller must store the item; False when it is stored already."""
        key = self._key(project_id, event_id)
        while True:
            with self._lock:
                if self._known(key):
                    return False
                if key not in self._pending:
                    self._pending[key] = None
                    return True
                waiter = self._pending[key]
                if waiter is None:
                    waiter = self._pending[key] = threading.Event()
            waiter.wait(timeout)  # the original is being written: wait for its outcome

    def commit(self, project_id: str, event_ids: Sequence[str]) -> None:
        """The claimed items are durable."""
        with self._lock:
            for event_id in event_ids:
                key = self._key(project_id, event_id)
                self._remember(key)
                waiter = self._pending.pop(key, None)
                if waiter is not None:
                    waiter.set()

    def release(self, project_id: str, event_ids: Sequence[str]) -> None:
        """The claimed items were not stored; a waiting copy may try again."""
        with self._lock:
            for event_id in event_ids:
                waiter = self._pending.pop(self._key(project_id, event_id), None)
                if waiter is not None:
                    waiter.set()


_RowT = TypeVar("_RowT")

#: Log record kind -> store table, in the order they are written.
_KIND_TABLES = {
    "event": "events",
    "profile": "profiles",
    "group": "groups",
    "session": "sessions",
    "bot": "events_bots",
    "replay": "session_replay_chunks",
}


def _encode_record(record: Record) -> bytes:
    """A record as the log holds it: ``["kind",{...}]`` (a serialised row is kept as it is)."""
    kind, row = record
    if isinstance(row, bytes):
        return b'["' + kind.encode() + b'",' + row + b"]"
    return fastjson.dumps(record)


def _event_ms(item: Any, req: RequestInfo) -> int | None:
    """A ``track`` item's event time (epoch ms); None for other items."""
    from openpanel_server._ingest import PreparedTrack
    from openpanel_server._normalize import resolve_timestamp

    if isinstance(item, PreparedTrack):
        return item.event_ms
    if getattr(item, "type", "") != "track":
        return None
    props: dict[str, Any] = item.payload.properties or {}
    stamp = props.get("__timestamp")
    if not stamp:  # the arrival time: never before the memory's window
        return None
    when, _ = resolve_timestamp(stamp, req.received_at)
    return int(when.timestamp() * 1000)


def _adjusted_profile(item: Any) -> str:
    """The profile an ``increment``/``decrement`` item changes."""
    return str(item.payload.profile_id)


def _split_record(data: bytes) -> tuple[str, bytes]:
    """``(kind, row JSON)`` of a log record ``["kind",{...}]``, the row left unparsed.

    Records are written compact (``fastjson.dumps``), so the row is the bytes between the
    kind's ``",`` and the closing ``]``; anything else is parsed and the row serialised again.
    """
    if data[:2] == b'["' and data[-2:] == b"}]":
        end = data.find(b'",{', 2)
        if 2 < end < 40:
            return data[2:end].decode("ascii", "replace"), data[end + 2 : -1]
    kind, row = fastjson.loads(data)
    return str(kind), fastjson.dumps(row)


def _row(cls: Callable[..., _RowT], record: dict[str, Any]) -> _RowT:
    """A store row from a log record: the ``*_at`` fields are ISO strings in the log."""
    values = {
        k: dt.datetime.fromisoformat(v) if k.endswith("_at") and isinstance(v, str) else v
        for k, v in record.items()
    }
    return cls(**values)


class Server:
    """One server process: owns the data folder (chDB allows one process per folder)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data = Path(settings.data_dir).resolve()
        data.mkdir(parents=True, exist_ok=True)
        self.meta = MetaStore(data / "meta.db")
        self.store: Store = open_store(settings.clickhouse_url, data, cluster=settings.cluster)
        self.wal = WriteAheadLog(data / "wal")
        timeout_ms = int(settings.session_timeout * 1000)
        self.sessions = SessionTracker(
            timeout_ms, lambda p, d, ms: session_id(p, d, ms, timeout_ms)
        )
        geo_path = settings.geoip_db
        if geo_path is None and (data / "GeoLite2-City.mmdb").exists():
            geo_path = data / "GeoLite2-City.mmdb"
        self.geo = GeoLookup(geo_path)
        self.ingestor = Ingestor(self.sessions, self.meta.salts, self.geo.lookup)
        workers = settings.ingest_workers if settings.ingest_workers >= 0 else auto_workers()
        #: Worker processes for the stateless half of large batches (started on first use).
        self.batch_pool = BatchPool(workers, geo_path)
        self.recent = _RecentIds()
        #: Events from before this time (epoch ms) may be stored without their id in ``recent``.
        self._memory_from_ms = 0
        self._init_webhooks(data)
        self._stop = threading.Event()
        self._flushed_seq = self.wal.checkpointed
        self._flush_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._replay()
        self._seed_recent_ids()
        self._sessions_file = data / "sessions.json"
        self._save_lock = threading.Lock()
        self._saved_changes = -1
        self._restore_sessions()

    def _init_webhooks(self, data: Path) -> None:
        settings = self.settings
        box = SecretBox(load_or_create_key(data / "webhook-secrets.key"))
        #: Endpoints and messages (``synchronous=FULL``: the flusher's messages are durable
        #: before the write-ahead log is checkpointed).
        self.webhooks = WebhookStore(data / "meta.db", box)
        self.webhook_router = WebhookRouter(self.webhooks.subscriptions, self.webhooks.data_version)
        self.webhook_addresses = AddressPolicy.from_settings(
            settings.webhook_allow_subnets, settings.webhook_allow_http
        )
        policy = DeliveryPolicy(
            schedule=settings.webhook_schedule,
            timeout=settings.webhook_timeout,
            connect_timeout=settings.webhook_connect_timeout,
            max_in_flight=settings.webhook_max_in_flight,
            disable_after=settings.webhook_disable_after,
        )
        self.dispatcher = Dispatcher(
            WebhookStore(data / "meta.db", box, synchronous="NORMAL"),
            policy,
            self.webhook_addresses,
            on_disabled=lambda endpoint_id, reason: self.webhook_router.invalidate(),
        )
        #: Endpoint management (the API's; the CLI builds its own on the same tables).
        self.webhook_admin = WebhookAdmin(
            self.webhooks, self.webhook_addresses, on_change=self._webhooks_changed
        )

    def _webhooks_changed(self) -> None:
        self.webhook_router.invalidate()
        self.dispatcher.wake()

    def _enqueue_webhooks(self, batch: Sequence[tuple[int, Any]], records: Sequence[Any]) -> None:
        """Store the webhook messages of durable records (before the log is checkpointed).

        Message ids derive from the record and the endpoint, so a batch seen again after a
        crash adds nothing.
        """
        messages = self.webhook_router.collect(
            (seq, record) for (seq, _), record in zip(batch, records, strict=True)
        )
        if messages and self.webhooks.enqueue(messages, now=time.time()):
            self.dispatcher.wake()

    # ------------------------------------------------------------------ ingestion

    def ingest(
        self, items: Sequence[tuple[Any, str | None]], caller: Caller, req: RequestInfo
    ) -> list[Result | Exception]:
        """Process items and make their records durable; one result (or error) per item.

        Items whose idempotency id was already accepted are answered again without storing.
        """
        return self.ingest_items([(item, event_id, req) for item, event_id in items], caller)

    def ingest_items(
        self, items: Sequence[tuple[Any, str | None, RequestInfo]], caller: Caller
    ) -> list[Result | Exception]:
        """:meth:`ingest` with each item's own request facts, in order, one log append for all.

        A batch's items name their own end user. An item is a validated model or a
        :class:`~openpanel_server._ingest.PreparedTrack` made by a worker.
        """
        from openpanel_server._ingest import IngestError, PreparedTrack

        results: list[Result | Exception] = []
        records: list[Record] = []
        project_id = caller.project.id
        claimed: list[str] = []
        # An id twice in one call: the later copy is the same item (answered, not stored again;
        # waiting for the first copy's claim would wait for this very call).
        here: set[str] = set()
        stored_before = self._stored_before_memory(project_id, items)
        try:
            for item, event_id, req in items:
                if event_id:
                    if (
                        event_id in here
                        or event_id in stored_before
                        or not self.recent.claim(project_id, event_id)
                    ):
                        results.append(self.ingestor.answer(caller, req, []))  # stored already
                        continue
                    claimed.append(event_id)
                    here.add(event_id)
                kind = "track" if isinstance(item, PreparedTrack) else str(item.type)
                if kind in ("increment", "decrement"):
                    self._load_profile(project_id, _adjusted_profile(item))
                try:
                    if isinstance(item, PreparedTrack):
                        result = self.ingestor.commit_track(item, req)
                    else:
                        result = self.ingestor.process(item, caller, req, event_id)
                except IngestError as exc:
                    if event_id:
                        claimed.remove(event_id)
                        here.discard(event_id)
                        self.recent.release(project_id, [event_id])
                    results.append(exc)
                    continue
                results.append(result)
                if kind in _PROFILE_UPDATES:
                    for record_kind, row in result.records:
                        if record_kind == "profile" and isinstance(row, dict):
                            row[PROFILE_UPDATE_MARK] = "profile.updated"
                records.extend(result.records)
            if records:
                self.wal.append([_encode_record(r) for r in records])
        except BaseException:
            self.recent.release(project_id, claimed)
            raise
        self.recent.commit(project_id, claimed)
        return results

    def _stored_before_memory(
        self, project_id: str, items: Sequence[tuple[Any, str | None, RequestInfo]]
    ) -> set[str]:
        """Ids of backdated events that the store holds from before the id memory's window.

        The idempotency memory covers what this process accepted and the last two days before
        it started; an import of older events, run again after a restart, is checked against
        the store (one query, only when the call has such items).
        """
        old: dict[str, int] = {}
        for item, event_id, req in items:
            if event_id:
                when = _event_ms(item, req)
                if when is not None and when < self._memory_from_ms:
                    old[event_id] = when
        if not old:
            return set()
        since = dt.datetime.fromtimestamp(min(old.values()) / 1000 - 60, dt.timezone.utc)
        return self.store.known_event_ids(project_id, list(old), since)

    def _load_profile(self, project_id: str, profile_id: str) -> None:
        if self.ingestor.known_profile(project_id, profile_id):
            return
        self.flush()  # the profile may still be in the log
        row = self.store.get_profile(project_id, profile_id)
        if row is not None:
            nested: dict[str, Any] = {}
            stored: dict[str, Any] = dict(row.get("properties") or {})
            for key, value in stored.items():
                node = nested
                *parents, last = str(key).split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = value
            self.ingestor.remember_profile(
                project_id,
                {
                    "id": profile_id,
                    "first_name": row.get("firstName", ""),
                    "last_name": row.get("lastName", ""),
                    "email": row.get("email", ""),
                    "avatar": row.get("avatar", ""),
                    "properties_raw": nested,
                    "groups": list(row.get("groups") or []),
                    "created_at": row.get("createdAt"),
                },
            )

    def record_bot(self, records: Sequence[Record]) -> None:
        """Make ``events_bots`` rows durable (they go through the log like everything else)."""
        if records:
            self.wal.append([fastjson.dumps(r) for r in records])

    # ------------------------------------------------------------------ flushing

    def flush(self) -> int:
        """Move records from the log to the store; returns how many were written."""
        with self._flush_lock:
            batch = list(self.wal.read_from(self._flushed_seq + 1))
            if not batch:
                return 0
            if self.webhook_router.subscriptions():  # rows are parsed only for webhooks
                self._enqueue_webhooks(batch, [fastjson.loads(data) for _, data in batch])
            self._write_json([data for _, data in batch])
            last = batch[-1][0]
            self.wal.checkpoint(last)
            self._flushed_seq = last
            return len(batch)

    def _write_json(self, records: Sequence[bytes]) -> None:
        """Store log records as they are: ClickHouse parses the rows (no Python objects)."""
        by_table: dict[str, list[bytes]] = {}
        for data in records:
            kind, row = _split_record(data)
            table = _KIND_TABLES.get(kind)
            if table is not None:
                by_table.setdefault(table, []).append(row)
        # The order of _write: events before the profiles and sessions they explain.
        for table in _KIND_TABLES.values():
            rows = by_table.get(table)
            if rows:
                self.store.insert_json(table, rows)

    def _write(self, records: list[Any], *, dedupe: bool) -> None:
        events = [_row(EventRow, r) for k, r in records if k == "event"]
        if dedupe and events:
            fresh: list[EventRow] = []
            by_project: dict[str, list[EventRow]] = {}
            for e in events:
                by_project.setdefault(e.project_id, []).append(e)
            for project_id, rows in by_project.items():
                since = min(r.created_at for r in rows) - dt.timedelta(days=1)
                known = self.store.known_event_ids(project_id, [r.id for r in rows], since)
                fresh.extend(r for r in rows if r.id not in known)
            events = fresh
        if events:
            self.store.insert_events(events)
        profiles = [
            _row(ProfileRow, {n: v for n, v in r.items() if n != PROFILE_UPDATE_MARK})
            for k, r in records
            if k == "profile"
        ]
        if profiles:
            self.store.insert_profiles(profiles)
        groups = [_row(GroupRow, r) for k, r in records if k == "group"]
        if groups:
            self.store.insert_groups(groups)
        sessions = [_row(SessionRow, r) for k, r in records if k == "session"]
        if sessions:
            self.store.insert_sessions(sessions)
        bots = [_row(BotEventRow, r) for k, r in records if k == "bot"]
        if bots:
            self.store.insert_bot_events(bots)
        chunks = [_row(ReplayChunkRow, r) for k, r in records if k == "replay"]
        if chunks:
            self.store.insert_replay_chunks(chunks)

    def flush_then_list_events(
        self,
        project_id: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        names: list[str] | None,
        profile_id: str | None,
        page: int,
        limit: int,
        include_properties: bool,
        include: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], int]:
        """Events newest first, after flushing the log (reads see every acknowledged event)."""
        self.flush()
        return self.store.list_events(
            project_id,
            start=start,
            end=end,
            event_names=names,
            profile_id=profile_id,
            page=page,
            limit=limit,
            include_properties=include_properties,
            include=include,
        )

    def _restore_sessions(self) -> None:
        """Live sessions as last saved (every few seconds, at each reap and at shutdown).

        After a crash the snapshot is at most ``_SESSION_SAVE_INTERVAL`` old: sessions carry
        on, and those idle too long are closed by the reaper with their ``session_end``
        (whose id is derived from the session, so one written before the crash is not
        written again).
        """
        try:
            saved = json.loads(self._sessions_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except ValueError:
            logger.warning("ignoring an unreadable %s", self._sessions_file)
            return
        restored = self.sessions.restore(saved)
        logger.info("restored %d live session(s)", restored)

    def _save_sessions(self, *, force: bool = False) -> None:
        """Write the live sessions atomically when they changed since the last save."""
        with self._save_lock:
            changes, sessions = self.sessions.snapshot()
            if changes == self._saved_changes and not force:
                return
            tmp = self._sessions_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(sessions), encoding="utf-8")
            tmp.replace(self._sessions_file)
            self._saved_changes = changes

    def _seed_recent_ids(self) -> None:
        """Remember the ids of the last two days of events.

        A client retrying an answer it lost in a crash is then not stored twice (clients
        retry within minutes).
        """
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
        self._memory_from_ms = int(since.timestamp() * 1000)
        for project_id, event_id in reversed(self.store.recent_event_ids(since, 1_000_000)):
            self.recent.add(project_id, event_id)

    def _replay(self) -> None:
        """After a restart: store what the log holds past the checkpoint, exactly once."""
        batch = list(self.wal.read_from(self._flushed_seq + 1))
        if not batch:
            return
        records = [fastjson.loads(data) for _, data in batch]
        self._enqueue_webhooks(batch, records)
        self._write(records, dedupe=True)
        for kind, row in records:
            if kind == "event":
                self.recent.add(row["project_id"], row["id"])
        self.wal.checkpoint(batch[-1][0])
        self._flushed_seq = batch[-1][0]
        logger.info("replayed %d record(s) from the write-ahead log", len(batch))

    def _flush_loop(self) -> None:
        next_save = time.monotonic() + _SESSION_SAVE_INTERVAL
        while not self._stop.wait(self.settings.flush_interval):
            # A failed flush is logged (once per error type) and retried: the log keeps it all.
            with suppress_internal_errors("flush to the store", background=True):
                self.flush()
            started = time.monotonic()
            if started >= next_save:
                with suppress_internal_errors("save live sessions", background=True):
                    self._save_sessions()
                # With very many live sessions a snapshot costs real time (it holds the GIL):
                # space them so saving never takes more than 5% of the flusher's time.
                spent = time.monotonic() - started
                next_save = time.monotonic() + max(_SESSION_SAVE_INTERVAL, 20 * spent)

    def _reap_loop(self) -> None:
        interval = min(60.0, max(0.5, self.settings.session_timeout / 10))
        while not self._stop.wait(interval):
            ended = self.sessions.reap(time.time())
            if not ended:
                continue
            # A session restored from a snapshot taken before its session_end was written (then
            # the crash) is closed again: its session_end has the same id, and is skipped.
            ended = [s for s in ended if not self.recent.seen(s.project_id, session_end_id(s.id))]
            req = RequestInfo("", "", "", "", dt.datetime.now(dt.timezone.utc), time.time())
            records = [self.ingestor.session_end_record(s, req) for s in ended]
            records += [self.ingestor.session_record(s) for s in ended]
            if records:
                self.wal.append([fastjson.dumps(r) for r in records])
            for s in ended:
                self.recent.add(s.project_id, session_end_id(s.id))
            with suppress_internal_errors("save live sessions", background=True):
                self._save_sessions()

    def start(self) -> None:
        """Start the flusher, the session reaper and the webhook deliveries."""
        self.dispatcher.start()
        for target in (self._flush_loop, self._reap_loop):
            t = threading.Thread(target=target, name=f"openpanel-{target.__name__}", daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        """Flush what is left and release everything."""
        self._stop.set()
        self.dispatcher.stop()
        for t in self._threads:
            t.join(5)
        self.flush()
        self._save_sessions(force=True)
        self.dispatcher.store.close()
        self.webhooks.close()
        self.store.close()
        self.wal.close()
        self.batch_pool.close()
        self.geo.close()
        self.meta.close()
