"""Live sessions: 30 minutes of inactivity, as OpenPanel (protocol note section 2.2 and 2.3).

A browser event extends the live session of its device or starts a new one (the server then
writes a ``session_start`` first). Sessions idle for longer than the timeout are closed by
:meth:`SessionTracker.reap`, which returns the ``session_end`` facts (duration, screen views,
bounce, exit path). Server-side events join the live session of their profile when there is one.
"""

from __future__ import annotations

import dataclasses
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LiveSession", "SessionTracker"]


@dataclass(slots=True)
class LiveSession:
    """What the tracker knows about one open session (times in epoch milliseconds)."""

    id: str
    project_id: str
    device_id: str
    profile_id: str
    started_ms: int
    last_ms: int
    last_seen_wall: float
    screen_views: int = 0
    events: int = 0
    entry_path: str = ""
    entry_origin: str = ""
    exit_path: str = ""
    exit_origin: str = ""
    referrer: str = ""
    referrer_name: str = ""
    referrer_type: str = ""
    revenue: int = 0
    first_event: dict[str, object] = field(default_factory=dict[str, object])


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(LiveSession))
_FIELD_VALUES = operator.attrgetter(*_FIELD_NAMES)


class SessionTracker:
    """Thread-safe live-session table keyed by (project, device), with a profile index.

    Args:
        timeout_ms: Inactivity that ends a session.
        new_id: Builds the id of a new session from (project, device, event ms).
    """

    def __init__(self, timeout_ms: int, new_id: Callable[[str, str, int], str]) -> None:
        self.timeout_ms = timeout_ms
        self._new_id = new_id
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], LiveSession] = {}
        self._by_profile: dict[tuple[str, str], tuple[str, str]] = {}
        #: Bumped by every change; the server saves a snapshot when it moved.
        self.changes = 0

    def touch(
        self,
        project_id: str,
        device_id: str,
        event_ms: int,
        wall: float,
        *,
        profile_id: str,
        path: str,
        origin: str,
        screen_view: bool,
        revenue: int,
        referrer: tuple[str, str, str],
    ) -> tuple[LiveSession, bool, LiveSession | None]:
        """Record a browser event.

        Returns:
            (the session, whether it just started, the session it replaced after a gap).
        """
        key = (project_id, device_id)
        with self._lock:
            self.changes += 1
            live = self._live.get(key)
            ended = None
            if live is not None and event_ms - live.last_ms > self.timeout_ms:
                ended, live = live, None
                self._forget(ended)
            started = live is None
            if live is None:
                live = LiveSession(
                    id=self._new_id(project_id, device_id, event_ms),
                    project_id=project_id,
                    device_id=device_id,
                    profile_id=profile_id,
                    started_ms=event_ms,
                    last_ms=event_ms,
                    last_seen_wall=wall,
                    entry_path=path,
                    entry_origin=origin,
                    referrer=referrer[0],
                    referrer_name=referrer[1],
                    referrer_type=referrer[2],
                )
                self._live[key] = live
            live.started_ms = min(live.started_ms, event_ms)
            if event_ms >= live.last_ms:
                live.last_ms = event_ms
                if path:
                    live.exit_path, live.exit_origin = path, origin
            live.last_seen_wall = max(live.last_seen_wall, wall)
            if screen_view and path:
                live.screen_views += 1
            else:
                live.events += 1
            live.revenue += revenue
            if profile_id and profile_id != device_id:
                live.profile_id = profile_id
                self._by_profile[(project_id, profile_id)] = key
            return live, started, ended

    def for_profile(self, project_id: str, profile_id: str, event_ms: int) -> LiveSession | None:
        """The live session a server-side event of this profile joins, if any."""
        with self._lock:
            key = self._by_profile.get((project_id, profile_id))
            live = self._live.get(key) if key else None
            if live is None or event_ms - live.last_ms > self.timeout_ms:
                return None
            return live

    def is_live(self, project_id: str, device_id: str, event_ms: int) -> LiveSession | None:
        """The live session of a device at ``event_ms``, if any."""
        with self._lock:
            live = self._live.get((project_id, device_id))
            if live is None or event_ms - live.last_ms > self.timeout_ms:
                return None
            return live

    def reap(self, wall: float) -> list[LiveSession]:
        """Close and return the sessions whose last event arrived more than the timeout ago."""
        limit = self.timeout_ms / 1000.0
        with self._lock:
            done = [s for s in self._live.values() if wall - s.last_seen_wall > limit]
            for s in done:
                self._forget(s)
            if done:
                self.changes += 1
        return done

    def _forget(self, session: LiveSession) -> None:
        self._live.pop((session.project_id, session.device_id), None)
        if session.profile_id:
            key = (session.project_id, session.profile_id)
            if self._by_profile.get(key) == (session.project_id, session.device_id):
                del self._by_profile[key]

    def snapshot(self) -> tuple[int, list[dict[str, object]]]:
        """The change count and every live session as plain data (saved, restored at start).

        Only the field values are read under the lock (about 0.3 µs a session); the dicts are
        built after it is released, so a large snapshot never holds up ingestion.
        """
        with self._lock:
            changes = self.changes
            values = [_FIELD_VALUES(s) for s in self._live.values()]
        return changes, [dict(zip(_FIELD_NAMES, row, strict=True)) for row in values]

    def restore(self, sessions: list[dict[str, Any]]) -> int:
        """Put saved sessions back (the reaper closes those idle too long, as usual)."""
        restored = 0
        with self._lock:
            for data in sessions:
                s = LiveSession(**data)
                self._live[(s.project_id, s.device_id)] = s
                if s.profile_id and s.profile_id != s.device_id:
                    self._by_profile[(s.project_id, s.profile_id)] = (s.project_id, s.device_id)
                restored += 1
        return restored

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)
