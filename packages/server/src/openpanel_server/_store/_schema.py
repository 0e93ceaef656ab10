"""Table definitions and the DDL generator (embedded, cluster and cluster-sim layouts).

Queries always name the logical tables (``events``, ``sessions``, ...). Only this module
knows how those names map to physical tables:

* ``embedded``: ``CREATE TABLE <name> (...) ENGINE = <Engine>`` (one chDB process).
* ``cluster``: ``CREATE TABLE <name>_replicated ON CLUSTER '{cluster}' (...)`` with
  ``Replicated<Engine>('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v<N>/<name>',
  '{replica}', ...)``, then ``CREATE TABLE <name> ON CLUSTER '{cluster}' AS <name>_replicated
  ENGINE = Distributed('{cluster}', currentDatabase(), <name>_replicated, <hash>)``. This is
  OpenPanel's ``createTable(..., isClustered)`` convention; it needs ClickHouse Keeper.
* ``cluster-sim``: the cluster query path inside chDB, which can run neither ``ON CLUSTER`` nor
  Replicated engines: plain ``<Engine>`` tables named ``<name>_replicated`` plus the same
  ``Distributed`` tables over a 1-shard localhost cluster declared in a chDB config file.

Every statement uses ``IF NOT EXISTS`` so a migration interrupted half-way can be re-run.
Column and table names come only from the constants below, never from user input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BOTS",
    "EVENTS",
    "GROUPS",
    "MIGRATIONS_TABLE",
    "PROFILES",
    "REPLAY_TTL_DAYS",
    "SESSIONS",
    "TABLES",
    "Column",
    "Layout",
    "TableSpec",
    "create_table_statements",
    "migrations_table_statement",
    "modify_ttl_statement",
]

Layout = Literal["embedded", "cluster", "cluster-sim"]
"""Physical layout of the logical tables (see the module docstring)."""

_CLUSTER = "'{cluster}'"
_REPLICA = "'{replica}'"
_SCHEMA_VERSION = 1  # the ``v<N>`` in Keeper paths; bump only for an incompatible rebuild


@dataclass(frozen=True, slots=True)
class Column:
    """One column: name, ClickHouse type and an optional ``DEFAULT``/``CODEC`` suffix."""

    name: str
    type: str
    extra: str = ""

    def ddl(self) -> str:
        """Return the column definition as it appears in ``CREATE TABLE``."""
        return f"{self.name} {self.type}" + (f" {self.extra}" if self.extra else "")


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A logical table: columns, indexes, engine and keys, plus its cluster sharding key."""

    name: str
    columns: tuple[Column, ...]
    engine: str
    order_by: str
    distribution_hash: str
    engine_args: tuple[str, ...] = ()
    partition_by: str = ""
    indexes: tuple[str, ...] = ()
    settings: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in definition order (the insert allow-list)."""
        return tuple(c.name for c in self.columns)

    @property
    def column_types(self) -> tuple[str, ...]:
        """ClickHouse type names in definition order."""
        return tuple(c.type for c in self.columns)


_UTC_MS = "DateTime64(3, 'UTC')"

EVENTS = TableSpec(
    name="events",
    columns=(
        Column("id", "String", "CODEC(ZSTD(3))"),
        Column("name", "LowCardinality(String)"),
        Column("sdk_name", "LowCardinality(String)"),
        Column("sdk_version", "LowCardinality(String)"),
        Column("device_id", "String", "CODEC(ZSTD(3))"),
        Column("profile_id", "String", "CODEC(ZSTD(3))"),
        Column("project_id", "String", "CODEC(ZSTD(3))"),
        Column("session_id", "String", "CODEC(LZ4)"),
        Column("groups", "Array(String)", "DEFAULT [] CODEC(ZSTD(3))"),
        Column("path", "String", "CODEC(ZSTD(3))"),
        Column("origin", "String", "CODEC(ZSTD(3))"),
        Column("referrer", "String", "CODEC(ZSTD(3))"),
        Column("referrer_name", "String", "CODEC(ZSTD(3))"),
        Column("referrer_type", "LowCardinality(String)"),
        Column("revenue", "UInt64"),
        Column("duration", "UInt64", "CODEC(Delta(4), LZ4)"),
        Column("properties", "Map(String, String)", "CODEC(ZSTD(3))"),
        Column("created_at", _UTC_MS, "CODEC(DoubleDelta, ZSTD(3))"),
        Column("country", "LowCardinality(FixedString(2))"),
        Column("city", "String"),
        Column("region", "LowCardinality(String)"),
        Column("longitude", "Nullable(Float32)", "CODEC(Gorilla, LZ4)"),
        Column("latitude", "Nullable(Float32)", "CODEC(Gorilla, LZ4)"),
        Column("os", "LowCardinality(String)"),
        Column("os_version", "LowCardinality(String)"),
        Column("browser", "LowCardinality(String)"),
        Column("browser_version", "LowCardinality(String)"),
        Column("device", "LowCardinality(String)"),
        Column("brand", "LowCardinality(String)"),
        Column("model", "LowCardinality(String)"),
        Column("imported_at", f"Nullable({_UTC_MS})", "CODEC(Delta(4), LZ4)"),
    ),
    indexes=(
        "INDEX idx_name name TYPE bloom_filter GRANULARITY 1",
        "INDEX idx_properties_bounce properties['__bounce'] TYPE set(3) GRANULARITY 1",
        "INDEX idx_origin origin TYPE bloom_filter(0.05) GRANULARITY 1",
        "INDEX idx_path path TYPE bloom_filter(0.01) GRANULARITY 1",
        "INDEX idx_profile_id profile_id TYPE bloom_filter(0.01) GRANULARITY 1",
        "INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 1",
    ),
    engine="MergeTree",
    partition_by="toYYYYMM(created_at)",
    order_by="(project_id, toDate(created_at), created_at, name)",
    settings="index_granularity = 8192",
    distribution_hash="cityHash64(project_id, toString(toStartOfHour(created_at)))",
)

SESSIONS = TableSpec(
    name="sessions",
    columns=(
        Column("id", "String", "CODEC(ZSTD(3))"),
        Column("project_id", "String", "CODEC(ZSTD(3))"),
        Column("profile_id", "String", "CODEC(ZSTD(3))"),
        Column("device_id", "String", "CODEC(ZSTD(3))"),
        Column("groups", "Array(String)", "DEFAULT [] CODEC(ZSTD(3))"),
        Column("created_at", _UTC_MS, "CODEC(DoubleDelta, ZSTD(3))"),
        Column("ended_at", _UTC_MS, "CODEC(DoubleDelta, ZSTD(3))"),
        Column("is_bounce", "Bool"),
        Column("entry_origin", "LowCardinality(String)"),
        Column("entry_path", "String", "CODEC(ZSTD(3))"),
        Column("exit_origin", "LowCardinality(String)"),
        Column("exit_path", "String", "CODEC(ZSTD(3))"),
        Column("screen_view_count", "Int32"),
        Column("revenue", "Float64"),
        Column("event_count", "Int32"),
        Column("duration", "UInt32"),
        Column("country", "LowCardinality(FixedString(2))"),
        Column("region", "LowCardinality(String)"),
        Column("city", "String"),
        Column("longitude", "Nullable(Float32)", "CODEC(Gorilla, LZ4)"),
        Column("latitude", "Nullable(Float32)", "CODEC(Gorilla, LZ4)"),
        Column("device", "LowCardinality(String)"),
        Column("brand", "LowCardinality(String)"),
        Column("model", "LowCardinality(String)"),
        Column("browser", "LowCardinality(String)"),
        Column("browser_version", "LowCardinality(String)"),
        Column("os", "LowCardinality(String)"),
        Column("os_version", "LowCardinality(String)"),
        Column("utm_medium", "String", "CODEC(ZSTD(3))"),
        Column("utm_source", "String", "CODEC(ZSTD(3))"),
        Column("utm_campaign", "String", "CODEC(ZSTD(3))"),
        Column("utm_content", "String", "CODEC(ZSTD(3))"),
        Column("utm_term", "String", "CODEC(ZSTD(3))"),
        Column("referrer", "String", "CODEC(ZSTD(3))"),
        Column("referrer_name", "String", "CODEC(ZSTD(3))"),
        Column("referrer_type", "LowCardinality(String)"),
        Column("properties", "Map(String, String)", "CODEC(ZSTD(3))"),
        Column("sign", "Int8"),
        Column("version", "UInt64"),
    ),
    engine="VersionedCollapsingMergeTree",
    engine_args=("sign", "version"),
    partition_by="toYYYYMM(created_at)",
    # ``id`` closes the key so two sessions starting in the same millisecond never collapse.
    order_by="(project_id, toDate(created_at), created_at, id)",
    settings="index_granularity = 8192",
    distribution_hash="cityHash64(id)",
)

PROFILES = TableSpec(
    name="profiles",
    columns=(
        Column("id", "String", "CODEC(ZSTD(3))"),
        Column("is_external", "Bool"),
        Column("first_name", "String", "CODEC(ZSTD(3))"),
        Column("last_name", "String", "CODEC(ZSTD(3))"),
        Column("email", "String", "CODEC(ZSTD(3))"),
        Column("avatar", "String", "CODEC(ZSTD(3))"),
        Column("properties", "Map(String, String)", "CODEC(ZSTD(3))"),
        Column("project_id", "String", "CODEC(ZSTD(3))"),
        Column("groups", "Array(String)", "DEFAULT [] CODEC(ZSTD(3))"),
        Column("created_at", _UTC_MS, "CODEC(Delta(4), LZ4)"),
        Column("last_seen_at", _UTC_MS, "CODEC(Delta(4), LZ4)"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("last_seen_at",),
    partition_by="toYYYYMM(created_at)",
    order_by="(project_id, id)",
    settings="index_granularity = 8192",
    distribution_hash="cityHash64(project_id)",
)

GROUPS = TableSpec(
    name="groups",
    columns=(
        Column("id", "String", "CODEC(ZSTD(3))"),
        Column("project_id", "String", "CODEC(ZSTD(3))"),
        Column("type", "LowCardinality(String)"),
        Column("name", "String", "CODEC(ZSTD(3))"),
        Column("properties", "Map(String, String)", "CODEC(ZSTD(3))"),
        Column("created_at", _UTC_MS, "CODEC(Delta(4), LZ4)"),
        Column("version", "UInt64"),
        Column("deleted", "UInt8", "DEFAULT 0"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("version", "deleted"),
    order_by="(project_id, id)",
    settings="index_granularity = 8192",
    distribution_hash="cityHash64(project_id)",
)

BOTS = TableSpec(
    name="events_bots",
    columns=(
        Column("id", "String", "CODEC(ZSTD(3))"),
        Column("project_id", "String", "CODEC(ZSTD(3))"),
        Column("name", "String", "CODEC(ZSTD(3))"),
        Column("type", "LowCardinality(String)"),
        Column("path", "String", "CODEC(ZSTD(3))"),
        Column("created_at", _UTC_MS, "CODEC(DoubleDelta, ZSTD(3))"),
    ),
    engine="MergeTree",
    partition_by="toYYYYMM(created_at)",
    order_by="(project_id, created_at)",
    settings="index_granularity = 8192",
    distribution_hash="cityHash64(project_id, toString(toStartOfDay(created_at)))",
)

REPLAY_CHUNKS = TableSpec(
    name="session_replay_chunks",
    columns=(
        Column("project_id", "String", "CODEC(ZSTD(3))"),
        Column("session_id", "String", "CODEC(ZSTD(3))"),
        Column("chunk_index", "UInt16"),
        Column("started_at", _UTC_MS, "CODEC(DoubleDelta, ZSTD(3))"),
        Column("ended_at", _UTC_MS, "CODEC(DoubleDelta, ZSTD(3))"),
        Column("events_count", "UInt16"),
        Column("is_full_snapshot", "Bool"),
        Column("payload", "String", "CODEC(ZSTD(6))"),
    ),
    engine="MergeTree",
    partition_by="toYYYYMM(started_at)",
    order_by="(project_id, session_id, started_at, chunk_index)",
    settings="index_granularity = 8192",
    distribution_hash="cityHash64(project_id, session_id)",
)

TABLES: tuple[TableSpec, ...] = (EVENTS, SESSIONS, PROFILES, GROUPS, BOTS)
"""Every logical table of the initial schema, in creation order (later ones: migrations)."""

MIGRATIONS_TABLE = "schema_migrations"


def _engine_clause(spec: TableSpec, *, replicated: bool) -> str:
    args = list(spec.engine_args)
    if not replicated:
        return f"{spec.engine}({', '.join(args)})" if args else spec.engine
    zk_path = (
        f"'/clickhouse/{{installation}}/{{cluster}}/tables/{{shard}}/openpanel/"
        f"v{_SCHEMA_VERSION}/{spec.name}'"
    )
    return f"Replicated{spec.engine}({', '.join([zk_path, _REPLICA, *args])})"


def _create_storage_table(spec: TableSpec, physical: str, on_cluster: str, engine: str) -> str:
    body = ",\n".join(["    " + c.ddl() for c in spec.columns] + ["    " + i for i in spec.indexes])
    lines = [
        f"CREATE TABLE IF NOT EXISTS {physical}{on_cluster}",
        "(",
        body,
        ")",
        f"ENGINE = {engine}",
    ]
    if spec.partition_by:
        lines.append(f"PARTITION BY {spec.partition_by}")
    lines.append(f"ORDER BY {spec.order_by}")
    if spec.settings:
        lines.append(f"SETTINGS {spec.settings}")
    return "\n".join(lines)


def create_table_statements(spec: TableSpec, layout: Layout) -> list[str]:
    """Return the ``CREATE TABLE`` statements for one logical table in ``layout``.

    Args:
        spec: The table definition.
        layout: ``embedded``, ``cluster`` or ``cluster-sim``.

    Returns:
        One statement (embedded) or two (storage table, then the Distributed table).
    """
    if layout == "embedded":
        return [_create_storage_table(spec, spec.name, "", _engine_clause(spec, replicated=False))]
    local = f"{spec.name}_replicated"
    on_cluster = f" ON CLUSTER {_CLUSTER}" if layout == "cluster" else ""
    engine = _engine_clause(spec, replicated=layout == "cluster")
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {spec.name}{on_cluster} AS {local}\n"
        f"ENGINE = Distributed({_CLUSTER}, currentDatabase(), {local}, {spec.distribution_hash})"
    )
    return [_create_storage_table(spec, local, on_cluster, engine), distributed]


REPLAY_TTL_DAYS = 30
"""Replay chunks expire after this many days, as OpenPanel's do."""


