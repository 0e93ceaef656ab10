from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from openpanel_server._store import TABLES, create_table_statements, pending_statements
from openpanel_server._store._export import DEFAULT_EVENT_FIELDS, iso_utc, to_camel
from openpanel_server._store._schema import EVENTS

# Golden text of the cluster DDL (ReplicatedMergeTree + Distributed, OpenPanel's layout).
# It cannot run here (no Keeper); test_store.py checks that ClickHouse parses every statement.
# Update deliberately: a change here is a schema change for every clustered deployment.
CLUSTER_GOLDEN = """\
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER '{cluster}'
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/{installation}/{cluster}/tables/all/openpanel/schema_migrations', '{shard}-{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS events_replicated ON CLUSTER '{cluster}'
(
    id String CODEC(ZSTD(3)),
    name LowCardinality(String),
    sdk_name LowCardinality(String),
    sdk_version LowCardinality(String),
    device_id String CODEC(ZSTD(3)),
    profile_id String CODEC(ZSTD(3)),
    project_id String CODEC(ZSTD(3)),
    session_id String CODEC(LZ4),
    groups Array(String) DEFAULT [] CODEC(ZSTD(3)),
    path String CODEC(ZSTD(3)),
    origin String CODEC(ZSTD(3)),
    referrer String CODEC(ZSTD(3)),
    referrer_name String CODEC(ZSTD(3)),
    referrer_type LowCardinality(String),
    revenue UInt64,
    duration UInt64 CODEC(Delta(4), LZ4),
    properties Map(String, String) CODEC(ZSTD(3)),
    created_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3)),
    country LowCardinality(FixedString(2)),
    city String,
    region LowCardinality(String),
    longitude Nullable(Float32) CODEC(Gorilla, LZ4),
    latitude Nullable(Float32) CODEC(Gorilla, LZ4),
    os LowCardinality(String),
    os_version LowCardinality(String),
    browser LowCardinality(String),
    browser_version LowCardinality(String),
    device LowCardinality(String),
    brand LowCardinality(String),
    model LowCardinality(String),
    imported_at Nullable(DateTime64(3, 'UTC')) CODEC(Delta(4), LZ4),
    INDEX idx_name name TYPE bloom_filter GRANULARITY 1,
    INDEX idx_properties_bounce properties['__bounce'] TYPE set(3) GRANULARITY 1,
    INDEX idx_origin origin TYPE bloom_filter(0.05) GRANULARITY 1,
    INDEX idx_path path TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_profile_id profile_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_id id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v1/events', '{replica}')
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, toDate(created_at), created_at, name)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS events ON CLUSTER '{cluster}' AS events_replicated
ENGINE = Distributed('{cluster}', currentDatabase(), events_replicated, cityHash64(project_id, toString(toStartOfHour(created_at))));

CREATE TABLE IF NOT EXISTS sessions_replicated ON CLUSTER '{cluster}'
(
    id String CODEC(ZSTD(3)),
    project_id String CODEC(ZSTD(3)),
    profile_id String CODEC(ZSTD(3)),
    device_id String CODEC(ZSTD(3)),
    groups Array(String) DEFAULT [] CODEC(ZSTD(3)),
    created_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3)),
    ended_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3)),
    is_bounce Bool,
    entry_origin LowCardinality(String),
    entry_path String CODEC(ZSTD(3)),
    exit_origin LowCardinality(String),
    exit_path String CODEC(ZSTD(3)),
    screen_view_count Int32,
    revenue Float64,
    event_count Int32,
    duration UInt32,
    country LowCardinality(FixedString(2)),
    region LowCardinality(String),
    city String,
    longitude Nullable(Float32) CODEC(Gorilla, LZ4),
    latitude Nullable(Float32) CODEC(Gorilla, LZ4),
    device LowCardinality(String),
    brand LowCardinality(String),
    model LowCardinality(String),
    browser LowCardinality(String),
    browser_version LowCardinality(String),
    os LowCardinality(String),
    os_version LowCardinality(String),
    utm_medium String CODEC(ZSTD(3)),
    utm_source String CODEC(ZSTD(3)),
    utm_campaign String CODEC(ZSTD(3)),
    utm_content String CODEC(ZSTD(3)),
    utm_term String CODEC(ZSTD(3)),
    referrer String CODEC(ZSTD(3)),
    referrer_name String CODEC(ZSTD(3)),
    referrer_type LowCardinality(String),
    properties Map(String, String) CODEC(ZSTD(3)),
    sign Int8,
    version UInt64
)
ENGINE = ReplicatedVersionedCollapsingMergeTree('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v1/sessions', '{replica}', sign, version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, toDate(created_at), created_at, id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS sessions ON CLUSTER '{cluster}' AS sessions_replicated
ENGINE = Distributed('{cluster}', currentDatabase(), sessions_replicated, cityHash64(id));

CREATE TABLE IF NOT EXISTS profiles_replicated ON CLUSTER '{cluster}'
(
    id String CODEC(ZSTD(3)),
    is_external Bool,
    first_name String CODEC(ZSTD(3)),
    last_name String CODEC(ZSTD(3)),
    email String CODEC(ZSTD(3)),
    avatar String CODEC(ZSTD(3)),
    properties Map(String, String) CODEC(ZSTD(3)),
    project_id String CODEC(ZSTD(3)),
    groups Array(String) DEFAULT [] CODEC(ZSTD(3)),
    created_at DateTime64(3, 'UTC') CODEC(Delta(4), LZ4),
    last_seen_at DateTime64(3, 'UTC') CODEC(Delta(4), LZ4)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v1/profiles', '{replica}', last_seen_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS profiles ON CLUSTER '{cluster}' AS profiles_replicated
ENGINE = Distributed('{cluster}', currentDatabase(), profiles_replicated, cityHash64(project_id));

CREATE TABLE IF NOT EXISTS groups_replicated ON CLUSTER '{cluster}'
(
    id String CODEC(ZSTD(3)),
    project_id String CODEC(ZSTD(3)),
    type LowCardinality(String),
    name String CODEC(ZSTD(3)),
    properties Map(String, String) CODEC(ZSTD(3)),
    created_at DateTime64(3, 'UTC') CODEC(Delta(4), LZ4),
    version UInt64,
    deleted UInt8 DEFAULT 0
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v1/groups', '{replica}', version, deleted)
ORDER BY (project_id, id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS groups ON CLUSTER '{cluster}' AS groups_replicated
ENGINE = Distributed('{cluster}', currentDatabase(), groups_replicated, cityHash64(project_id));

CREATE TABLE IF NOT EXISTS events_bots_replicated ON CLUSTER '{cluster}'
(
    id String CODEC(ZSTD(3)),
    project_id String CODEC(ZSTD(3)),
    name String CODEC(ZSTD(3)),
    type LowCardinality(String),
    path String CODEC(ZSTD(3)),
    created_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3))
)
ENGINE = ReplicatedMergeTree('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v1/events_bots', '{replica}')
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, created_at)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS events_bots ON CLUSTER '{cluster}' AS events_bots_replicated
ENGINE = Distributed('{cluster}', currentDatabase(), events_bots_replicated, cityHash64(project_id, toString(toStartOfDay(created_at))));

CREATE TABLE IF NOT EXISTS session_replay_chunks_replicated ON CLUSTER '{cluster}'
(
    project_id String CODEC(ZSTD(3)),
    session_id String CODEC(ZSTD(3)),
    chunk_index UInt16,
    started_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3)),
    ended_at DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(3)),
    events_count UInt16,
    is_full_snapshot Bool,
    payload String CODEC(ZSTD(6))
)
ENGINE = ReplicatedMergeTree('/clickhouse/{installation}/{cluster}/tables/{shard}/openpanel/v1/session_replay_chunks', '{replica}')
PARTITION BY toYYYYMM(started_at)
ORDER BY (project_id, session_id, started_at, chunk_index)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS session_replay_chunks ON CLUSTER '{cluster}' AS session_replay_chunks_replicated
ENGINE = Distributed('{cluster}', currentDatabase(), session_replay_chunks_replicated, cityHash64(project_id, session_id));

ALTER TABLE session_replay_chunks_replicated ON CLUSTER '{cluster}' MODIFY TTL toDateTime(started_at) + INTERVAL 30 DAY;
"""


