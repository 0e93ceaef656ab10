"""Delivery without I/O: what to send, how to read the answer, when to retry.

:func:`deliver` is a generator that yields actions (:class:`Send`, :class:`Sleep`) and receives
their results, so the threaded and the asyncio senders share every decision and differ only in
how they wait and send (the "sans-I/O" style of h11 and httpcore).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpanel_core._constants import (
    BATCH_PATH,
    HEADER_CLIENT_IP,
    HEADER_EVENT_ID,
    TRACK_PATH,
)
from openpanel_core._encode import Outgoing
from openpanel_core._errors import DeliveryError, HTTPStatusError, TransportError
from openpanel_core._retry import RetryPolicy, is_retryable_status, parse_retry_after
from openpanel_core._transport.base import Request, Response

__all__ = ["BatchSupport", "DeliveryConfig", "Send", "Sleep", "deliver"]

#: How long a server that refused /track/batch is left alone before asking again.
BATCH_RECHECK_SECONDS = 600.0


@dataclass(slots=True)
class Send:
    """Send these requests (independent: a sender may run them concurrently).

    The sender answers with one ``Response`` or ``TransportError`` per request, in order.
    """

    requests: list[Request]


@dataclass(slots=True)
class Sleep:
    """Wait before retrying. The sender answers False to give up (deadline or shutdown)."""

    seconds: float


class BatchSupport:
    """Whether the server speaks the ``POST /track/batch`` extension (learned, re-checked)."""

    def __init__(self, enabled: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.known: bool | None = None
        self._recheck_at = 0.0
        self._clock = clock

    def try_batch(self, n: int) -> bool:
        """Whether ``n`` pending items should go in one batch request."""
        if not self.enabled:
            return False
        if self.known is False:
            if self._clock() < self._recheck_at:
                return False
            self.known = None
        return n > 1 or self.known is True

    def unsupported(self) -> None:
        """The server answered 404/405/501 to a batch: fall back to single sends for a while."""
        self.known = False
        self._recheck_at = self._clock() + BATCH_RECHECK_SECONDS

    def supported(self) -> None:
        """The server took a batch."""
        self.known = True


@dataclass(slots=True)
class DeliveryConfig:
    """Everything :func:`deliver` needs besides the items."""

    api_url: str
    headers: Mapping[str, str]
    timeout: float
    retry: RetryPolicy
    batch: BatchSupport
    gzip_batches: bool = True
    on_delivered: Callable[[Sequence[Outgoing]], None] = lambda items: None
    #: (items, error, final): final=False means "gave up for now" (a spool keeps them).
    on_failed: Callable[[Sequence[Outgoing], DeliveryError, bool], None] = (
        lambda items, exc, final: None
    )
    on_retry: Callable[[int], None] = lambda n: None
    clock: Callable[[], float] = field(default=time.monotonic)


def single_request(item: Outgoing, cfg: DeliveryConfig) -> Request:
    """``POST /track`` for one item: the end user's context travels in headers."""
    headers = dict(cfg.headers)
    headers["content-type"] = "application/json"
    headers[HEADER_EVENT_ID] = item.id
    if item.ip:
        headers[HEADER_CLIENT_IP] = item.ip
    if item.user_agent:
        headers["user-agent"] = item.user_agent
    return Request("POST", cfg.api_url + TRACK_PATH, headers, item.body, cfg.timeout)


def batch_request(items: Sequence[Outgoing], cfg: DeliveryConfig) -> Request:
    """``POST /track/batch`` for several items, gzip-compressed unless turned off."""
    body = b"[" + b",".join(i.batch_element() for i in items) + b"]"
    headers = dict(cfg.headers)
    headers["content-type"] = "application/json"
    if cfg.gzip_batches:
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers["content-encoding"] = "gzip"
    return Request("POST", cfg.api_url + BATCH_PATH, headers, body, cfg.timeout)


