"""Server-sent events for the live view: ``GET /api/analytics/realtime/stream``.

The response is ``text/event-stream`` (``Cache-Control: no-cache``). The first event goes out
at once, then one every ``interval`` seconds::

    event: realtime
    data: {"visitors": 3, "sessions": 3, "events": 9, "minutes": [...], ...}

``data`` is the JSON of the ``realtime`` query's response model (as
``POST /api/analytics/realtime`` answers it) on one line. Clients must ignore comment lines
(``: ping``), as the SSE specification says.

Each query runs in a worker thread, never on the event loop; a query is never abandoned, so a
stream that stops waits for its query to return first (no thread outlives its stream). A stream
stops when the client disconnects, when its client is revoked, when a query fails, and when the
server shuts down. Uvicorn waits for open responses before it shuts the app down, so the
streams hook ``SIGTERM``/``SIGINT`` (chained to the handler in place, uvicorn's) the first time
one opens and end at once on either; :meth:`RealtimeStreams.close` does the same for an
embedding that stops the server another way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = ["MAX_STREAMS_PER_PROJECT", "RealtimeStreams", "StreamResponse"]

logger = logging.getLogger("openpanel_server")

MAX_STREAMS_PER_PROJECT = 5
"""Open streams one project may have at once; the next one is answered 429."""

Produce = Callable[[], bytes]
"""Runs one query (in a worker thread) and returns the event's ``data`` JSON."""


class RealtimeStreams:
    """The open streams: a per-project cap and the shutdown switch."""

    def __init__(self, per_project: int = MAX_STREAMS_PER_PROJECT) -> None:
        """Allow ``per_project`` open streams per project."""
        self.per_project = per_project
        self._open: dict[str, int] = {}
        self._closed = False
        self._wakers: set[anyio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hooked = False

    @property
    def closed(self) -> bool:
        """Whether the server is shutting down (no stream runs or opens)."""
        return self._closed

    def open_count(self, project_id: str) -> int:
        """How many streams the project has open."""
        return self._open.get(project_id, 0)

    def acquire(self, project_id: str) -> bool:
        """Take a slot for a new stream (event loop only); False when the project is full."""
        count = self._open.get(project_id, 0)
        if self._closed or count >= self.per_project:
            return False
        self._open[project_id] = count + 1
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._hook_signals()
        return True

    def release(self, project_id: str) -> None:
        """Give a slot back."""
        count = self._open.get(project_id, 0) - 1
        if count > 0:
            self._open[project_id] = count
        else:
            self._open.pop(project_id, None)

    def close(self) -> None:
        """End every stream now and refuse new ones (safe from any thread and from signals)."""
        self._closed = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for event in list(self._wakers):
            event.set()

    def _hook_signals(self) -> None:
        if self._hooked or threading.current_thread() is not threading.main_thread():
            return
        self._hooked = True
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue  # the default action ends the process, and the streams with it
            signal.signal(sig, self._chain(previous))

    def _chain(
        self, previous: Callable[[int, FrameType | None], Any]
    ) -> Callable[[int, FrameType | None], None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.close()
            previous(signum, frame)

        return handler

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the streams close meanwhile."""
        event = anyio.Event()
        self._wakers.add(event)
        try:
            if self._closed:
                return
            with anyio.move_on_after(seconds):
                await event.wait()
        finally:
            self._wakers.discard(event)


def _event(data: bytes) -> bytes:
    return b"event: realtime\ndata: " + data + b"\n\n"


class StreamResponse(Response):
    """An event stream of one project's realtime query.

    ``first`` is the data of the first event (computed before the response starts, so a bad
    request is still answerable with a 400); ``produce`` computes each later one in a worker
    thread; ``alive`` is checked before each query (False ends the stream: the client was
    revoked).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        streams: RealtimeStreams,
        project_id: str,
        first: bytes,
        produce: Produce,
        interval: float,
        alive: Callable[[], bool],
    ) -> None:
        # Not Response.__init__: it would declare the empty body's content-length.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._streams = streams
        self._project = project_id
        self._first = first
        self._produce = produce
        self._interval = interval
        self._alive = alive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streams = self._streams
        if not streams.acquire(self._project):
            if streams.closed:
                refused = JSONResponse(
                    {"error": "Service Unavailable", "message": "the server is shutting down"},
                    status_code=503,
                )
            else:
                refused = JSONResponse(
                    {
                        "error": "Too Many Requests",
                        "message": f"this project already has {streams.per_project} open "
                        "realtime streams (the most allowed): close one first",
                    },
                    status_code=429,
                    headers={"Retry-After": "5"},
                )
            await refused(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self._pump(send)
                group.cancel_scope.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away (raised outside the task group, so not grouped)
        finally:
            streams.release(self._project)

    async def _pump(self, send: Send) -> None:
        data = self._first
        streams = self._streams
        while True:
            try:
                await send({"type": "http.response.body", "body": _event(data), "more_body": True})
            except OSError:
                return  # the client went away while we wrote (ASGI 2.4 servers raise this)
            await streams.wait(self._interval)
            if streams.closed:
                return
            try:
                if not self._alive():
                    return
                data = await run_in_threadpool(self._produce)
            except Exception:
                logger.warning(
                    "realtime stream of project %s stopped", self._project, exc_info=True
                )
                return
            if streams.closed:
                return
