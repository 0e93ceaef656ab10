"""``ReplayCache``: the in-memory replay store for webhook ids."""

from __future__ import annotations

import threading
import time

import pytest

from openpanel_core.webhooks import (
    ReplayCache,
    ReplayedMessageError,
    Verifier,
    generate_secret,
    sign,
)


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_delivery_is_new_and_the_second_a_replay() -> None:
    cache = ReplayCache()
    assert cache("msg_1") is False
    assert cache("msg_1") is True
    assert cache("msg_1") is True
    assert cache("msg_2") is False
    assert len(cache) == 2
    assert "msg_1" in cache and "msg_3" not in cache
    assert "msg_3" not in cache  # a membership test records nothing
    assert cache("msg_3") is False


def test_ids_expire_after_the_ttl_counted_from_the_first_delivery() -> None:
    clock = Clock()
    cache = ReplayCache(ttl=10, clock=clock)
    assert cache("a") is False
    clock.now += 6
    assert cache("a") is True  # a replay does not extend the expiry
    assert cache("b") is False
    clock.now += 4  # exactly ttl after "a": still remembered (the tolerance is inclusive)
    assert cache("a") is True
    clock.now += 0.001
    assert "a" not in cache
    assert "b" in cache
    assert cache("a") is False  # recorded anew, for another ttl
    clock.now += 6.5
    assert "b" not in cache
    assert cache("a") is True
    assert len(cache) == 1


def test_expired_ids_are_dropped_without_waiting_for_eviction() -> None:
    clock = Clock()
    cache = ReplayCache(ttl=1, maxsize=1000, clock=clock)
    for i in range(500):
        cache(f"old{i}")
    clock.now += 2
    cache("new")
    assert len(cache) == 1


def test_the_oldest_id_is_evicted_at_maxsize() -> None:
    cache = ReplayCache(maxsize=3)
    for name in ("a", "b", "c"):
        assert cache(name) is False
    assert cache("d") is False
    assert len(cache) == 3
    assert "a" not in cache
    assert [name in cache for name in ("b", "c", "d")] == [True, True, True]
    assert cache("a") is False  # evicted, so accepted again; "b" goes now
    assert "b" not in cache


def test_forget_releases_an_id() -> None:
    cache = ReplayCache()
    cache("msg_1")
    cache.forget("msg_1")
    cache.forget("never seen")  # ignored
    assert "msg_1" not in cache
    assert cache("msg_1") is False
    assert cache("msg_1") is True
    cache.clear()
    assert len(cache) == 0


def test_a_forgotten_and_re_recorded_id_keeps_the_expiry_order() -> None:
    clock = Clock()
    cache = ReplayCache(ttl=10, clock=clock)
    cache("a")  # expires at +10
    clock.now += 5
    cache("b")  # +15
    cache.forget("a")
    clock.now += 1
    cache("a")  # +16: now the newest
    clock.now += 9.5  # +15.5
    assert "b" not in cache
    assert "a" in cache
    clock.now += 1
    assert "a" not in cache
    assert len(cache) == 0


def _race(cache: ReplayCache, msg_id: str, threads: int) -> list[bool]:
    """Call ``cache(msg_id)`` from ``threads`` threads released at once."""
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    lock = threading.Lock()

    def deliver() -> None:
        barrier.wait()
        replayed = cache(SlowId(msg_id))
        with lock:
            results.append(replayed)

    workers = [threading.Thread(target=deliver) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return results


class SlowId(str):
    """An id whose hashing lets other threads run, between the lookup and the insertion too.

    Without the lock, every racer would find the id absent and record it.
    """

    __slots__ = ()

    def __hash__(self) -> int:
        time.sleep(0.001)
        return str.__hash__(self)


def test_racing_threads_on_one_id_exactly_one_wins() -> None:
    cache = ReplayCache()
    for round_ in range(20):
        assert sorted(_race(cache, f"msg_{round_}", 8)) == [False] + [True] * 7


def test_many_threads_with_distinct_ids_stay_bounded_and_consistent() -> None:
    cache = ReplayCache(maxsize=1000)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                msg_id = f"{n}-{i}"
                assert cache(msg_id) is False
                if i % 3 == 0:
                    cache.forget(msg_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 1000


def test_it_is_the_verifier_replay_store() -> None:
    secret = generate_secret()
    cache = ReplayCache()
    verifier = Verifier(secret, seen=cache)
    body = b'{"type":"event.created"}'
    headers = sign(body, secret, msg_id="msg_r1")
    assert verifier.verify(body, headers).id == "msg_r1"
    with pytest.raises(ReplayedMessageError) as info:
        verifier.verify(body, headers)
    assert info.value.http_status == 400
    assert info.value.reason == "replayed"
    # A forged copy never reaches the store: only verified ids are recorded.
    forged = {**headers, "webhook-id": "msg_forged"}
    with pytest.raises(Exception, match="signature"):
        verifier.verify(body, forged)
    assert "msg_forged" not in cache
    cache.forget("msg_r1")  # processing failed: the retry is accepted
    assert verifier.verify(body, {**headers}).id == "msg_r1"


def test_the_default_ttl_is_twice_the_default_tolerance() -> None:
    cache = ReplayCache()
    assert cache.ttl == 600.0 == 2 * 300
    assert cache.maxsize == 100_000
    assert repr(cache) == "ReplayCache(ttl=600, maxsize=100000, size=0)"


def test_the_real_clock_is_monotonic_by_default() -> None:
    cache = ReplayCache(ttl=0.05)
    cache("a")
    assert "a" in cache
    time.sleep(0.1)
    assert "a" not in cache


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"ttl": 0}, ValueError),
        ({"ttl": -1.0}, ValueError),
        ({"ttl": float("inf")}, ValueError),
        ({"ttl": float("nan")}, ValueError),
        ({"ttl": "600"}, TypeError),
        ({"ttl": True}, TypeError),
        ({"maxsize": 0}, ValueError),
        ({"maxsize": 1.5}, TypeError),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        ReplayCache(**kwargs)  # pyright: ignore[reportArgumentType]


def test_ids_must_be_str() -> None:
    with pytest.raises(TypeError):
        ReplayCache()(b"msg_1")  # pyright: ignore[reportArgumentType]
