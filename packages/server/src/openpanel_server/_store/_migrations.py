"""Versioned, idempotent schema migrations recorded in ``schema_migrations``.

Each migration is a version number, a name and a function from the layout to its DDL
statements. :func:`migrate` creates the ledger, skips the versions already recorded, runs the
rest in order and records each one after its statements succeed. Every statement is
``IF NOT EXISTS``-safe, so a migration interrupted between its statements and its ledger row
is simply run again. Running :func:`migrate` twice is a no-op.

Append new migrations to :data:`MIGRATIONS`; never edit or renumber a released one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from openpanel_server._store._schema import (
    MIGRATIONS_TABLE,
    REPLAY_CHUNKS,
    REPLAY_TTL_DAYS,
    TABLES,
    Layout,
    create_table_statements,
    migrations_table_statement,
    modify_ttl_statement,
)

if TYPE_CHECKING:
    from openpanel_server._store._client import ClickHouseClient as Client

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "migrate", "pending_statements"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema migration."""

    version: int
    name: str
    statements: Callable[[Layout], list[str]]


def _initial_schema(layout: Layout) -> list[str]:
    return [stmt for spec in TABLES for stmt in create_table_statements(spec, layout)]


def _replay_chunks(layout: Layout) -> list[str]:
    return create_table_statements(REPLAY_CHUNKS, layout)


def _replay_chunks_ttl(layout: Layout) -> list[str]:
    ttl = f"toDateTime(started_at) + INTERVAL {REPLAY_TTL_DAYS} DAY"
    return [modify_ttl_statement(REPLAY_CHUNKS, layout, ttl)]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial_schema", _initial_schema),
    Migration(2, "session_replay_chunks", _replay_chunks),
    Migration(3, "session_replay_chunks_ttl", _replay_chunks_ttl),
)
"""All migrations, in version order."""


def applied_versions(client: Client) -> set[int]:
    """Return the migration versions recorded in the ledger (which must exist)."""
    result = client.query(f"SELECT DISTINCT version FROM {MIGRATIONS_TABLE}")  # noqa: S608
    return {int(row[0]) for row in result.result_rows}


def pending_statements(layout: Layout, applied: set[int] | None = None) -> list[str]:
    """Return the DDL that :func:`migrate` would run (used by golden tests and dry runs).

    Args:
        layout: The physical layout.
        applied: Versions to skip (default: none).

    Returns:
        The ledger statement followed by the statements of every pending migration.
    """
    skip = applied or set()
    out = [migrations_table_statement(layout)]
    for migration in MIGRATIONS:
        if migration.version not in skip:
            out.extend(migration.statements(layout))
    return out


def migrate(client: Client, layout: Layout) -> list[int]:
    """Bring the schema up to date.

    Args:
        client: A clickhouse-connect client (chDB or server).
        layout: The physical layout the tables are created in.

    Returns:
        The versions applied by this call (empty when already up to date).
    """
    client.command(migrations_table_statement(layout))
    applied = applied_versions(client)
    done: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        for statement in migration.statements(layout):
            client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, datetime.now(tz=timezone.utc)]],
            column_names=["version", "name", "applied_at"],
            column_type_names=["UInt32", "String", "DateTime64(3, 'UTC')"],
        )
        done.append(migration.version)
    return done
