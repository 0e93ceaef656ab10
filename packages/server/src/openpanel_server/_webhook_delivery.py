"""Webhook delivery: a persistent retry queue worked by an asyncio loop in its own thread.

Messages wait in SQLite (``webhook_messages``) with the time of their next attempt, so a
restart loses nothing: attempts that were running when the process died are simply due again,
with the same ``webhook-id`` (receivers deduplicate on it). Each attempt:

* signs the stored body bytes afresh (a new ``webhook-timestamp``; one ``v1`` signature per
  live secret during a rotation; the legacy ``X-OpenPanel-Signature`` with the current secret
  while the endpoint has legacy signing on);
* goes through `PinnedTransport` (SSRF checks, connection to a checked address), without
  redirects, proxies or cookies, within ``connect_timeout`` and a total ``timeout``;
* reads at most 20,000 bytes of the answer for the log.

Outcomes: a 2xx is success (and clears the endpoint's failure clock); ``410 Gone`` disables the
endpoint at once; anything else is retried on the schedule (Svix's by default) with +/-20 %
jitter; after a timeout, a 429 or a 502/504 the wait is at least a minute; ``Retry-After``
(seconds or an HTTP date) lengthens the wait up to twice the scheduled delay. A message that
exhausts its attempts starts the endpoint's failure clock; an endpoint still failing
``disable_after`` later (no success in between) is disabled.

The loop takes a ``clock`` and an async ``sleeper``, so tests drive the whole schedule with a
fake clock in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from openpanel_core import __version__
from openpanel_core.webhooks import sign
from openpanel_server._webhook_ssrf import (
    AddressPolicy,
    BlockedDestinationError,
    PinnedTransport,
    Resolver,
    system_resolver,
)
from openpanel_server._webhook_store import AttemptOutcome, DueMessage, WebhookStore

__all__ = [
    "DEFAULT_SCHEDULE",
    "DeliveryPolicy",
    "Dispatcher",
    "next_delay",
    "parse_retry_after",
]

logger = logging.getLogger("openpanel_server.webhooks")

#: Seconds before each attempt: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix).
DEFAULT_SCHEDULE: tuple[float, ...] = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
USER_AGENT = f"OpenPanel-Webhooks/{__version__}"
_THROTTLE_STATUSES = frozenset({429, 502, 504})
_KEPT_RESPONSE_HEADERS = ("content-type", "content-length", "location", "retry-after")

Clock = Callable[[], float]
Sleeper = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are made and retried.

    Attributes:
        schedule: Seconds to wait before each attempt; its length is the number of attempts.
        jitter: Each wait is multiplied by a random factor in ``1 +/- jitter``.
        timeout: Total seconds of one attempt.
        connect_timeout: Seconds to connect.
        max_in_flight: Concurrent attempts per endpoint.
        max_concurrency: Concurrent attempts in all.
        disable_after: Seconds of failure (no success) after which an endpoint is disabled.
        throttle_delay: The least wait after a timeout, a 429, a 502 or a 504.
        response_limit: Bytes of the answer kept in the log.
        poll_interval: Longest sleep between looks at the queue (changes made by other
            processes, such as the CLI, are seen this often).
    """

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    timeout: float = 15.0
    connect_timeout: float = 5.0
    max_in_flight: int = 4
    max_concurrency: int = 64
    disable_after: float = 5 * 86400.0
    throttle_delay: float = 60.0
    response_limit: int = 20_000
    poll_interval: float = 1.0

    def __post_init__(self) -> None:
        if not self.schedule or any(not math.isfinite(d) or d < 0 for d in self.schedule):
            raise ValueError("the schedule needs at least one non-negative delay")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.max_in_flight < 1 or self.max_concurrency < 1:
            raise ValueError("concurrency limits must be at least 1")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def next_delay(
    policy: DeliveryPolicy,
    attempts_done: int,
    *,
    status_code: int | None,
    error_kind: str | None,
    retry_after: float | None,
    rand: random.Random,
) -> float | None:
    """Seconds until the next attempt after ``attempts_done`` failed ones; None: exhausted."""
    if attempts_done >= len(policy.schedule):
        return None
    scheduled = policy.schedule[attempts_done]
    delay = scheduled * rand.uniform(1 - policy.jitter, 1 + policy.jitter)
    if error_kind == "timeout" or status_code in _THROTTLE_STATUSES:
        delay = max(delay, policy.throttle_delay)
    if retry_after is not None:
        delay = min(max(retry_after, delay), 2 * delay)
    return delay


@dataclass(slots=True)
class _Answer:
    status_code: int | None = None
    error_kind: str | None = None
    error: str | None = None
    body: str | None = None
    headers: Mapping[str, str] | None = None


