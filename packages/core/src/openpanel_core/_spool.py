"""Optional durable spool: events survive a crash until the server acknowledged them.

Encoded items are written to a SQLite file in WAL mode by the sender (never by the caller's
thread) before they are sent, and deleted once the server took them or refused them for good.
A new client opened on the same file sends what an earlier process left behind. Use one file per
process: two live processes on one file would both resend its backlog (the batch endpoint
deduplicates them by idempotency id, a stock server would not).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence

from openpanel_core._encode import Outgoing

__all__ = ["Spool"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    body BLOB NOT NULL,
    ip TEXT,
    ua TEXT
)
"""


class Spool:
    """A SQLite outbox (thread-safe; reopen after fork with :meth:`reopen`)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(_SCHEMA)
        return conn

    def add(self, items: Sequence[Outgoing]) -> None:
        """Persist items (ignores ids already stored)."""
        if not items:
            return
        rows = [(i.id, i.type, i.body, i.ip, i.user_agent) for i in items]
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR IGNORE INTO outbox (id, type, body, ip, ua) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.execute("COMMIT")

    def remove(self, ids: Iterable[str]) -> None:
        """Forget items the server acknowledged or refused for good."""
        rows = [(i,) for i in ids]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany("DELETE FROM outbox WHERE id = ?", rows)
            self._conn.execute("COMMIT")

    def load(self) -> list[Outgoing]:
        """Everything still waiting, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, type, body, ip, ua FROM outbox ORDER BY seq"
            ).fetchall()
        return [Outgoing(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]

    def count(self) -> int:
        """How many items are waiting."""
        with self._lock:
            (n,) = self._conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(n)

    def reopen(self) -> None:
        """Open a fresh connection (after fork: SQLite handles must not cross processes)."""
        self._lock = threading.Lock()
        self._conn = self._open()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
