"""``openpanel-server migrate``: bring a stopped server's data folder up to date.

Two ledgers: the event store's ``schema_migrations`` table (:mod:`openpanel_server._store`)
and the metadata database's ``PRAGMA user_version`` (:data:`openpanel_server._meta.MIGRATIONS`).
``serve`` applies both on start; this command does it ahead of time, step by step, so an
upgrade can be checked before the server goes back up. The embedded store can be opened by one
process only, so a running server's folder is refused.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpanel_server._cli_errors import CliError, data_folder_in_use
from openpanel_server._cli_progress import Progress
from openpanel_server._config import Settings
from openpanel_server._meta import MIGRATIONS as META_MIGRATIONS
from openpanel_server._meta import open_database
from openpanel_server._store import MIGRATIONS as STORE_MIGRATIONS
from openpanel_server._store import Layout, migrate
from openpanel_server._store._client import ClickHouseClient, chdb_client, server_client
from openpanel_server._store._schema import MIGRATIONS_TABLE

__all__ = ["run_migrate"]


class _StepReporter:
    """Wraps the store's client: each ledger row written is a migration step finished."""

    def __init__(self, client: ClickHouseClient, progress: Progress) -> None:
        self._client = client
        self._progress = progress
        self._names = {m.version: m.name for m in STORE_MIGRATIONS}
        self._step_started = time.monotonic()
        self.announced: set[int] = set()

    def announce_next(self, applied: set[int]) -> None:
        for migration in STORE_MIGRATIONS:
            if migration.version not in applied and migration.version not in self.announced:
                self.announced.add(migration.version)
                self._progress.update(
                    f"store: applying {migration.version} {migration.name}...", force=True
                )
                self._step_started = time.monotonic()
                return

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.query(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.command(*args, **kwargs)

    def insert(self, table: str, data: Sequence[Sequence[Any]], *args: Any, **kwargs: Any) -> Any:
        result = self._client.insert(table, data, *args, **kwargs)
        if table == MIGRATIONS_TABLE:
            for row in data:
                version = int(row[0])
                took = time.monotonic() - self._step_started
                self._progress.message(
                    f"store: applied {version} {self._names.get(version, '')} ({took:.1f} s)"
                )
                self.announce_next({*self.announced, version})
        return result


def _open_client(settings: Settings, data_dir: Path) -> tuple[ClickHouseClient, Layout, str]:
    if settings.clickhouse_url:
        layout: Layout = "cluster" if settings.cluster else "embedded"
        return server_client(settings.clickhouse_url), layout, "ClickHouse"
    if settings.cluster:
        raise CliError(
            "migrate",
            "--cluster needs --clickhouse-url (the embedded store has no cluster)",
            "pass the cluster's DSN with --clickhouse-url",
            code=2,
        )
    return chdb_client((data_dir / "ch").resolve(), None), "embedded", f"{data_dir / 'ch'}"


def _store_applied(client: ClickHouseClient) -> set[int]:
    try:
        rows = client.query(f"SELECT DISTINCT version FROM {MIGRATIONS_TABLE}").result_rows  # noqa: S608
    except Exception:  # noqa: BLE001 - no ledger yet: a new store
        return set()
    return {int(row[0]) for row in rows}


def _migrate_store(settings: Settings, data_dir: Path, progress: Progress) -> int:
    client, layout, where = _open_client(settings, data_dir)
    try:
        applied = _store_applied(client)
        pending = [m for m in STORE_MIGRATIONS if m.version not in applied]
        if not pending:
            progress.message(f"store ({where}): up to date (version {max(applied, default=0)})")
            return 0
        progress.message(
            f"store ({where}): {len(pending)} pending: "
            + ", ".join(f"{m.version} {m.name}" for m in pending)
        )
        reporter = _StepReporter(client, progress)
        reporter.announce_next(applied)
        done = migrate(reporter, layout)  # pyright: ignore[reportArgumentType]
        return len(done)
    finally:
        client.close()


def _meta_version(path: Path) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _migrate_meta(data_dir: Path, progress: Progress) -> int:
    path = data_dir / "meta.db"
    current = _meta_version(path)
    pending = [version for version, _ in META_MIGRATIONS if version > current]
    if not pending:
        progress.message(f"metadata ({path}): up to date (version {current})")
        return 0
    progress.message(
        f"metadata ({path}): version {current}, applying " + ", ".join(str(v) for v in pending)
    )
    started = time.monotonic()
    open_database(path).close()  # applies every pending version, each in one transaction
    now = _meta_version(path)
    progress.message(f"metadata: now at version {now} ({time.monotonic() - started:.1f} s)")
    return len(pending)


def run_migrate(settings: Settings, *, quiet: bool) -> int:
    """The ``migrate`` command."""
    data_dir = Path(settings.data_dir).resolve()
    if not data_dir.is_dir():
        raise CliError(
            "migrate",
            f"no data folder at {data_dir}",
            "pass --data-dir (or set OPENPANEL_SERVER_DATA_DIR); an empty folder is "
            "initialised, a missing one is not created",
        )
    if not settings.clickhouse_url and data_folder_in_use(data_dir):
        raise CliError(
            "migrate",
            f"a server is running on {data_dir} (the embedded store takes one process)",
            "stop the server first (it applies pending migrations itself when it starts)",
        )
    progress = Progress("migrate", quiet=quiet)
    applied = _migrate_store(settings, data_dir, progress)
    applied += _migrate_meta(data_dir, progress)
    if applied:
        progress.done(f"done: {applied} migrations applied in {progress.elapsed:.1f} s")
    else:
        progress.done("up to date")
    return 0
