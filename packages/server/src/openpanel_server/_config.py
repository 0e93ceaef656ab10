"""Server settings: command-line flags over ``OPENPANEL_SERVER_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

__all__ = ["Settings"]


def _env(name: str) -> str | None:
    return os.environ.get(f"OPENPANEL_SERVER_{name.upper()}")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server can be told. Each field reads ``OPENPANEL_SERVER_<FIELD>``.

    Attributes:
        host: Interface to listen on.
        port: TCP port.
        data_dir: Where the embedded store, the write-ahead log and the metadata live.
        clickhouse_url: A ClickHouse server or cluster instead of the embedded store.
        cluster: With ``clickhouse_url``: create Distributed tables over replicated ones.
        trust_proxy_headers: Take the client IP from ``x-forwarded-for`` and friends (behind a
            proxy you run). ``openpanel-client-ip`` from authenticated server callers is always
            honoured.
        max_body_bytes: Largest accepted ``/track`` body.
        max_batch_bytes: Largest accepted ``/track/batch`` body (after decompression).
        rate_limit: Requests per second per client (0 turns the limit off); bursts of 2 s.
        flush_interval: Seconds between flushes from the write-ahead log to the store.
        session_timeout: Inactivity, in seconds, that ends a session.
        geoip_db: A MaxMind-format city database (GeoLite2-City.mmdb); by default the one in
            the data folder, if there is one.
        webhook_allow_subnets: Networks webhook endpoints may resolve to although the SSRF
            blocklist refuses them (``127.0.0.0/8`` for local development and tests); the
            environment variable is comma-separated.
        webhook_allow_http: Accept ``http://`` endpoint URLs (only ``https://`` otherwise).
        webhook_schedule: Seconds to wait before each delivery attempt (the first is normally
            0); ``len`` is the number of attempts. Comma-separated in the environment.
        webhook_timeout: Total seconds for one delivery attempt (connect, send, response).
        webhook_connect_timeout: Seconds to connect.
        webhook_max_in_flight: Concurrent deliveries per endpoint.
        webhook_disable_after: Seconds an endpoint may keep failing (every message exhausting
            its attempts, no success) before it is disabled.
        ingest_workers: Worker processes that parse, validate and prepare large
            ``/track/batch`` bodies while this process keeps the data; -1 (the default) means
            one per core but one, at most 4; 0 does everything in this process.
    """

    host: str = "127.0.0.1"
    port: int = 3333
    data_dir: Path = field(default_factory=lambda: Path(".openpanel-data"))
    clickhouse_url: str | None = None
    cluster: bool = False
    trust_proxy_headers: bool = False
    max_body_bytes: int = 3 * 1_048_576  # replay chunks carry up to 2 MiB of recording
    max_batch_bytes: int = 10 * 1_048_576
    rate_limit: float = 0.0
    flush_interval: float = 0.5
    session_timeout: float = 1800.0
    geoip_db: Path | None = None
    webhook_allow_subnets: tuple[str, ...] = ()
    webhook_allow_http: bool = False
    webhook_schedule: tuple[float, ...] = (
        0.0,
        5.0,
        300.0,
        1800.0,
        7200.0,
        18000.0,
        36000.0,
        36000.0,
    )
    webhook_timeout: float = 15.0
    webhook_connect_timeout: float = 5.0
    webhook_max_in_flight: int = 4
    webhook_disable_after: float = 5 * 86400.0
    ingest_workers: int = -1

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from the environment, with non-None ``overrides`` (flags) on top."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = _env(f.name)
            if raw is not None:
                values[f.name] = _coerce(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _coerce(name: str, raw: str) -> object:
    if name in (
        "port",
        "max_body_bytes",
        "max_batch_bytes",
        "webhook_max_in_flight",
        "ingest_workers",
    ):
        return int(raw)
    if name in (
        "rate_limit",
        "flush_interval",
        "session_timeout",
        "webhook_timeout",
        "webhook_connect_timeout",
        "webhook_disable_after",
    ):
        return float(raw)
    if name == "webhook_allow_subnets":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name == "webhook_schedule":
        return tuple(float(part) for part in raw.split(",") if part.strip())
    if name in ("cluster", "trust_proxy_headers", "webhook_allow_http"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name in ("data_dir", "geoip_db"):
        return Path(raw) if raw else None
    return raw or None
