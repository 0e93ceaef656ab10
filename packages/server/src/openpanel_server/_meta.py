"""Metadata in SQLite: projects, clients, device-id salts, webhooks and saved cohorts.

Events live in ClickHouse; this is the small OLTP side (OpenPanel keeps it in Postgres). Secrets
are stored as scrypt hashes and checked in constant time; a successful check is cached for five
minutes per (client, secret digest), as OpenPanel does, because scrypt is slow on purpose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import available_timezones

from openpanel_core.webhooks import constant_time_equal
from openpanel_server._cohort_store import COHORT_SCHEMA, CohortStore

__all__ = [
    "MIGRATIONS",
    "Client",
    "ClientType",
    "MetaStore",
    "Project",
    "check_timezone",
    "open_database",
    "origin_allowed",
]

ClientType = Literal["write", "read", "root"]

_INITIAL_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        cors TEXT NOT NULL DEFAULT '[]',
        allow_unsafe_revenue INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS clients (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        secret_hash TEXT,
        revoked INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS salts (
        day TEXT PRIMARY KEY,
        salt TEXT NOT NULL
    )""",
)

# Webhooks: endpoints (secrets encrypted), messages (the body serialised once, the retry
# state) and one row per delivery attempt. Times are Unix seconds (REAL).
_WEBHOOK_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS webhook_endpoints (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id),
        url TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        event_types TEXT NOT NULL DEFAULT '[]',
        event_names TEXT NOT NULL DEFAULT '[]',
        secret TEXT NOT NULL,
        old_secrets TEXT NOT NULL DEFAULT '[]',
        legacy_signature INTEGER NOT NULL DEFAULT 1,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        failing_since REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_endpoints_project ON webhook_endpoints (project_id)",
    """CREATE TABLE IF NOT EXISTS webhook_messages (
        id TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
        event_type TEXT NOT NULL,
        source_id TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        manual INTEGER NOT NULL DEFAULT 0,
        in_flight INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_messages_due ON webhook_messages (next_attempt_at) "
    "WHERE next_attempt_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS webhook_messages_endpoint "
    "ON webhook_messages (endpoint_id, created_at)",
    """CREATE TABLE IF NOT EXISTS webhook_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
        endpoint_id TEXT NOT NULL,
        attempt_no INTEGER NOT NULL,
        trigger TEXT NOT NULL,
        url TEXT NOT NULL,
        started_at REAL NOT NULL,
        duration_ms REAL NOT NULL,
        status_code INTEGER,
        error_kind TEXT,
        error TEXT,
        response_body TEXT,
        response_headers TEXT,
        next_attempt_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id)",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_message ON webhook_attempts (message_id, id)",
)

# Version 3: each project's IANA timezone (analytics ranges and buckets) and saved cohorts.
_TIMEZONE_AND_COHORTS = (
    "ALTER TABLE projects ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC'",
    *COHORT_SCHEMA,
)

#: Versioned migrations of the metadata database, recorded in ``PRAGMA user_version``.
#: Append new versions; never edit or renumber a released one. The statements of versions 1
#: and 2 are ``IF NOT EXISTS``-safe, so a database created before versioning (version 0 with
#: the initial tables) migrates like a new one; later versions run once, in one transaction,
#: on a database at the version before.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, _INITIAL_SCHEMA),
    (2, _WEBHOOK_SCHEMA),
    (3, _TIMEZONE_AND_COHORTS),
)


