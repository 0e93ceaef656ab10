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

    See :class:`ClientCore` for what each one does.
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
