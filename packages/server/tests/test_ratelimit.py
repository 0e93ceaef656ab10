from __future__ import annotations

from openpanel_server._ratelimit import RateLimiter


def test_bucket_allows_bursts_then_asks_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(5, clock=lambda: now[0])
    assert all(limiter.check("c") == 0.0 for _ in range(10))  # a 2-second burst
    wait = limiter.check("c")
    assert 0.19 < wait <= 0.2
    assert RateLimiter.retry_after(wait) == "1"
    assert limiter.check("other") == 0.0, "buckets are per client"
    now[0] += 0.2
    assert limiter.check("c") == 0.0
    assert limiter.check("c") > 0


def test_zero_rate_is_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.check("c") == 0.0 for _ in range(1000))
