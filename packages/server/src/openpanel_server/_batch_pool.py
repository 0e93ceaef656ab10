"""Ingestion worker processes: the stateless half of large batches, off the owner's GIL.

One process owns the data (the write-ahead log, live sessions, idempotency ids, the store), so
ingestion cannot simply fork N servers. What can move is the CPU-heavy, stateless half of a
``/track/batch`` request: inflating, parsing and validating the body, and preparing each
``track`` item (:func:`openpanel_server._batch.triage`). A large batch's bytes go to a worker;
the owner gets the prepared items back and only commits them.

Workers are started with ``spawn`` (never ``fork``: the owner runs threads and an embedded
database), lazily on the first large batch, and used once they answered a warm-up call; until
then, and whenever a worker fails, the owner does the work itself, so no request waits for a
worker or is lost with one.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from openpanel_server._batch import BatchContext, Outcome, inflate, parse_batch, triage
from openpanel_server._geo import Geo, GeoLookup

__all__ = ["BatchPool", "auto_workers", "prepare_body"]

_geo: Callable[[str], Geo] | None = None
_PR_SET_PDEATHSIG = 1


def auto_workers() -> int:
    """The default worker count: one core is the owner's; at most 4."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the owner dies (even by ``kill -9``)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the owner died before prctl: do not linger
            os._exit(0)


def _init_worker(geo_path: str | None) -> None:
    global _geo  # one lookup per worker process
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner shuts the pool down
    _geo = GeoLookup(Path(geo_path) if geo_path else None).lookup
    # As in the owner: startup objects leave the collector's view and young collections run
    # less often (a batch allocates many short-lived, acyclic objects); about a fifth of a
    # worker's time otherwise.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _ping() -> int:
    return os.getpid()


def prepare_body(body: bytes, gzipped: bool, limit: int, ctx: BatchContext) -> list[Outcome]:
    """In a worker: the body's items, triaged and prepared.

    Raises:
        openpanel_server._batch.BodyError: The body is refused as a whole (400 or 413).
    """
    if gzipped:
        body = inflate(body, limit)
    return triage(parse_batch(body), ctx, _geo or _no_geo)


def _no_geo(ip: str) -> Geo:
    return Geo()


class BatchPool:
    """A lazily started pool of ingestion worker processes (thread-safe)."""

    def __init__(self, workers: int, geo_path: Path | None = None) -> None:
        """Describe the pool; nothing starts before :meth:`available` is first called.

        Args:
            workers: Worker processes (0 turns the pool off).
            geo_path: The geo database the workers open, if any.
        """
        self._workers = workers
        self._geo_path = str(geo_path) if geo_path is not None else None
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False
        self._closed = False

    def available(self) -> ProcessPoolExecutor | None:
        """The pool once its workers answered; None before (starting them) or when off."""
        if self._workers <= 0:
            return None
        with self._lock:
            if self._closed:
                return None
            if self._pool is None:
                self._start()
            return self._pool if self._ready else None

    def _start(self) -> None:
        pool = ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._geo_path,),
        )
        self._pool, self._ready = pool, False
        pending = [pool.submit(_ping) for _ in range(self._workers)]
        left = [len(pending)]

        def warmed(future: Future[int]) -> None:
            with self._lock:
                if self._pool is not pool:
                    return
                if future.cancelled() or future.exception() is not None:
                    self._drop(pool)
                    return
                left[0] -= 1
                if left[0] == 0:
                    self._ready = True

        for future in pending:
            future.add_done_callback(warmed)

    def failed(self, pool: ProcessPoolExecutor) -> None:
        """A call on ``pool`` failed (a worker died): drop it; the next call starts anew."""
        with self._lock:
            if self._pool is pool:
                self._drop(pool)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        self._pool, self._ready = None, False
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (idempotent); later calls get no pool."""
        with self._lock:
            self._closed = True
            pool, self._pool, self._ready = self._pool, None, False
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
