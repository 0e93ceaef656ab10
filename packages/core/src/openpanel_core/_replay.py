"""An in-memory replay store for webhook message ids, usable as ``Verifier(seen=...)``.

Why the ids must be kept for at least twice the tolerance: a message signed at ``T`` verifies
while the receiver's clock is within ``[T - tolerance, T + tolerance]``. Its first delivery can
come at the very start of that window, and a replay at the very end, ``2 * tolerance`` later.
An id forgotten sooner could be replayed once more inside the window; one kept longer costs only
memory, because after the window the timestamp check refuses the message anyway.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["ReplayCache"]


class ReplayCache:
    """Remembers processed webhook ids for ``ttl`` seconds; a replay store for `Verifier`.

    Calling the cache with an id records it and answers whether it was already there, which is
    the ``seen`` contract of `Verifier`::

        replays = ReplayCache()  # ttl 600 s: twice the default 300 s tolerance
        verifier = Verifier(os.environ["OPENPANEL_WEBHOOK_SECRET"], seen=replays)

        message = verifier.verify(body, headers)  # a second delivery raises ReplayedMessageError
        try:
            process(message)
        except Exception:
            replays.forget(message.id)  # the sender retries a failed delivery: let it in
            raise

    Each call and `forget` are O(1) (expired ids are dropped oldest first, each once) and
    thread-safe (one lock, held for a few dictionary operations), so one instance can serve every
    thread and event loop of a process. The cache is bounded: past ``maxsize`` live ids the
    oldest is evicted, so size it above the number of deliveries you expect per ``ttl``
    (100 000 ids of 36 characters take about 20 MB).

    It protects **one process** only. A deployment with several worker processes or hosts gets
    a replay through any worker that did not see the first delivery; give it a shared store
    instead, any callable with the same contract, for example on Redis (``SET NX EX`` records
    the id and reports in one atomic step)::

        import redis

        r = redis.Redis()


        def seen(message_id: str) -> bool:
            return not r.set(f"webhook:{message_id}", 1, nx=True, ex=660)


        verifier = Verifier(secret, seen=seen)

    Args:
        ttl: Seconds an id is remembered after its first delivery: at least twice the
            verification tolerance (see the module docstring); a little more absorbs wall-clock
            adjustments, as the framework integrations do with ``2 * tolerance + 60``.
        maxsize: The most ids kept; the oldest is evicted beyond it.
        clock: Seconds from a monotonic clock (injectable for tests).

    Raises:
        TypeError: ``ttl`` is not a number or ``maxsize`` not an int.
        ValueError: ``ttl`` is not positive and finite, or ``maxsize`` is below 1.
    """

    __slots__ = ("_clock", "_entries", "_lock", "_maxsize", "_ttl")

    def __init__(
        self,
        ttl: float = 600.0,
        maxsize: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
            raise TypeError("ttl must be a number of seconds")
        if not (math.isfinite(ttl) and ttl > 0):
            raise ValueError("ttl must be a positive, finite number of seconds")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError("maxsize must be an int")
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._ttl = float(ttl)
        self._maxsize = maxsize
        self._clock = clock
        # id -> expiry, oldest first. The ttl is fixed and the clock monotonic, so insertion
        # order is also expiry order: expired ids are always at the front.
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReplayCache(ttl={self._ttl:g}, maxsize={self._maxsize}, size={len(self)})"

    @property
    def ttl(self) -> float:
        """Seconds an id is remembered."""
        return self._ttl

    @property
    def maxsize(self) -> int:
        """The most ids kept."""
        return self._maxsize

    def __call__(self, message_id: str) -> bool:
        """Record ``message_id``; True when it was recorded already (a replay).

        The expiry counts from the first delivery: a replay does not extend it.

        Args:
            message_id: The verified message id.

        Returns:
            True when the id is already known and not expired, else False (now recorded).

        Raises:
            TypeError: ``message_id`` is not a str.
        """
        if not isinstance(message_id, str):
            raise TypeError("message_id must be a str")
        with self._lock:
            now = self._clock()
            self._expire(now)
            entries = self._entries
            if message_id in entries:
                return True
            entries[message_id] = now + self._ttl
            if len(entries) > self._maxsize:
                entries.popitem(last=False)
            return False

    def forget(self, message_id: str) -> None:
        """Release ``message_id`` (its processing failed), so a retry is accepted.

        Args:
            message_id: An id passed to the cache before; unknown ids are ignored.
        """
        with self._lock:
            self._entries.pop(message_id, None)

    def clear(self) -> None:
        """Forget every id."""
        with self._lock:
            self._entries.clear()

    def __contains__(self, message_id: object) -> bool:
        """Whether ``message_id`` is remembered (without recording it)."""
        with self._lock:
            self._expire(self._clock())
            return message_id in self._entries

    def __len__(self) -> int:
        """The number of ids remembered (expired ones included until the next call)."""
        return len(self._entries)

    def _expire(self, now: float) -> None:
        """Drop the ids whose expiry has passed; they are all at the front."""
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if entries[oldest] >= now:
                return
            del entries[oldest]
