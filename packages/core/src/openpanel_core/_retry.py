"""Retry policy: which failures are retried, and how long to wait."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "is_retryable_status", "parse_retry_after"]


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx are worth another attempt; other statuses are final."""
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Jittered exponential backoff bounded by attempts and by total time.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        max_retry_time: Seconds a batch may spend from its first attempt to its last.
        initial_delay: The first backoff, in seconds, before jitter.
        max_delay: The largest backoff, in seconds, before ``Retry-After`` is applied.
        max_retry_after: The largest ``Retry-After`` honoured, in seconds.
    """

    max_retries: int = 5
    max_retry_time: float = 120.0
    initial_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def delay(
        self, retry: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        Equal jitter (half fixed, half random), never less than ``Retry-After``.
        """
        base = min(self.max_delay, self.initial_delay * (2**retry))
        jitter = (rng or random).random()
        d = base / 2 + base / 2 * jitter
        if retry_after is not None:
            d = max(d, min(retry_after, self.max_retry_after))
        return d