def _status_error(resp: Response, what: str) -> HTTPStatusError:
    text = resp.content[:1000].decode("utf-8", "replace")
    return HTTPStatusError(
        f"{what}: HTTP {resp.status_code} {text}".strip(), status_code=resp.status_code, body=text
    )


def _per_item(resp: Response) -> dict[str, Mapping[str, Any]] | None:
    try:
        data: Any = json.loads(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    results: Any = data.get("results")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(results, list):
        return None
    out: dict[str, Mapping[str, Any]] = {}
    for r in results:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(r, dict):
            result: dict[str, Any] = r  # pyright: ignore[reportUnknownVariableType]
            rid = result.get("id")
            if isinstance(rid, str):
                out[rid] = result
    return out


def deliver(items: list[Outgoing], cfg: DeliveryConfig) -> Generator[Send | Sleep, Any, None]:
    """Deliver ``items``: batch or single sends, retries, per-item outcomes via callbacks."""
    pending = items
    retries = 0
    started = cfg.clock()
    while pending:
        retry_items: list[Outgoing] = []
        retry_after: float | None = None
        last_error: DeliveryError = TransportError("not sent")
        if cfg.batch.try_batch(len(pending)):
            [result] = yield Send([batch_request(pending, cfg)])
            if isinstance(result, TransportError):
                retry_items, last_error = pending, result
            elif result.status_code in (404, 405, 501):
                cfg.batch.unsupported()
                continue  # the same items go out as single requests at once
            elif result.status_code == 413 and len(pending) > 1:
                half = len(pending) // 2
                yield from deliver(pending[:half], cfg)
                yield from deliver(pending[half:], cfg)
                return
            elif 200 <= result.status_code < 300:
                cfg.batch.supported()
                per_item = _per_item(result)
                ok: list[Outgoing] = []
                for item in pending:
                    r = per_item.get(item.id) if per_item is not None else None
                    status = r.get("status", 200) if r is not None else 200
                    if not isinstance(status, int) or 200 <= status < 300:
                        ok.append(item)
                    elif is_retryable_status(status):
                        retry_items.append(item)
                        last_error = HTTPStatusError(
                            f"batch item: HTTP {status}", status_code=status
                        )
                    else:
                        assert r is not None
                        msg = f"{r.get('error') or 'refused'}: {r.get('message') or ''}".strip()
                        cfg.on_failed(
                            [item], HTTPStatusError(msg, status_code=status, body=msg), True
                        )
                if ok:
                    cfg.on_delivered(ok)
            elif is_retryable_status(result.status_code):
                retry_items, last_error = pending, _status_error(result, "batch")
                retry_after = parse_retry_after(result.headers.get("retry-after"))
            else:
                cfg.on_failed(pending, _status_error(result, "batch refused"), True)
                return
        else:
            results = yield Send([single_request(i, cfg) for i in pending])
            ok = []
            for item, result in zip(pending, results, strict=True):
                if isinstance(result, TransportError):
                    retry_items.append(item)
                    last_error = result
                elif 200 <= result.status_code < 300:
                    ok.append(item)
                elif is_retryable_status(result.status_code):
                    retry_items.append(item)
                    last_error = _status_error(result, "track")
                    ra = parse_retry_after(result.headers.get("retry-after"))
                    if ra is not None:
                        retry_after = max(retry_after or 0.0, ra)
                else:
                    cfg.on_failed([item], _status_error(result, "track refused"), True)
            if ok:
                cfg.on_delivered(ok)
        if not retry_items:
            return
        delay = cfg.retry.delay(retries, retry_after)
        elapsed = cfg.clock() - started
        if retries >= cfg.retry.max_retries or elapsed + delay > cfg.retry.max_retry_time:
            cfg.on_failed(retry_items, last_error, False)
            return
        cfg.on_retry(len(retry_items))
        if not (yield Sleep(delay)):
            cfg.on_failed(retry_items, last_error, False)
            return
        retries += 1
        pending = retry_items
