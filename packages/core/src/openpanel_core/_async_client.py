"""The asyncio client: same calls, a sender task instead of threads."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import threading
import time
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from openpanel_core._base import ClientCore, live_clients
from openpanel_core._client import run_plan_blocking
from openpanel_core._config import ClientOptions
from openpanel_core._delivery import Send, Sleep, deliver
from openpanel_core._encode import Outgoing
from openpanel_core._errors import DeliveryError, TransportError
from openpanel_core._guard import acall_reporting, suppress_internal_errors
from openpanel_core._transport.base import AsyncTransport, Response, Transport
from openpanel_core._transport.httpx import AsyncHttpxTransport, HttpxTransport

__all__ = ["AsyncOpenPanel"]


class AsyncOpenPanel(ClientCore):
    """OpenPanel client for asyncio apps (FastAPI, Starlette, aiohttp, workers).

    ``track()`` and friends are plain (non-async) calls that only append to a queue, so they
    cost the same as in :class:`OpenPanel` and may be called from any thread. A sender task on
    the running event loop delivers with ``max_in_flight`` concurrent requests. ``flush`` and
    ``shutdown`` are coroutines; use ``async with AsyncOpenPanel(...) as op:`` or await
    ``shutdown()`` in your lifespan. Whatever is left when the interpreter exits is sent by a
    blocking drain within ``shutdown_timeout``.

    Takes every option of :class:`OpenPanel`; ``transport`` is an :class:`AsyncTransport`
    (default :class:`AsyncHttpxTransport`).

    Args:
        client_id: The project's client id (env ``OPENPANEL_CLIENT_ID``); required unless
            the client is disabled.
        client_secret: The client secret, for server-side callers (env
            ``OPENPANEL_CLIENT_SECRET``). Never logged, never sent to a browser.
        transport: What sends the requests: an :class:`AsyncTransport`, an object with
            ``async send(Request) -> Response`` and ``async aclose()``. Default
            :class:`AsyncHttpxTransport`.
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
        transport: AsyncTransport | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(client_id, client_secret, **options)
        self.transport: AsyncTransport = transport or AsyncHttpxTransport(
            max_connections=self.max_in_flight
        )
        self._init_loop_state()

    def _init_loop_state(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sem: asyncio.Semaphore | None = None
        self._closed = False
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    def _start(self) -> None:
        with suppress_internal_errors("start"):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop in this thread: the items wait for flush() or the exit drain
            if self._task is not None and not self._task.done() and self._loop is loop:
                self._sender_missing = False
                return
            self._loop = loop
            self._loop_thread = threading.get_ident()
            self._event = asyncio.Event()
            self._sem = asyncio.Semaphore(self.max_in_flight)
            self._task = loop.create_task(self._sender_loop(), name="openpanel-sender")
            self._sender_missing = False
            if self._wake_pending or len(self._queue) >= self.flush_at:
                self._event.set()  # a wake-up that came before the sender existed

    def _wake(self) -> None:
        self._wake_pending = True
        event, loop = self._event, self._loop
        if event is None or loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            event.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def _pending(self) -> bool:
        return bool(self._queue) or self._n_in_flight > 0 or bool(self._recovered)

    async def flush(self, timeout: float | None = 10.0) -> bool:
        """Send everything queued now; wait until settled or ``timeout`` passed.

        The sender runs on the running event loop (it is started there when it is not).

        Args:
            timeout: Seconds to wait at most; None waits until everything is settled.

        Returns:
            True when nothing is left queued or in flight.
        """
        with suppress_internal_errors("flush"):
            if self.disabled:
                return True
            if self.sync_mode:
                await self._drain_inline()
                return not self._pending()
            self._ensure_on_this_loop()
            self._wake()
            end = None if timeout is None else time.monotonic() + timeout
            while self._pending():
                if end is not None and time.monotonic() >= end:
                    break
                await asyncio.sleep(0.01)
        return not self._pending()

    async def shutdown(self, timeout: float | None = 10.0) -> bool:
        """Flush within ``timeout``, then stop the sender and close the transport.

        Events tracked afterwards are ignored. Safe to call more than once.

        Args:
            timeout: Seconds the final flush may take; None waits until everything is settled.

        Returns:
            True when everything queued was settled before the deadline.
        """
        if self._closed:
            return not self._pending()
        done = await self.flush(timeout)
        self._accepting = False
        self._closed = True
        self._stopping = True
        with suppress_internal_errors("shutdown"):
            self._wake()
            for t in [self._task, *self._tasks]:
                if t is not None and not t.done():
                    t.cancel()
            await self.transport.aclose()
            if self.spool is not None:
                self.spool.close()
        return done

    async def __aenter__(self) -> AsyncOpenPanel:
        self._ensure_on_this_loop()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown(self.shutdown_timeout)

    def _ensure_on_this_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._sender_missing = True
            self._start()

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._init_loop_state()
        after_fork = getattr(self.transport, "after_fork", None)
        if callable(after_fork):
            after_fork()

    # ------------------------------------------------------------------ the sender task

    async def _sender_loop(self) -> None:
        event, sem = self._event, self._sem
        if event is None or sem is None:  # pragma: no cover - _start sets both first
            return
        while not self._stopping:
            with suppress_internal_errors("sender", background=True):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(event.wait(), self.flush_interval)
                event.clear()
                for job in self._take_jobs():
                    while True:  # wait for a free slot, keeping the byte bound current
                        try:
                            await asyncio.wait_for(sem.acquire(), 0.1)
                            break
                        except asyncio.TimeoutError:
                            self._update_byte_bound()
                    task = asyncio.get_running_loop().create_task(self._deliver(job, sem))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _deliver(self, job: list[Outgoing], sem: asyncio.Semaphore) -> None:
        settled: set[str] = set()

        def delivered(items: Sequence[Outgoing]) -> None:
            settled.update(i.id for i in items)
            self._delivered(items)

        def failed(items: Sequence[Outgoing], exc: DeliveryError, final: bool) -> None:
            settled.update(i.id for i in items)
            self._failed(items, exc, final)

        cfg = dataclasses.replace(self.delivery, on_delivered=delivered, on_failed=failed)
        try:
            with suppress_internal_errors("delivery", background=True):
                await self._run_plan(deliver(job, cfg))
        except asyncio.CancelledError:
            # The loop is closing (asyncio.run ended without shutdown()): keep what was not
            # settled for the exit drain; the idempotency ids make a resend safe.
            rest = [i for i in job if i.id not in settled]
            if rest:
                self._release(rest)
                self._settle(len(rest))
                self._recovered.extend(rest)
            raise
        finally:
            sem.release()

    async def _run_plan(self, plan: Generator[Send | Sleep, Any, None]) -> None:
        result: Any = None
        while True:
            try:
                action = plan.send(result)
            except StopIteration:
                return
            if isinstance(action, Send):
                result = await asyncio.gather(*(self._send_one(r) for r in action.requests))
            else:
                if self._stopping:
                    result = False
                else:
                    await asyncio.sleep(action.seconds)
                    result = True

    async def _send_one(self, request: Any) -> Response | TransportError:
        r = await acall_reporting(
            "transport", self.transport.send, request, expected=TransportError
        )
        if isinstance(r, Exception):
            if isinstance(r, TransportError):
                return r
            return TransportError(f"transport failed: {type(r).__name__}")
        return r

    async def _drain_inline(self) -> None:
        for job in self._take_jobs():
            await self._run_plan(deliver(job, self.delivery))

    def _drain_blocking(self, timeout: float) -> None:
        """At interpreter exit the loop is gone: send what is left with a blocking transport."""
        if not self._pending():
            return
        deadline = time.monotonic() + timeout
        transport: Transport = HttpxTransport(max_connections=1)
        try:
            for job in self._take_jobs():
                if time.monotonic() >= deadline:
                    self._failed(job, TransportError("exit drain budget spent"), False)
                    continue
                run_plan_blocking(deliver(job, self.delivery), transport, deadline=deadline)
        finally:
            transport.close()


def _drain_async_clients_at_exit() -> None:
    for client in live_clients():
        if isinstance(client, AsyncOpenPanel) and not client._closed:  # pyright: ignore[reportPrivateUsage]
            with suppress_internal_errors("exit", background=True):
                client._drain_blocking(client.shutdown_timeout)  # pyright: ignore[reportPrivateUsage]


atexit.register(_drain_async_clients_at_exit)
