"""Saved cohorts in the metadata database (one row per cohort, scoped to a project).

A cohort row keeps its name and its definition as JSON text (the camelCase
``CohortDefinition`` fields except ``id`` and ``name``; the API validates it before saving).
This module only stores and reads rows: it shares the :class:`~openpanel_server._meta.MetaStore`
connection and lock, so it needs no analytics import and closes with the metadata database.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["COHORT_SCHEMA", "CohortStore", "SavedCohort"]

#: The ``cohorts`` table (metadata migration 3).
COHORT_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cohorts (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS cohorts_project ON cohorts (project_id, created_at)",
)


@dataclass(frozen=True, slots=True)
class SavedCohort:
    """A stored cohort.

    Attributes:
        id: Server-generated (``coh_`` and 16 hex digits); ``inCohort`` filters name it.
        project_id: Its project.
        name: A label.
        definition: The cohort rule as stored (camelCase JSON object).
        created_at: ISO 8601 UTC time of creation.
        updated_at: ISO 8601 UTC time of the last change.
    """

    id: str
    project_id: str
    name: str
    definition: dict[str, Any]
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        """The API shape: ``{"id", "name", "definition", "createdAt", "updatedAt"}``."""
        return {
            "id": self.id,
            "name": self.name,
            "definition": self.definition,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


_COLUMNS = "id, project_id, name, definition, created_at, updated_at"


def _row(row: tuple[Any, ...]) -> SavedCohort:
    definition: dict[str, Any] = json.loads(row[3])
    return SavedCohort(row[0], row[1], row[2], definition, row[4], row[5])


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class CohortStore:
    """Create, read, update and delete saved cohorts (thread-safe under the shared lock)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        """Use ``conn`` (autocommit, already migrated) guarded by ``lock``."""
        self._conn = conn
        self._lock = lock

    def list(self, project_id: str) -> list[SavedCohort]:
        """The project's cohorts, oldest first (in the order they were created)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE project_id = ? ORDER BY rowid",  # noqa: S608
                (project_id,),
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, project_id: str, cohort_id: str) -> SavedCohort | None:
        """The cohort, or None when it does not exist in this project."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE project_id = ? AND id = ?",  # noqa: S608
                (project_id, cohort_id),
            ).fetchone()
        return None if row is None else _row(row)

    def create(self, project_id: str, name: str, definition: dict[str, Any]) -> SavedCohort:
        """Save a new cohort (its id is generated)."""
        now = _now()
        cohort = SavedCohort(f"coh_{uuid.uuid4().hex[:16]}", project_id, name, definition, now, now)
        with self._lock:
            self._conn.execute(
                f"INSERT INTO cohorts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                (cohort.id, project_id, name, json.dumps(definition), now, now),
            )
        return cohort

    def update(
        self, project_id: str, cohort_id: str, name: str, definition: dict[str, Any]
    ) -> SavedCohort | None:
        """Replace a cohort's name and definition; None when it does not exist."""
        now = _now()
        with self._lock:
            cur = self._conn.execute(
                "UPDATE cohorts SET name = ?, definition = ?, updated_at = ?"
                " WHERE project_id = ? AND id = ?",
                (name, json.dumps(definition), now, project_id, cohort_id),
            )
        if cur.rowcount == 0:
            return None
        return self.get(project_id, cohort_id)

    def delete(self, project_id: str, cohort_id: str) -> bool:
        """Delete a cohort; False when it does not exist."""
        with self._lock:
            cur = self._conn.execute(
                "DELETE FROM cohorts WHERE project_id = ? AND id = ?", (project_id, cohort_id)
            )
        return cur.rowcount > 0
