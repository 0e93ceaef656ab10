"""Row types written to the event store.

Field names equal the ClickHouse column names (OpenPanel schema, protocol note 2.9), so the
insert code can read the columns from the allow-listed schema and ``getattr`` them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "BotEventRow",
    "EventRow",
    "GroupRow",
    "ProfileRow",
    "ReplayChunkRow",
    "SessionRow",
]


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        msg = f"{name} must be a timezone-aware datetime (UTC), got a naive one"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    """One row of the ``events`` table.

    ``id`` is our idempotency id (32 hex characters or a client-supplied string), not a UUID.
    ``created_at`` and ``imported_at`` must be timezone aware; they are stored in UTC.
    """

    id: str
    project_id: str
    name: str
    created_at: datetime
    device_id: str = ""
    profile_id: str = ""
    session_id: str = ""
    path: str = ""
    origin: str = ""
    referrer: str = ""
    referrer_name: str = ""
    referrer_type: str = ""
    revenue: int = 0
    duration: int = 0
    properties: dict[str, str] = field(default_factory=dict[str, str])
    groups: list[str] = field(default_factory=list[str])
    country: str = ""
    city: str = ""
    region: str = ""
    longitude: float | None = None
    latitude: float | None = None
    os: str = ""
    os_version: str = ""
    browser: str = ""
    browser_version: str = ""
    device: str = ""
    brand: str = ""
    model: str = ""
    sdk_name: str = ""
    sdk_version: str = ""
    imported_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
        _require_aware("imported_at", self.imported_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileRow:
    """One version of a profile (``profiles``, ReplacingMergeTree on ``last_seen_at``)."""

    id: str
    project_id: str
    created_at: datetime
    last_seen_at: datetime
    is_external: bool = False
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    avatar: str = ""
    properties: dict[str, str] = field(default_factory=dict[str, str])
    groups: list[str] = field(default_factory=list[str])

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
        _require_aware("last_seen_at", self.last_seen_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRow:
    """One version of a group (``groups``, ReplacingMergeTree on ``(version, deleted)``)."""

    id: str
    project_id: str
    created_at: datetime
    version: int
    type: str = ""
    name: str = ""
    properties: dict[str, str] = field(default_factory=dict[str, str])
    deleted: bool = False

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRow:
    """One ``sessions`` row (VersionedCollapsingMergeTree(sign, version)).

    A session update is written as two rows: the previous state with ``sign=-1`` and the
    previous ``version``, and the new state with ``sign=1`` and a higher ``version``.
    """

    id: str
    project_id: str
    created_at: datetime
    ended_at: datetime
    version: int
    sign: int = 1
    profile_id: str = ""
    device_id: str = ""
    groups: list[str] = field(default_factory=list[str])
    is_bounce: bool = True
    entry_origin: str = ""
    entry_path: str = ""
    exit_origin: str = ""
    exit_path: str = ""
    screen_view_count: int = 0
    revenue: float = 0.0
    event_count: int = 0
    duration: int = 0
    country: str = ""
    region: str = ""
    city: str = ""
    longitude: float | None = None
    latitude: float | None = None
    device: str = ""
    brand: str = ""
    model: str = ""
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    utm_medium: str = ""
    utm_source: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    utm_term: str = ""
    referrer: str = ""
    referrer_name: str = ""
    referrer_type: str = ""
    properties: dict[str, str] = field(default_factory=dict[str, str])

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
        _require_aware("ended_at", self.ended_at)
        if self.sign not in (1, -1):
            msg = f"sign must be 1 or -1, got {self.sign!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayChunkRow:
    """One chunk of a browser session recording (``session_replay_chunks``)."""

    project_id: str
    session_id: str
    chunk_index: int
    started_at: datetime
    ended_at: datetime
    events_count: int
    is_full_snapshot: bool
    payload: str

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)
        _require_aware("ended_at", self.ended_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class BotEventRow:
    """One ``events_bots`` row (a request recognised as a bot)."""

    id: str
    project_id: str
    name: str
    created_at: datetime
    type: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
