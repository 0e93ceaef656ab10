"""The threaded client: a sender thread fills jobs, a few worker threads deliver them."""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import time
from collections.abc import Generator
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from openpanel_core._base import ClientCore, live_clients
from openpanel_core._config import ClientOptions
from openpanel_core._delivery import Send, Sleep, deliver
from openpanel_core._encode import Outgoing
from openpanel_core._errors import TransportError
from openpanel_core._guard import call_reporting, guarded, suppress_internal_errors
from openpanel_core._transport.base import Response, Transport
from openpanel_core._transport.httpx import HttpxTransport

__all__ = ["OpenPanel", "run_plan_blocking"]

_STOP: list[Outgoing] = []
logger = logging.getLogger("openpanel_core")


def run_plan_blocking(
    plan: Generator[Send | Sleep, Any, None],
    transport: Transport,
    *,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Drive a delivery plan with blocking I/O (sender workers, ``sync_mode``, exit drain)."""
    result: Any = None
    while True:
        try:
            action = plan.send(result)
        except StopIteration:
            return
        if isinstance(action, Send):
            results: list[Response | TransportError] = []
            for request in action.requests:
                r = call_reporting("transport", transport.send, request, expected=TransportError)
                if isinstance(r, Exception) and not isinstance(r, TransportError):
                    r = TransportError(f"transport failed: {type(r).__name__}")
                results.append(r)
            result = results
        else:
            wait = action.seconds
            if deadline is not None and time.monotonic() + wait > deadline:
                result = False
            elif stop is not None:
                result = not stop.wait(wait)
            else:
                time.sleep(wait)
                result = True


class OpenPanel(ClientCore):
    """OpenPanel client for threaded code (Django, Flask, workers, scripts).

    ``track()`` and friends only append to an in-memory queue; a daemon sender thread batches,
    compresses and sends with ``max_in_flight`` requests in flight, retrying failures. Use it
    as a context manager, or call :meth:`shutdown` (also run at interpreter exit within
    ``shutdown_timeout``). Safe across ``os.fork()``: a child process starts its own sender.

    Args:
        client_id: The project's client id (env ``OPENPANEL_CLIENT_ID``); required unless
            the client is disabled.
        client_secret: The client secret, for server-side callers (env
            ``OPENPANEL_CLIENT_SECRET``). Never logged, never sent to a browser.
        transport: What sends the requests: a :class:`Transport`, an object with
            ``send(Request) -> Response`` and ``close()``. Default :class:`HttpxTransport`; use
            :class:`RequestsTransport` for apps standardised on requests.
            (:class:`AsyncOpenPanel` takes an :class:`AsyncTransport`.)
        **options: The client's other keyword options, the keys of
            [`ClientOptions`][openpanel_core.ClientOptions], which describes each one: where
            to send (``api_url``), switches (``disabled``, ``sync_mode``, ``debug``), hooks
            (``before_send``, ``on_error``), ``global_properties``, batching, queue and retry
            limits (``flush_at``, ``max_queue_size``, ``max_retries``, ...), the durable spool
            (``persist_path``), device and session (``device_id``, ``session_timeout``) and
            ``shutdown_timeout``.

    Raises:
        ConfigurationError: No ``client_id`` (and not disabled), or an invalid option
            (``api_url`` not http(s), a size limit below 1, a non-positive ``timeout`` or
            ``flush_interval``). The client's calls (``track`` and the rest) never raise.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        transport: Transport | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(client_id, client_secret, **options)
        self.transport: Transport = transport or HttpxTransport(max_connections=self.max_in_flight)
        self._init_threads()

    def _init_threads(self) -> None:
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition(threading.Lock())
        self._jobs: queue.Queue[list[Outgoing]] = queue.Queue(maxsize=self.max_in_flight)
        self._workers: list[threading.Thread] = []
        self._busy = 0
        self._sender: threading.Thread | None = None
        self._deadline: float | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    def _start(self) -> None:
        with suppress_internal_errors("start"):
            if self.sync_mode:
                self._send_now()
                return
            with self._lock:
                if not self._sender_missing:
                    return
                self._sender_missing = False
            self._sender = threading.Thread(
                target=self._sender_loop, name="openpanel-sender", daemon=True
            )
            self._sender.start()
            _warn_if_threads_disabled()

    def _wake(self) -> None:
        self._wake_pending = True
        self._wakeup.set()

    def _notify_idle(self) -> None:
        with self._idle:
            self._idle.notify_all()

    def _pending(self) -> bool:
        return bool(self._queue) or self._n_in_flight > 0 or bool(self._recovered)

    @guarded("flush", default=False)
    def flush(self, timeout: float | None = 10.0) -> bool:
        """Send everything queued now; wait until it is settled or ``timeout`` passed.

        Args:
            timeout: Seconds to wait at most; None waits until everything is settled.

        Returns:
            True when nothing is left queued or in flight.
        """
        if self._pid_changed():
            self._reset_after_fork()
        if self.sync_mode or self.disabled:
            if self.sync_mode:
                self._send_now()
            return not self._pending()
        if self._sender_missing and self._pending():
            self._start()
        self._wake()
        end = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending():
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._idle.wait(0.05 if remaining is None else min(remaining, 0.05))
        return not self._pending()

    @guarded("shutdown", default=False)
    def shutdown(self, timeout: float | None = 10.0) -> bool:
        """Flush within ``timeout``, then stop the threads and close the transport.

        Events tracked afterwards are ignored. Safe to call more than once.

        Args:
            timeout: Seconds the final flush may take; None waits until everything is settled.

        Returns:
            True when everything queued was settled before the deadline.
        """
        if self._closed:
            return not self._pending()
        self._deadline = None if timeout is None else time.monotonic() + timeout
        done = self.flush(timeout)
        if not done:
            logger.warning(
                "openpanel: shutting down with %d event(s) not delivered (%d queued, %d in flight)",
                len(self._queue) + self._n_in_flight,
                len(self._queue),
                self._n_in_flight,
            )
        self._accepting = False
        self._closed = True
        self._stop.set()
        self._wakeup.set()
        for _ in self._workers:
            try:
                self._jobs.put_nowait(_STOP)
            except queue.Full:
                break
        # Threads are daemons: join only within what is left of the budget (a worker stuck in
        # a request to a hanging server must not stretch the caller's timeout).
        for t in [self._sender, *self._workers]:
            left = 0.2 if self._deadline is None else self._deadline - time.monotonic()
            if left <= 0:
                break
            if t is not None and t is not threading.current_thread():
                t.join(min(left, 0.2))
        with suppress_internal_errors("close", background=True):
            self.transport.close()
        if self.spool is not None:
            with suppress_internal_errors("close", background=True):
                self.spool.close()
        return done

    def close(self) -> None:
        """Same as :meth:`shutdown` with the client's ``shutdown_timeout``."""
        self.shutdown(self.shutdown_timeout)

    def __enter__(self) -> OpenPanel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(self.shutdown_timeout)

    def _pid_changed(self) -> bool:
        import os

        return os.getpid() != self._pid

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._init_threads()
        after_fork = getattr(self.transport, "after_fork", None)
        if callable(after_fork):
            after_fork()

    # ------------------------------------------------------------------ threads

    def _sender_loop(self) -> None:
        while True:
            with suppress_internal_errors("sender", background=True):
                self._wakeup.wait(self.flush_interval)
                self._wakeup.clear()
                for job in self._take_jobs():
                    self._dispatch(job)
            if self._stop.is_set() and not self._queue:
                return

    def _dispatch(self, job: list[Outgoing]) -> None:
        if self._busy >= len(self._workers) and len(self._workers) < self.max_in_flight:
            t = threading.Thread(target=self._worker_loop, name="openpanel-worker", daemon=True)
            self._workers.append(t)
            t.start()
        while True:
            try:
                self._jobs.put(job, timeout=0.1)
                return
            except queue.Full:
                self._update_byte_bound()  # the queue keeps growing while we wait
                if self._deadline is not None and time.monotonic() > self._deadline:
                    self._failed_for_now(job)
                    return

    def _failed_for_now(self, job: list[Outgoing]) -> None:
        from openpanel_core._errors import DeliveryError

        self._failed(job, DeliveryError("shutdown deadline passed before sending"), False)

    def _worker_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            with self._lock:
                self._busy += 1
            try:
                with suppress_internal_errors("delivery", background=True):
                    run_plan_blocking(
                        deliver(job, self.delivery),
                        self.transport,
                        deadline=self._deadline,
                        stop=self._stop,
                    )
            finally:
                with self._lock:
                    self._busy -= 1

    def _send_now(self) -> None:
        """sync_mode: deliver what is queued on the caller's thread."""
        for job in self._take_jobs():
            run_plan_blocking(deliver(job, self.delivery), self.transport)


_uwsgi_checked = False


def _warn_if_threads_disabled() -> None:
    """Say once when uWSGI runs without --enable-threads (no background threads run)."""
    global _uwsgi_checked
    if _uwsgi_checked or "uwsgi" not in sys.modules:
        return
    _uwsgi_checked = True
    opt = getattr(sys.modules["uwsgi"], "opt", {})
    if not opt.get("enable-threads") and not opt.get("threads"):
        logger.warning(
            "openpanel: uWSGI runs without --enable-threads, so events are sent only by "
            "flush()/shutdown() or in sync_mode; add enable-threads = true to your uWSGI config"
        )


def _drain_at_exit() -> None:
    for client in live_clients():
        if isinstance(client, OpenPanel) and not client._closed:  # pyright: ignore[reportPrivateUsage]
            with suppress_internal_errors("exit", background=True):
                client.shutdown(client.shutdown_timeout)


atexit.register(_drain_at_exit)
