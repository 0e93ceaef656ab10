"""Client options (typed keyword arguments), environment variables and the stats snapshot."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = ["BeforeSend", "ClientOptions", "ErrorHook", "Stats", "env", "env_bool"]

ErrorHook = Callable[[Exception, list[dict[str, Any]]], None]
BeforeSend = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters since the client started (a snapshot).

    Attributes:
        queued: Calls waiting in the queue right now.
        in_flight: Events taken from the queue and not yet settled.
        delivered: Events the server acknowledged.
        failed: Events given up on (refused by the server, or retries exhausted).
        dropped: Events dropped because the queue was full.
        invalid: Calls refused on the client (reserved name, bad value, not serialisable).
        filtered: Events dropped by ``before_send``.
        retried: Event retries (an event retried twice counts twice).
        spooled: Events waiting in the durable spool (0 without ``persist_path``).
    """

    queued: int
    in_flight: int
    delivered: int
    failed: int
    dropped: int
    invalid: int
    filtered: int
    retried: int
    spooled: int


class ClientOptions(TypedDict, total=False):
    """Keyword options shared by :class:`OpenPanel` and :class:`AsyncOpenPanel`.

    Every key is optional: pass them as keyword arguments,
    ``OpenPanel(client_id, client_secret, flush_interval=5.0, persist_path="events.db")``.
    The configuration reference lists them with their defaults.

    Attributes:
        api_url: Where the OpenPanel API lives (env ``OPENPANEL_API_URL``; default the hosted
            ``https://api.openpanel.dev``).
        disabled: Accept every call and send nothing (env ``OPENPANEL_DISABLED``).
        sync_mode: Send on the caller's thread, blocking, for scripts and serverless functions.
        debug: Log what the client does to stderr (env ``OPENPANEL_DEBUG``).
        before_send: ``(item) -> item | None``, called on the sender with each wire item
            ``{"type", "payload"}``; return a changed item, or None to drop it.
        on_error: ``(exception, items)``, called on the sender when events are refused, given
            up on or dropped; ``items`` are the wire items concerned (empty for queue drops).
        global_properties: Properties added to every ``track`` and ``identify``.
        timeout: Seconds for one HTTP request.
        max_retries: Retries for network errors, 408, 429 and 5xx.
        max_retry_time: Seconds a batch may keep retrying.
        flush_at: Wake the sender once this many calls are queued.
        flush_interval: Seconds between sends when fewer than ``flush_at`` are queued.
        max_batch_size: Most events in one ``/track/batch`` request.
        max_batch_bytes: Most uncompressed bytes in one batch request.
        max_queue_size: Most calls waiting; further calls are dropped and counted.
        max_queue_bytes: Estimated bytes the waiting calls may take; further calls are dropped.
        max_in_flight: Requests sent concurrently.
        batch: Use the ``/track/batch`` extension when the server has it (falls back by
            itself against a stock OpenPanel server).
        gzip: Compress batch requests.
        persist_path: A SQLite file that keeps events until the server acknowledged them.
        device_id: A device id for events sent outside request contexts, or ``"auto"`` for a
            random one (persisted in ``device_id_file`` when given).
        device_id_file: Where ``device_id="auto"`` keeps its id across runs.
        session_timeout: Inactivity (seconds) that ends the client-side session.
        shutdown_timeout: Budget, in seconds, of the drain at interpreter exit.
    """

    api_url: str | None
    disabled: bool | None
    sync_mode: bool
    debug: bool | None
    before_send: BeforeSend | None
    on_error: ErrorHook | None
    global_properties: Mapping[str, Any] | None
    timeout: float
    max_retries: int
    max_retry_time: float
    flush_at: int
    flush_interval: float
    max_batch_size: int
    max_batch_bytes: int
    max_queue_size: int
    max_queue_bytes: int
    max_in_flight: int
    batch: bool
    gzip: bool
    persist_path: str | os.PathLike[str] | None
    device_id: str | None
    device_id_file: str | os.PathLike[str] | None
    session_timeout: float
    shutdown_timeout: float


def env(name: str) -> str | None:
    """An ``OPENPANEL_*`` environment variable, or None."""
    return os.environ.get(name)


def env_bool(name: str) -> bool:
    """A boolean environment variable: 1, true, yes or on (any case)."""
    return (env(name) or "").strip().lower() in ("1", "true", "yes", "on")
