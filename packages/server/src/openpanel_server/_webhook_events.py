"""Which webhook messages durable records trigger, and their bodies (serialised once).

The flusher hands every batch of write-ahead-log records to :meth:`WebhookRouter.collect`
before it checkpoints the log. Each record subscribed to by an enabled endpoint becomes one
message whose id is derived from the endpoint, the event type and the record's own id (the
event id, the session id, or the log sequence number of a profile write), so replaying the log
after a crash produces the same ids, and the database keeps the first copy only.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpanel_server import _fastjson as fastjson
from openpanel_server._store._export import to_camel

__all__ = [
    "EVENT_TYPES",
    "PROFILE_UPDATE_MARK",
    "NewMessage",
    "Subscription",
    "WebhookRouter",
    "message_id",
]

#: Every event type an endpoint can subscribe to, with what triggers it.
EVENT_TYPES: Mapping[str, str] = {
    "event.created": "an event was stored (any name but session_start/session_end)",
    "session.started": "a session started (its session_start event)",
    "session.ended": "a session ended (duration, screen views, bounce, entry and exit)",
    "profile.identified": "a profile was identified (identify, or a track with __identify)",
    "profile.updated": "a profile property was incremented/decremented, or groups assigned",
}

#: Key that ``Server.ingest`` sets on profile records of increment/decrement/assign_group
#: (``profile.updated``); profile records without it come from an identification. The
#: flusher drops it before the row reaches the store.
PROFILE_UPDATE_MARK = "_webhook_type"


def message_id(endpoint_id: str, event_type: str, source_id: str) -> str:
    """The message id (``webhook-id``) of one record for one endpoint: stable across crashes."""
    digest = hashlib.sha256(f"{endpoint_id}\n{event_type}\n{source_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


@dataclass(frozen=True, slots=True)
class Subscription:
    """An enabled endpoint, as the router needs it.

    Attributes:
        endpoint_id: The endpoint.
        event_types: The types it receives (empty: all).
        event_names: For ``event.created``: only these event names (empty: all).
    """

    endpoint_id: str
    event_types: frozenset[str]
    event_names: frozenset[str]

    def wants(self, event_type: str, name: str | None) -> bool:
        """Whether this endpoint receives ``event_type`` (with event ``name``, if any)."""
        if self.event_types and event_type not in self.event_types:
            return False
        return not (
            event_type == "event.created" and self.event_names and name not in self.event_names
        )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store: its id, endpoint, type, source record id, and body bytes."""

    id: str
    endpoint_id: str
    event_type: str
    source_id: str
    body: bytes


def _utc(value: object) -> object:
    if isinstance(value, str) and value.endswith("+00:00"):
        return value[:-6] + "Z"
    return value


def _camel(row: Mapping[str, Any], drop: Iterable[str] = ()) -> dict[str, Any]:
    skip = set(drop)
    return {
        to_camel(k): (_utc(v) if k.endswith("_at") else v)
        for k, v in row.items()
        if k not in skip and not k.startswith("_")
    }


def _classify(
    seq: int, kind: str, row: Mapping[str, Any]
) -> tuple[str, str, str | None, str, dict[str, Any]] | None:
    """(event type, source id, event name, timestamp, data) of one record, or None."""
    if kind == "event":
        name = str(row.get("name", ""))
        if name == "session_start":
            event_type = "session.started"
        elif name == "session_end":
            return None  # session.ended is sent from the session row (it has the totals)
        else:
            event_type = "event.created"
        data = _camel(row, ("imported_at",))
        return event_type, str(row.get("id", "")), name, str(data.get("createdAt", "")), data
    if kind == "session":
        data = _camel(row, ("sign", "version"))
        return "session.ended", str(row.get("id", "")), None, str(data.get("endedAt", "")), data
    if kind == "profile":
        event_type = str(row.get(PROFILE_UPDATE_MARK) or "profile.identified")
        data = _camel(row)
        # Profile writes have no id of their own: the log position identifies the write.
        return event_type, f"wal:{seq}", None, str(data.get("lastSeenAt", "")), data
    return None


def _body(event_type: str, timestamp: str, data: dict[str, Any]) -> bytes:
    return fastjson.dumps({"type": event_type, "timestamp": timestamp, "data": data})


class WebhookRouter:
    """Maps durable records to messages for the enabled endpoints of their project.

    The subscriptions are cached and reloaded when ``version()`` changes (SQLite's
    ``data_version``: any commit by another connection or process, such as the CLI) or after
    :meth:`invalidate` (changes through this process's API).
    """

    def __init__(
        self,
        load: Any,
        version: Any,
    ) -> None:
        """Build the router.

        Args:
            load: ``() -> Mapping[project_id, Sequence[Subscription]]`` of enabled endpoints.
            version: ``() -> int``, changing when the endpoints may have changed.
        """
        self._load = load
        self._version = version
        self._lock = threading.Lock()
        self._cache: Mapping[str, Sequence[Subscription]] | None = None
        self._seen_version: int | None = None

    def invalidate(self) -> None:
        """Reload the subscriptions before the next batch."""
        with self._lock:
            self._cache = None

    def subscriptions(self) -> Mapping[str, Sequence[Subscription]]:
        """The enabled endpoints by project (reloaded when the database changed)."""
        with self._lock:
            version = self._version()
            cache = self._cache
            if cache is None or version != self._seen_version:
                cache = self._cache = self._load()
                self._seen_version = version
            return cache

    def collect(self, records: Iterable[tuple[int, Sequence[Any]]]) -> list[NewMessage]:
        """The messages that ``(log seq, [kind, row])`` records trigger."""
        subs = self.subscriptions()
        if not subs:
            return []
        out: list[NewMessage] = []
        for seq, (kind, row) in records:
            project = subs.get(str(row.get("project_id", "")))
            if not project:
                continue
            found = _classify(seq, kind, row)
            if found is None:
                continue
            event_type, source_id, name, timestamp, data = found
            body: bytes | None = None
            for sub in project:
                if not sub.wants(event_type, name):
                    continue
                if body is None:
                    body = _body(event_type, timestamp, data)
                out.append(
                    NewMessage(
                        message_id(sub.endpoint_id, event_type, source_id),
                        sub.endpoint_id,
                        event_type,
                        source_id,
                        body,
                    )
                )
        return out
