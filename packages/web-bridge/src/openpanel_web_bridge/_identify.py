"""Identify a logged-in user once per session, not on every request."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["IdentifyOnce"]


def _fingerprint(properties: Mapping[str, Any] | None) -> str:
    if not properties:
        return ""
    text = json.dumps(properties, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class IdentifyOnce:
    """Process-local memory of the profiles identified recently, thread-safe.

    A (profile id, properties fingerprint) pair is identified again once ``ttl`` seconds have
    passed, or as soon as its properties change. At most ``maxsize`` pairs are kept; the least
    recently seen go first.

    Args:
        ttl: Seconds a pair is remembered (30 minutes: OpenPanel's session timeout).
        maxsize: Most pairs remembered.
        clock: A monotonic clock in seconds (injectable for tests).
    """

    __slots__ = ("_clock", "_lock", "_seen", "maxsize", "ttl")

    def __init__(
        self,
        ttl: float = 1800.0,
        maxsize: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.maxsize = max(1, maxsize)
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def should_identify(self, profile_id: str, properties: Mapping[str, Any] | None = None) -> bool:
        """True when this profile (with these properties) was not identified in the last ttl.

        A True answer records the pair: the caller is expected to identify now.

        Args:
            profile_id: The signed-in user's id.
            properties: The profile fields the caller would send (name, email, ...); a change
                of any of them makes the answer True again.

        Returns:
            True when the caller should send ``identify`` now.
        """
        key = (str(profile_id), _fingerprint(properties))
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen < self.ttl:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > self.maxsize:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)
