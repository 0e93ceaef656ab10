"""Idempotency memory: one owner per id, copies wait for the original's outcome."""

from __future__ import annotations

import threading
import time

from openpanel_server._server import _RecentIds  # pyright: ignore[reportPrivateUsage]


def test_a_copy_waits_for_the_original_then_sees_it_stored() -> None:
    ids = _RecentIds()
    assert ids.claim("p", "a") is True
    outcome: list[bool] = []
    copy = threading.Thread(target=lambda: outcome.append(ids.claim("p", "a")))
    copy.start()
    time.sleep(0.1)
    assert outcome == [], "the copy is not answered before the original is durable"
    ids.commit("p", ["a"])
    copy.join(5)
    assert outcome == [False]
    assert ids.claim("p", "a") is False
    assert ids.claim("other-project", "a") is True


def test_a_copy_takes_over_when_the_original_fails() -> None:
    ids = _RecentIds()
    assert ids.claim("p", "b") is True
    outcome: list[bool] = []
    copy = threading.Thread(target=lambda: outcome.append(ids.claim("p", "b")))
    copy.start()
    time.sleep(0.1)
    ids.release("p", ["b"])
    copy.join(5)
    assert outcome == [True], "the copy now stores the item itself"


def test_memory_is_bounded() -> None:
    ids = _RecentIds(limit=3)
    for name in "wxyz":
        ids.add("p", name)
    assert not ids.seen("p", "w")
    assert ids.seen("p", "z")


def test_at_least_the_newest_half_is_remembered_and_at_most_the_limit() -> None:
    import gc

    ids = _RecentIds(limit=1000)
    for i in range(10_000):
        ids.add("p", str(i))
        assert ids.seen("p", str(i))
        assert ids.seen("p", str(max(0, i - 499)))  # the newest limit/2 always
        if i >= 1000:
            assert not ids.seen("p", str(i - 1000))  # never more than the limit
    assert not ids.seen("q", "9999")  # per project
    # Plain dicts of strings: nothing for the cyclic collector to walk.
    assert not gc.is_tracked(ids._ids)  # pyright: ignore[reportPrivateUsage]
    assert not gc.is_tracked(ids._older)  # pyright: ignore[reportPrivateUsage]