def modify_ttl_statement(spec: TableSpec, layout: Layout, ttl: str) -> str:
    """Return the ``ALTER TABLE ... MODIFY TTL`` for the table that stores ``spec``'s rows.

    The TTL belongs on the storage table (``<name>_replicated`` in the cluster layouts), never
    on a Distributed table. Re-running it is harmless, so the migration stays idempotent.
    """
    if layout == "embedded":
        return f"ALTER TABLE {spec.name} MODIFY TTL {ttl}"
    on_cluster = f" ON CLUSTER {_CLUSTER}" if layout == "cluster" else ""
    return f"ALTER TABLE {spec.name}_replicated{on_cluster} MODIFY TTL {ttl}"


def migrations_table_statement(layout: Layout) -> str:
    """Return the ``CREATE TABLE`` for the migration ledger.

    In the ``cluster`` layout the ledger is one ReplicatedMergeTree whose Keeper path has no
    ``{shard}``, so every node of every shard shares the same rows; elsewhere it is a plain
    MergeTree (cluster-sim has one node).
    """
    if layout == "cluster":
        on_cluster = f" ON CLUSTER {_CLUSTER}"
        engine = (
            "ReplicatedMergeTree('/clickhouse/{installation}/{cluster}/tables/all/openpanel/"
            f"{MIGRATIONS_TABLE}', '{{shard}}-{{replica}}')"
        )
    else:
        on_cluster = ""
        engine = "MergeTree"
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}{on_cluster}\n"
        "(\n"
        "    version UInt32,\n"
        "    name String,\n"
        f"    applied_at {_UTC_MS}\n"
        ")\n"
        f"ENGINE = {engine}\n"
        "ORDER BY version"
    )
