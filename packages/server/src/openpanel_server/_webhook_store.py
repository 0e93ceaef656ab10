"""Webhook endpoints, messages and delivery attempts in the SQLite metadata database.

The tables are created by the metadata migrations (``_meta.MIGRATIONS``, version 2). Every
statement is parameterised. Endpoint secrets are stored encrypted (`SecretBox`); a secret is
returned in clear text only when it is created (`create_endpoint`, `rotate_secret`) and, for
signing, by `signing_secrets`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpanel_core.webhooks import generate_secret
from openpanel_server._meta import open_database
from openpanel_server._secretbox import SecretBox
from openpanel_server._webhook_events import NewMessage, Subscription

__all__ = [
    "MAX_OLD_SECRETS",
    "MAX_ROTATION_GRACE",
    "Attempt",
    "AttemptOutcome",
    "DueMessage",
    "Endpoint",
    "Message",
    "WebhookStore",
    "iso",
]

#: Rotation keeps old secrets at most this long (seconds) and at most this many (as Svix).
MAX_ROTATION_GRACE = 7 * 86400
MAX_OLD_SECRETS = 10
MESSAGE_STATES = ("pending", "succeeded", "failed", "exhausted")


def iso(value: float | None) -> str | None:
    """Unix seconds as an ISO-8601 UTC string with milliseconds (None stays None)."""
    if value is None:
        return None
    text = dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook endpoint (never carries its secrets)."""

    id: str
    project_id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    event_names: tuple[str, ...]
    legacy_signature: bool
    enabled: bool
    disabled_reason: str | None
    failing_since: float | None
    rotating_until: float | None
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        """The API representation (camelCase, ISO times)."""
        return {
            "id": self.id,
            "projectId": self.project_id,
            "url": self.url,
            "description": self.description,
            "eventTypes": list(self.event_types),
            "eventNames": list(self.event_names),
            "legacySignature": self.legacy_signature,
            "enabled": self.enabled,
            "disabledReason": self.disabled_reason,
            "failingSince": iso(self.failing_since),
            "rotatingUntil": iso(self.rotating_until),
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message and its delivery state."""

    id: str
    endpoint_id: str
    event_type: str
    source_id: str
    state: str
    attempts: int
    next_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return {
            "id": self.id,
            "endpointId": self.endpoint_id,
            "eventType": self.event_type,
            "sourceId": self.source_id,
            "state": self.state,
            "attempts": self.attempts,
            "nextAttemptAt": iso(self.next_attempt_at),
            "lastStatus": self.last_status,
            "lastError": self.last_error,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt, as logged."""

    id: int
    message_id: str
    endpoint_id: str
    attempt_no: int
    trigger: str
    url: str
    started_at: float
    duration_ms: float
    status_code: int | None
    error_kind: str | None
    error: str | None
    response_body: str | None
    response_headers: dict[str, str]
    next_attempt_at: float | None

    @property
    def succeeded(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return {
            "id": self.id,
            "messageId": self.message_id,
            "endpointId": self.endpoint_id,
            "attempt": self.attempt_no,
            "trigger": self.trigger,
            "url": self.url,
            "startedAt": iso(self.started_at),
            "durationMs": round(self.duration_ms, 3),
            "statusCode": self.status_code,
            "succeeded": self.succeeded,
            "errorKind": self.error_kind,
            "error": self.error,
            "responseBody": self.response_body,
            "responseHeaders": self.response_headers,
            "nextAttemptAt": iso(self.next_attempt_at),
        }


@dataclass(frozen=True, slots=True)
class DueMessage:
    """A message ready for an attempt, with what sending it needs."""

    id: str
    endpoint_id: str
    event_type: str
    body: bytes
    attempts: int
    state: str
    manual: bool
    url: str
    legacy_signature: bool


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What the dispatcher decided after an attempt (applied in one transaction).

    Attributes:
        message_state: The message's new state.
        next_attempt_at: When to try again (None: not scheduled).
        disable_endpoint: A reason to disable the endpoint (``gone``, ``failing``), or None.
        endpoint_failing_since: The endpoint's new failure clock (None clears it); left alone
            when ``keep_failing_since``.
        keep_failing_since: Do not touch the endpoint's failure clock.
    """

    message_state: str
    next_attempt_at: float | None
    disable_endpoint: str | None = None
    endpoint_failing_since: float | None = None
    keep_failing_since: bool = True


_ENDPOINT_COLUMNS = (
    "id, project_id, url, description, event_types, event_names, legacy_signature, enabled, "
    "disabled_reason, failing_since, old_secrets, created_at, updated_at"
)
_MESSAGE_COLUMNS = (
    "id, endpoint_id, event_type, source_id, state, attempts, next_attempt_at, last_status, "
    "last_error, created_at, updated_at"
)
_ATTEMPT_COLUMNS = (
    "id, message_id, endpoint_id, attempt_no, trigger, url, started_at, duration_ms, "
    "status_code, error_kind, error, response_body, response_headers, next_attempt_at"
)


def _rotating_until(old_secrets: str, now: float) -> float | None:
    live = [float(o["expires_at"]) for o in json.loads(old_secrets) if o["expires_at"] > now]
    return max(live) if live else None


def _endpoint(row: Sequence[Any], now: float) -> Endpoint:
    return Endpoint(
        id=row[0],
        project_id=row[1],
        url=row[2],
        description=row[3],
        event_types=tuple(json.loads(row[4])),
        event_names=tuple(json.loads(row[5])),
        legacy_signature=bool(row[6]),
        enabled=bool(row[7]),
        disabled_reason=row[8],
        failing_since=row[9],
        rotating_until=_rotating_until(row[10], now),
        created_at=row[11],
        updated_at=row[12],
    )


def _message(row: Sequence[Any]) -> Message:
    return Message(*row)


def _attempt(row: Sequence[Any]) -> Attempt:
    values = list(row)
    values[12] = json.loads(values[12] or "{}")
    return Attempt(*values)


class WebhookStore:
    """Webhook tables of one metadata database (thread-safe; one connection per instance).

    The server uses two instances: one with ``synchronous=FULL`` for the flusher (a message
    must be durable before the write-ahead log is checkpointed) and the API, and one with
    ``NORMAL`` for the delivery loop (a lost attempt row means a repeated delivery with the
    same ``webhook-id``, never a lost message).
    """

    def __init__(self, path: Path, box: SecretBox, *, synchronous: str = "FULL") -> None:
        """Open the database (migrating it when needed).

        Args:
            path: The metadata database (``meta.db``).
            box: Encrypts and decrypts endpoint secrets.
            synchronous: ``FULL`` or ``NORMAL``.
        """
        self._conn = open_database(path, synchronous=synchronous)
        self._lock = threading.Lock()
        self._box = box

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn, self._lock)

    # ------------------------------------------------------------------ endpoints

    def create_endpoint(
        self,
        project_id: str,
        url: str,
        *,
        event_types: Sequence[str] = (),
        event_names: Sequence[str] = (),
        description: str = "",
        legacy_signature: bool = True,
        now: float,
    ) -> tuple[Endpoint, str]:
        """Create an endpoint (URL already checked); returns it and its new secret."""
        endpoint_id = "ep_" + secrets.token_hex(12)
        secret = generate_secret()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO webhook_endpoints (id, project_id, url, description, event_types, "
                "event_names, secret, legacy_signature, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    endpoint_id,
                    project_id,
                    url,
                    description,
                    json.dumps(list(event_types)),
                    json.dumps(list(event_names)),
                    self._box.encrypt(secret),
                    int(legacy_signature),
                    now,
                    now,
                ),
            )
        endpoint = self.get_endpoint(endpoint_id, now=now)
        assert endpoint is not None
        return endpoint, secret

    def get_endpoint(
        self, endpoint_id: str, project_id: str | None = None, *, now: float
    ) -> Endpoint | None:
        """The endpoint (of ``project_id`` when given), or None."""
        query = f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?"  # noqa: S608
        params: tuple[str, ...] = (endpoint_id,)
        if project_id is not None:
            query += " AND project_id = ?"
            params = (endpoint_id, project_id)
        with self._lock:
            row = self._conn.execute(query, params).fetchone()
        return None if row is None else _endpoint(row, now)

    def list_endpoints(self, project_id: str | None = None, *, now: float) -> list[Endpoint]:
        """Endpoints, of one project or all, oldest first."""
        query = f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints"  # noqa: S608
        params: tuple[str, ...] = ()
        if project_id is not None:
            query += " WHERE project_id = ?"
            params = (project_id,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY created_at, id", params).fetchall()
        return [_endpoint(r, now) for r in rows]

    def update_endpoint(
        self, endpoint_id: str, changes: Mapping[str, Any], *, now: float
    ) -> Endpoint | None:
        """Change allow-listed columns (values validated by the caller).

        ``changes`` may hold ``url``, ``description``, ``event_types``, ``event_names`` and
        ``legacy_signature``. Returns None when the endpoint is unknown.
        """

        def text(v: Any) -> Any:
            return str(v)

        def names(v: Any) -> Any:
            return json.dumps([str(x) for x in v])

        def flag(v: Any) -> Any:
            return int(bool(v))

        columns: dict[str, Callable[[Any], Any]] = {
            "url": text,
            "description": text,
            "event_types": names,
            "event_names": names,
            "legacy_signature": flag,
        }
        sets: list[str] = []
        params: list[Any] = []
        for name, value in changes.items():
            if name not in columns:
                raise KeyError(name)
            sets.append(f"{name} = ?")  # name is one of the allow-listed column names
            params.append(columns[name](value))
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE webhook_endpoints SET {', '.join([*sets, 'updated_at = ?'])} "  # noqa: S608
                "WHERE id = ?",
                (*params, now, endpoint_id),
            )
        if cur.rowcount == 0:
            return None
        return self.get_endpoint(endpoint_id, now=now)

    def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete the endpoint with its messages and attempts; False when unknown."""
        with self._tx() as conn:
            conn.execute("DELETE FROM webhook_attempts WHERE endpoint_id = ?", (endpoint_id,))
            conn.execute("DELETE FROM webhook_messages WHERE endpoint_id = ?", (endpoint_id,))
            cur = conn.execute("DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,))
        return cur.rowcount > 0

    def set_enabled(
        self, endpoint_id: str, enabled: bool, *, reason: str | None = None, now: float
    ) -> Endpoint | None:
        """Enable (clearing the failure clock) or disable (with a reason) an endpoint."""
        with self._tx() as conn:
            if enabled:
                cur = conn.execute(
                    "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL, "
                    "failing_since = NULL, updated_at = ? WHERE id = ?",
                    (now, endpoint_id),
                )
            else:
                cur = conn.execute(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, "
                    "updated_at = ? WHERE id = ?",
                    (reason or "manual", now, endpoint_id),
                )
        if cur.rowcount == 0:
            return None
        return self.get_endpoint(endpoint_id, now=now)

    def rotate_secret(self, endpoint_id: str, grace_seconds: float, *, now: float) -> str | None:
        """Give the endpoint a new secret; the current one stays valid ``grace_seconds``.

        Deliveries carry one signature per live secret until the grace period ends (at most
        `MAX_OLD_SECRETS` old secrets are kept). Returns the new secret (shown once), or None
        when the endpoint is unknown.
        """
        if not 0 <= grace_seconds <= MAX_ROTATION_GRACE:
            raise ValueError(f"the grace period must be 0 to {MAX_ROTATION_GRACE} seconds")
        secret = generate_secret()
        with self._tx() as conn:
            row = conn.execute(
                "SELECT secret, old_secrets FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
            ).fetchone()
            if row is None:
                return None
            old = [o for o in json.loads(row[1]) if o["expires_at"] > now]
            if grace_seconds > 0:
                old.insert(0, {"secret": row[0], "expires_at": now + grace_seconds})
            old = old[:MAX_OLD_SECRETS]
            conn.execute(
                "UPDATE webhook_endpoints SET secret = ?, old_secrets = ?, updated_at = ? "
                "WHERE id = ?",
                (self._box.encrypt(secret), json.dumps(old), now, endpoint_id),
            )
        return secret

    def signing_secrets(self, endpoint_id: str, *, now: float) -> list[str]:
        """The current secret first, then the old ones still in their grace period."""
        with self._lock:
            row = self._conn.execute(
                "SELECT secret, old_secrets FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
            ).fetchone()
        if row is None:
            return []
        found = [self._box.decrypt(row[0])]
        found += [
            self._box.decrypt(o["secret"]) for o in json.loads(row[1]) if o["expires_at"] > now
        ]
        return found

    def subscriptions(self) -> dict[str, list[Subscription]]:
        """Enabled endpoints by project (for the router)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, project_id, event_types, event_names FROM webhook_endpoints "
                "WHERE enabled = 1 ORDER BY created_at, id"
            ).fetchall()
        out: dict[str, list[Subscription]] = {}
        for endpoint_id, project_id, types, names in rows:
            out.setdefault(project_id, []).append(
                Subscription(
                    endpoint_id, frozenset(json.loads(types)), frozenset(json.loads(names))
                )
            )
        return out

    def data_version(self) -> int:
        """SQLite's ``data_version``: changes when another connection committed."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------------ messages

    def enqueue(self, messages: Iterable[NewMessage], *, now: float) -> int:
        """Store new messages, due at once; returns how many were new (known ids are skipped)."""
        rows = [
            (m.id, m.endpoint_id, m.event_type, m.source_id, m.body, now, now, now)
            for m in messages
        ]
        if not rows:
            return 0
        with self._tx() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO webhook_messages (id, endpoint_id, event_type, source_id, "
                "body, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

    def reset_in_flight(self) -> int:
        """After a restart: attempts that were running are due again (same ``webhook-id``)."""
        with self._tx() as conn:
            cur = conn.execute("UPDATE webhook_messages SET in_flight = 0 WHERE in_flight = 1")
        return cur.rowcount

    def due(self, now: float, *, per_endpoint: int, limit: int = 500) -> list[DueMessage]:
        """Unclaimed messages due by ``now`` on enabled endpoints, oldest first.

        At most ``per_endpoint`` per endpoint, so one slow endpoint cannot fill the batch.
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, endpoint_id, event_type, body, attempts, state, manual, url, "
                "legacy_signature FROM ("
                " SELECT m.id, m.endpoint_id, m.event_type, m.body, m.attempts, m.state, "
                " m.manual, e.url, e.legacy_signature, m.next_attempt_at, ROW_NUMBER() OVER ("
                "  PARTITION BY m.endpoint_id ORDER BY m.next_attempt_at, m.id) AS n"
                " FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id"
                " WHERE m.next_attempt_at <= ? AND m.in_flight = 0 AND e.enabled = 1"
                ") WHERE n <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (now, per_endpoint, limit),
            ).fetchall()
        return [
            DueMessage(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], bool(r[6]), r[7], bool(r[8]))
            for r in rows
        ]

    def next_due_at(self) -> float | None:
        """The earliest scheduled attempt of an enabled endpoint (None when nothing waits)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(m.next_attempt_at) FROM webhook_messages m "
                "JOIN webhook_endpoints e ON e.id = m.endpoint_id "
                "WHERE m.next_attempt_at IS NOT NULL AND m.in_flight = 0 AND e.enabled = 1"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def claim(self, message_id: str) -> bool:
        """Mark a message in flight; False when another attempt holds it."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE webhook_messages SET in_flight = 1 WHERE id = ? AND in_flight = 0",
                (message_id,),
            )
        return cur.rowcount == 1

    def endpoint_failing_since(self, endpoint_id: str) -> float | None:
        """The endpoint's failure clock (first exhausted message without a success since)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT failing_since FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
            ).fetchone()
        return None if row is None else row[0]

    def finish_attempt(
        self,
        message: DueMessage,
        *,
        trigger: str,
        started_at: float,
        duration_ms: float,
        status_code: int | None,
        error_kind: str | None,
        error: str | None,
        response_body: str | None,
        response_headers: Mapping[str, str],
        outcome: AttemptOutcome,
    ) -> None:
        """Log the attempt and apply its outcome to the message and the endpoint."""
        with self._tx() as conn:
            attempt_no = message.attempts + 1
            conn.execute(
                f"INSERT INTO webhook_attempts ({_ATTEMPT_COLUMNS.removeprefix('id, ')}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.id,
                    message.endpoint_id,
                    attempt_no,
                    trigger,
                    message.url,
                    started_at,
                    duration_ms,
                    status_code,
                    error_kind,
                    error,
                    response_body,
                    json.dumps(dict(response_headers)),
                    outcome.next_attempt_at,
                ),
            )
            conn.execute(
                "UPDATE webhook_messages SET state = ?, attempts = ?, next_attempt_at = ?, "
                "manual = 0, in_flight = 0, last_status = ?, last_error = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    outcome.message_state,
                    attempt_no,
                    outcome.next_attempt_at,
                    status_code,
                    error,
                    started_at,
                    message.id,
                ),
            )
            if not outcome.keep_failing_since:
                conn.execute(
                    "UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?",
                    (outcome.endpoint_failing_since, message.endpoint_id),
                )
            if outcome.disable_endpoint is not None:
                conn.execute(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, "
                    "updated_at = ? WHERE id = ? AND enabled = 1",
                    (outcome.disable_endpoint, started_at, message.endpoint_id),
                )

    def release(self, message_id: str, retry_at: float) -> None:
        """Un-claim a message without logging an attempt; it is due again at ``retry_at``."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE webhook_messages SET in_flight = 0, next_attempt_at = ? WHERE id = ?",
                (retry_at, message_id),
            )

    def redeliver(self, endpoint_id: str, message_id: str, *, now: float) -> Message | None:
        """Queue a manual redelivery of a stored message (same body and ``webhook-id``)."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE webhook_messages SET manual = 1, next_attempt_at = ?, updated_at = ? "
                "WHERE id = ? AND endpoint_id = ?",
                (now, now, message_id, endpoint_id),
            )
        if cur.rowcount == 0:
            return None
        return self.get_message(endpoint_id, message_id)

    def get_message(self, endpoint_id: str, message_id: str) -> Message | None:
        """One message of an endpoint, or None."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM webhook_messages "  # noqa: S608
                "WHERE id = ? AND endpoint_id = ?",
                (message_id, endpoint_id),
            ).fetchone()
        return None if row is None else _message(row)

    def message_body(self, endpoint_id: str, message_id: str) -> bytes | None:
        """The stored body bytes of a message."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM webhook_messages WHERE id = ? AND endpoint_id = ?",
                (message_id, endpoint_id),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def list_messages(
        self,
        endpoint_id: str,
        *,
        state: str | None = None,
        event_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Message], int]:
        """An endpoint's messages, newest first, and how many match."""
        where = ["endpoint_id = ?"]
        params: list[Any] = [endpoint_id]
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if event_type is not None:
            where.append("event_type = ?")
            params.append(event_type)
        clause = " AND ".join(where)  # built from fixed fragments only
        with self._lock:
            total = self._conn.execute(
                f"SELECT COUNT(*) FROM webhook_messages WHERE {clause}",  # noqa: S608
                params,
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM webhook_messages WHERE {clause} "  # noqa: S608
                "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [_message(r) for r in rows], int(total)

    def list_attempts(
        self,
        endpoint_id: str,
        *,
        message_id: str | None = None,
        succeeded: bool | None = None,
        status_code: int | None = None,
        event_type: str | None = None,
        since: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Attempt], int]:
        """An endpoint's delivery log, newest first, and how many match."""
        where = ["a.endpoint_id = ?"]
        params: list[Any] = [endpoint_id]
        if message_id is not None:
            where.append("a.message_id = ?")
            params.append(message_id)
        if succeeded is True:
            where.append("a.status_code BETWEEN 200 AND 299")
        elif succeeded is False:
            where.append("(a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299)")
        if status_code is not None:
            where.append("a.status_code = ?")
            params.append(status_code)
        if event_type is not None:
            where.append("m.event_type = ?")
            params.append(event_type)
        if since is not None:
            where.append("a.started_at >= ?")
            params.append(since)
        clause = " AND ".join(where)  # built from fixed fragments only
        columns = ", ".join(f"a.{c.strip()}" for c in _ATTEMPT_COLUMNS.split(","))
        source = "webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id"
        with self._lock:
            total = self._conn.execute(
                f"SELECT COUNT(*) FROM {source} WHERE {clause}",  # noqa: S608
                params,
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {columns} FROM {source} WHERE {clause} "  # noqa: S608
                "ORDER BY a.id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [_attempt(r) for r in rows], int(total)


class _Transaction:
    """``with store._tx() as conn``: the lock, BEGIN IMMEDIATE, COMMIT or ROLLBACK."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            self._lock.release()