class Dispatcher:
    """Works the queue: starts due attempts (bounded per endpoint and in all), logs them.

    Run it in its own thread with `start`/`stop`, or drive it from a test with
    ``await dispatcher.run(until_idle=True)``.
    """

    def __init__(
        self,
        store: WebhookStore,
        policy: DeliveryPolicy,
        addresses: AddressPolicy,
        *,
        clock: Clock = time.time,
        sleeper: Sleeper | None = None,
        resolver: Resolver = system_resolver,
        rand: random.Random | None = None,
        on_disabled: Callable[[str, str], None] | None = None,
    ) -> None:
        """Build the dispatcher.

        Args:
            store: The webhook tables (a connection of its own).
            policy: Schedule, timeouts and limits.
            addresses: The SSRF address policy.
            clock: Unix time now (the schedule and the signed timestamps use it).
            sleeper: ``await sleeper(seconds)`` when nothing is in flight; the default waits
                on the real clock and wakes up early for new messages.
            resolver: Host name resolution for the SSRF checks.
            rand: Jitter source.
            on_disabled: Called with ``(endpoint_id, reason)`` when an endpoint is disabled.
        """
        self.store = store
        self.policy = policy
        self._addresses = addresses
        self._clock = clock
        self._sleeper = sleeper
        self._resolver = resolver
        self._rand = rand or random.Random()  # noqa: S311 - jitter, not cryptography
        self._on_disabled = on_disabled
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_endpoint: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._grace = policy.timeout

    # ------------------------------------------------------------------ thread control

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.run()), name="openpanel-webhooks", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (new messages); callable from any thread."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop; running attempts get ``timeout`` seconds.

        Attempts still running then are abandoned: their messages are due again at the next
        start, with the same ``webhook-id``.
        """
        self._grace = timeout
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout + 2)

    # ------------------------------------------------------------------ the loop

    def _make_client(self) -> httpx.AsyncClient:
        transport = PinnedTransport(
            self._addresses,
            self._resolver,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=16),
        )
        return httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    async def run(self, *, until_idle: bool = False) -> None:
        """Work the queue until `stop`.

        With ``until_idle`` it returns once nothing is in flight and nothing is scheduled.
        """
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._client = self._make_client()
        await asyncio.to_thread(self.store.reset_in_flight)
        try:
            while not self._stopping.is_set():
                now = self._clock()
                held_back = await self._dispatch_due(now)
                next_due = await asyncio.to_thread(self.store.next_due_at)
                if until_idle and not self._tasks and next_due is None:
                    return
                delay = self.policy.poll_interval if next_due is None else next_due - now
                delay = max(0.0, min(delay, self.policy.poll_interval))
                if next_due is not None and until_idle:
                    delay = max(0.0, next_due - now)
                if held_back and self._tasks:
                    # Due messages wait for a free slot: a finishing attempt wakes the loop.
                    delay = self.policy.poll_interval
                if self._tasks:
                    await self._wait_tasks_or_wake(delay)
                elif self._sleeper is not None:
                    await self._sleeper(delay)
                else:
                    await self._wait_tasks_or_wake(delay)
        finally:
            await self._shutdown()

    async def _wait_tasks_or_wake(self, delay: float) -> None:
        assert self._wake is not None
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({*self._tasks, waiter}, timeout=delay, return_when="FIRST_COMPLETED")
        finally:
            waiter.cancel()
            self._wake.clear()

    async def _shutdown(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self._grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _dispatch_due(self, now: float) -> bool:
        """Start the due attempts there is room for; True when some had to wait for room."""
        room = self.policy.max_concurrency - len(self._tasks)
        if room <= 0:
            return True
        due = await asyncio.to_thread(
            self.store.due, now, per_endpoint=self.policy.max_in_flight, limit=room * 4
        )
        held_back = False
        for message in due:
            if len(self._tasks) >= self.policy.max_concurrency:
                return True
            busy = self._per_endpoint.get(message.endpoint_id, 0)
            if busy >= self.policy.max_in_flight:
                held_back = True
                continue
            if not await asyncio.to_thread(self.store.claim, message.id):
                continue
            self._per_endpoint[message.endpoint_id] = busy + 1
            task = asyncio.ensure_future(self._deliver(message))
            self._tasks.add(task)
            task.add_done_callback(lambda t, m=message: self._done(t, m))
        return held_back

    def _done(self, task: asyncio.Task[None], message: DueMessage) -> None:
        self._tasks.discard(task)
        left = self._per_endpoint.get(message.endpoint_id, 1) - 1
        if left > 0:
            self._per_endpoint[message.endpoint_id] = left
        else:
            self._per_endpoint.pop(message.endpoint_id, None)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "webhook delivery of %s failed internally",
                message.id,
                exc_info=task.exception(),
            )
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ one attempt

    def _headers(self, message: DueMessage, timestamp: int) -> dict[str, str]:
        secrets = self.store.signing_secrets(message.endpoint_id, now=self._clock())
        headers = {"content-type": "application/json"}
        headers.update(sign(message.body, secrets, msg_id=message.id, timestamp=timestamp))
        if message.legacy_signature:
            headers.update(sign(message.body, secrets[0], msg_id=message.id, scheme="openpanel"))
            headers["X-OpenPanel-Event"] = message.event_type
            headers["X-OpenPanel-Delivery"] = message.id
        return headers

    async def _send(self, message: DueMessage, headers: Mapping[str, str]) -> _Answer:
        assert self._client is not None
        async with self._client.stream(
            "POST", message.url, content=message.body, headers=headers
        ) as response:
            limit = self.policy.response_limit
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
            raw = b"".join(chunks)[:limit]
            kept = {
                name: response.headers[name]
                for name in _KEPT_RESPONSE_HEADERS
                if name in response.headers
            }
            return _Answer(
                status_code=response.status_code,
                body=raw.decode("utf-8", errors="replace"),
                headers=kept,
            )

    async def _deliver(self, message: DueMessage) -> None:
        try:
            await self._attempt(message)
        except Exception:
            # Not the receiver's fault (the database, a secret that no longer decrypts): log
            # it, and try again in a minute rather than holding the message forever.
            logger.exception("webhook delivery of %s failed internally", message.id)
            retry_at = self._clock() + self.policy.throttle_delay
            await asyncio.to_thread(self.store.release, message.id, retry_at)

    async def _attempt(self, message: DueMessage) -> None:
        trigger = "manual" if message.manual else "scheduled"
        started_at = self._clock()
        began = time.perf_counter()
        try:
            headers = await asyncio.to_thread(self._headers, message, int(started_at))
            answer = await asyncio.wait_for(self._send(message, headers), self.policy.timeout)
        except BlockedDestinationError as exc:
            answer = _Answer(error_kind="blocked", error=str(exc))
        except (httpx.TimeoutException, TimeoutError):
            answer = _Answer(error_kind="timeout", error="no answer in time")
        except httpx.ConnectError as exc:
            answer = _Answer(error_kind="connect", error=str(exc) or "connection failed")
        except httpx.HTTPError as exc:
            answer = _Answer(error_kind="network", error=f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            answer = _Answer(error_kind="network", error=f"{type(exc).__name__}: {exc}")
        duration_ms = (time.perf_counter() - began) * 1000
        status = answer.status_code
        if status is not None and not 200 <= status < 300:
            answer.error_kind = "redirect" if 300 <= status < 400 else "http_status"
            answer.error = f"HTTP {status}"
            location = (answer.headers or {}).get("location")
            if answer.error_kind == "redirect" and location:
                answer.error += f" to {location[:500]} (redirects are not followed)"
        outcome = await asyncio.to_thread(self._decide, message, answer, self._clock())
        await asyncio.to_thread(
            self.store.finish_attempt,
            message,
            trigger=trigger,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status,
            error_kind=answer.error_kind,
            error=answer.error,
            response_body=answer.body,
            response_headers=answer.headers or {},
            outcome=outcome,
        )
        if outcome.disable_endpoint is not None:
            logger.warning(
                "webhook endpoint %s disabled (%s)", message.endpoint_id, outcome.disable_endpoint
            )
            if self._on_disabled is not None:
                self._on_disabled(message.endpoint_id, outcome.disable_endpoint)

    def _decide(self, message: DueMessage, answer: _Answer, now: float) -> AttemptOutcome:
        status = answer.status_code
        if status is not None and 200 <= status < 300:
            return AttemptOutcome("succeeded", None, keep_failing_since=False)
        if status == 410:
            return AttemptOutcome("failed", None, disable_endpoint="gone")
        if message.manual and message.state != "pending":
            return AttemptOutcome(message.state, None)  # a redelivery does not re-arm retries
        retry_after = parse_retry_after((answer.headers or {}).get("retry-after"), now)
        delay = next_delay(
            self.policy,
            message.attempts + 1,
            status_code=status,
            error_kind=answer.error_kind,
            retry_after=retry_after,
            rand=self._rand,
        )
        if delay is not None:
            return AttemptOutcome("pending", now + delay)
        since = self.store.endpoint_failing_since(message.endpoint_id)
        limit = self.policy.disable_after
        if since is None or now - since > 2 * limit:  # failures are forgotten after 2 x limit
            return AttemptOutcome(
                "exhausted", None, endpoint_failing_since=now, keep_failing_since=False
            )
        if now - since >= limit:
            return AttemptOutcome("exhausted", None, disable_endpoint="failing")
        return AttemptOutcome("exhausted", None)