def test_cluster_ddl_golden() -> None:
    assert ";\n\n".join(pending_statements("cluster")) + ";\n" == CLUSTER_GOLDEN


def test_embedded_ddl_has_plain_engines() -> None:
    statements = pending_statements("embedded")
    # the ledger, the initial tables, and one table per later migration
    assert len(statements) == 1 + len(TABLES) + 2
    text = "\n".join(statements)
    assert "ON CLUSTER" not in text
    assert "Replicated" not in text
    assert "Distributed" not in text
    assert "ENGINE = VersionedCollapsingMergeTree(sign, version)" in text
    assert "ENGINE = ReplacingMergeTree(last_seen_at)" in text
    assert "ENGINE = ReplacingMergeTree(version, deleted)" in text
    assert statements[1].startswith("CREATE TABLE IF NOT EXISTS events\n")


def test_cluster_sim_ddl_is_local_mergetree_plus_distributed() -> None:
    for spec in TABLES:
        local, distributed = create_table_statements(spec, "cluster-sim")
        assert local.startswith(f"CREATE TABLE IF NOT EXISTS {spec.name}_replicated\n")
        assert "ON CLUSTER" not in local + distributed
        assert "Replicated" not in local.split("ENGINE = ", 1)[1]
        assert distributed == (
            f"CREATE TABLE IF NOT EXISTS {spec.name} AS {spec.name}_replicated\n"
            f"ENGINE = Distributed('{{cluster}}', currentDatabase(), {spec.name}_replicated,"
            f" {spec.distribution_hash})"
        )


def test_events_key_matches_openpanel() -> None:
    assert EVENTS.partition_by == "toYYYYMM(created_at)"
    assert EVENTS.order_by == "(project_id, toDate(created_at), created_at, name)"
    assert "imported_at" in EVENTS.column_names
    assert dict(zip(EVENTS.column_names, EVENTS.column_types, strict=True))["id"] == "String"


@pytest.mark.parametrize(
    ("snake", "camel"),
    [("profile_id", "profileId"), ("id", "id"), ("referrer_name", "referrerName")],
)
def test_to_camel(snake: str, camel: str) -> None:
    assert to_camel(snake) == camel


def test_default_event_fields() -> None:
    assert list(DEFAULT_EVENT_FIELDS) == [
        "id", "name", "deviceId", "profileId", "sessionId", "projectId", "createdAt",
        "path", "duration", "city", "country", "os", "browser",
    ]  # fmt: skip


def test_iso_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert iso_utc(datetime(2026, 1, 2, 4, 4, 5, 678000, tzinfo=cet)) == "2026-01-02T03:04:05.678Z"
