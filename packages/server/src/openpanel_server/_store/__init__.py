"""The event store (ClickHouse SQL via clickhouse-connect: embedded chDB or a server)."""

from __future__ import annotations

from openpanel_server._store._errors import StoreError, StoreOpenError
from openpanel_server._store._migrations import MIGRATIONS, Migration, migrate, pending_statements
from openpanel_server._store._rows import (
    BotEventRow,
    EventRow,
    GroupRow,
    ProfileRow,
    ReplayChunkRow,
    SessionRow,
)
from openpanel_server._store._schema import TABLES, Layout, TableSpec, create_table_statements
from openpanel_server._store._store import MAX_PAGE_SIZE, Store, open_store

__all__ = [
    "MAX_PAGE_SIZE",
    "MIGRATIONS",
    "TABLES",
    "BotEventRow",
    "EventRow",
    "GroupRow",
    "Layout",
    "Migration",
    "ProfileRow",
    "ReplayChunkRow",
    "SessionRow",
    "Store",
    "StoreError",
    "StoreOpenError",
    "TableSpec",
    "create_table_statements",
    "migrate",
    "open_store",
    "pending_statements",
]