def open_database(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open the metadata database (WAL mode, autocommit) and bring its schema up to date.

    Args:
        path: The SQLite file (created with its folder when missing).
        synchronous: SQLite's ``synchronous`` setting for this connection (``FULL`` or
            ``NORMAL``; NORMAL in WAL mode survives a process crash, not a power loss).

    Returns:
        The connection (usable from several threads under the caller's lock).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError("synchronous must be FULL or NORMAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    _migrate(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for version, statements in MIGRATIONS:
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated meanwhile: re-read under the write lock.
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= version:
                conn.execute("COMMIT")
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={int(version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_VERIFY_CACHE_SECONDS = 300.0


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA timezone name (``Europe/Berlin``, ``UTC``).

    Raises:
        ValueError: A one-line message naming the bad value.
    """
    if name not in _timezones():
        msg = f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin or UTC"
        raise ValueError(msg)
    return name


@dataclass(frozen=True, slots=True)
class Project:
    """A project: its events, its allowed browser origins, its timezone.

    Attributes:
        timezone: The IANA name whose local days, weeks and months the analytics ranges and
            buckets follow (default ``UTC``).
    """

    id: str
    name: str
    cors: tuple[str, ...]
    allow_unsafe_revenue: bool
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Client:
    """An API client of a project (``write`` ingests, ``read``/``root`` also export)."""

    id: str
    project_id: str
    name: str
    type: ClientType
    has_secret: bool
    revoked: bool


def _hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"{salt.hex()}.{key.hex()}"


def _check_secret(secret: str, stored: str) -> bool:
    salt_hex, _, key_hex = stored.partition(".")
    try:
        salt, key = bytes.fromhex(salt_hex), bytes.fromhex(key_hex)
    except ValueError:
        return False
    candidate = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return constant_time_equal(candidate, key)


def _clean_origin(value: str) -> str:
    value = value.strip()
    value = re.sub(r"^https?://", "", value, flags=re.IGNORECASE)
    value = value.removeprefix("www.")
    return value.rstrip("/").lower()


def origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    """OpenPanel's CORS rule for browser callers.

    Entries and the origin are compared without scheme, leading ``www.`` and trailing slash
    (ports count); an entry with ``*`` matches as a pattern (``*.example.com``); ``*`` alone
    accepts any origin.
    """
    if not origin:
        return False
    cleaned = _clean_origin(origin)
    for entry in allowed:
        if entry == "*":
            return True
        target = _clean_origin(entry)
        if "*" in target:
            pattern = ".+?".join(re.escape(part) for part in target.split("*"))
            if re.fullmatch(pattern, cleaned):
                return True
        elif target == cleaned:
            return True
    return False


class MetaStore:
    """Projects, clients, salts and saved cohorts in one SQLite file (WAL mode, thread-safe).

    Attributes:
        cohorts: The saved cohorts (same connection and lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_database(path)
        self._lock = threading.Lock()
        self.cohorts = CohortStore(self._conn, self._lock)
        self._verified: dict[tuple[str, bytes], float] = {}
        self._salt_cache: tuple[dt.date, tuple[str, str]] | None = None
        self._clients: dict[str, tuple[float, Client | None, str | None]] = {}

    # ------------------------------------------------------------------ projects

    def create_project(
        self,
        name: str,
        origins: Sequence[str] = (),
        *,
        allow_unsafe_revenue: bool = False,
        timezone: str = "UTC",
    ) -> Project:
        """Create a project; ``origins`` is the browser allow-list (``*`` accepts any).

        Raises:
            ValueError: ``timezone`` is not an IANA name.
        """
        project = Project(
            id=uuid.uuid4().hex[:12],
            name=name,
            cors=tuple(origins),
            allow_unsafe_revenue=allow_unsafe_revenue,
            timezone=check_timezone(timezone),
        )
        with self._lock:
            self._conn.execute(
                "INSERT INTO projects (id, name, cors, allow_unsafe_revenue, timezone, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    project.id,
                    name,
                    json.dumps(list(origins)),
                    int(allow_unsafe_revenue),
                    project.timezone,
                    _now(),
                ),
            )
        return project

    def get_project(self, project_id: str) -> Project | None:
        """The project, or None."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = ?",  # noqa: S608
                (project_id,),
            ).fetchone()
        return None if row is None else _project(row)

    def list_projects(self) -> list[Project]:
        """Every project, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM projects ORDER BY created_at"  # noqa: S608
            ).fetchall()
        return [_project(r) for r in rows]

    def set_project_timezone(self, project_id: str, timezone: str) -> Project | None:
        """Change a project's timezone (a running server uses it from its next query).

        Returns:
            The updated project, or None when there is no such project.

        Raises:
            ValueError: ``timezone`` is not an IANA name.
        """
        check_timezone(timezone)
        with self._lock:
            cur = self._conn.execute(
                "UPDATE projects SET timezone = ? WHERE id = ?", (timezone, project_id)
            )
        if cur.rowcount == 0:
            return None
        return self.get_project(project_id)

    # ------------------------------------------------------------------ clients

    def create_client(
        self,
        project_id: str,
        name: str = "default",
        *,
        type: ClientType = "write",
        with_secret: bool = True,
    ) -> tuple[Client, str | None]:
        """Create a client; returns it and its secret (shown once, stored hashed)."""
        if self.get_project(project_id) is None:
            raise KeyError(f"no project {project_id!r}")
        client_id = str(uuid.uuid4())
        secret = f"sec_{secrets.token_hex(16)}" if with_secret else None
        with self._lock:
            self._conn.execute(
                "INSERT INTO clients (id, project_id, name, type, secret_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    client_id,
                    project_id,
                    name,
                    type,
                    _hash_secret(secret) if secret else None,
                    _now(),
                ),
            )
        client = Client(client_id, project_id, name, type, secret is not None, False)
        return client, secret

    def list_clients(self, project_id: str | None = None) -> list[Client]:
        """Clients, of one project or all."""
        query = "SELECT id, project_id, name, type, secret_hash, revoked FROM clients"
        params: tuple[str, ...] = ()
        if project_id is not None:
            query += " WHERE project_id = ?"
            params = (project_id,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY created_at", params).fetchall()
        return [Client(r[0], r[1], r[2], r[3], r[4] is not None, bool(r[5])) for r in rows]

    def revoke_client(self, client_id: str) -> bool:
        """Revoke a client (its requests get 401 from now on). False if unknown."""
        with self._lock:
            cur = self._conn.execute("UPDATE clients SET revoked = 1 WHERE id = ?", (client_id,))
            self._clients.pop(client_id, None)
            self._verified = {k: v for k, v in self._verified.items() if k[0] != client_id}
        return cur.rowcount > 0

    def get_client(self, client_id: str) -> Client | None:
        """The client (cached for 5 s: revocation takes effect at once through revoke_client)."""
        now = time.monotonic()
        cached = self._clients.get(client_id)
        if cached is not None and now - cached[0] < 5.0:
            return cached[1]
        with self._lock:
            row = self._conn.execute(
                "SELECT id, project_id, name, type, secret_hash, revoked FROM clients WHERE id = ?",
                (client_id,),
            ).fetchone()
        client = (
            None
            if row is None
            else Client(row[0], row[1], row[2], row[3], row[4] is not None, bool(row[5]))
        )
        secret_hash = None if row is None else row[4]
        self._clients[client_id] = (now, client, secret_hash)
        return client

    def verify_secret(self, client_id: str, secret: str) -> bool:
        """Whether ``secret`` is the client's secret (constant time; successes cached 5 min)."""
        if self.get_client(client_id) is None:
            return False
        digest = hashlib.sha256(secret.encode()).digest()
        key = (client_id, digest)
        now = time.monotonic()
        seen = self._verified.get(key)
        if seen is not None and now - seen < _VERIFY_CACHE_SECONDS:
            return True
        stored = self._clients[client_id][2]
        if stored is None or not _check_secret(secret, stored):
            return False
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[key] = now
        return True

    # ------------------------------------------------------------------ salts

    def salts(self, today: dt.date | None = None) -> tuple[str, str]:
        """(current, previous) device-id salts; a new salt starts every day at 00:00 UTC."""
        day = today or dt.datetime.now(dt.timezone.utc).date()
        cached = self._salt_cache
        if cached is not None and cached[0] == day:
            return cached[1]
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO salts (day, salt) VALUES (?, ?)",
                (day.isoformat(), secrets.token_hex(16)),
            )
            rows = self._conn.execute(
                "SELECT salt FROM salts WHERE day <= ? ORDER BY day DESC LIMIT 2",
                (day.isoformat(),),
            ).fetchall()
            self._conn.execute(
                "DELETE FROM salts WHERE day < ?", ((day - dt.timedelta(days=1)).isoformat(),)
            )
        current = rows[0][0]
        previous = rows[1][0] if len(rows) > 1 else current
        self._salt_cache = (day, (current, previous))
        return current, previous

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()


_PROJECT_COLUMNS = "id, name, cors, allow_unsafe_revenue, timezone"


def _project(row: tuple[object, ...]) -> Project:
    cors = json.loads(str(row[2]))
    return Project(str(row[0]), str(row[1]), tuple(cors), bool(row[3]), str(row[4]))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()
