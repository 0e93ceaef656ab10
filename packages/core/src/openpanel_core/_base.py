"""What the threaded and the asyncio client share: options, the caller-side API, accounting.

The caller's thread does as little as possible: a few checks, one tuple, one ``deque.append``.
Everything else (merging properties, timestamps to ISO strings, idempotency ids, JSON, gzip, the
spool) happens on the sender.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from openpanel_core._config import BeforeSend, ErrorHook, Stats, env, env_bool
from openpanel_core._constants import (
    DEFAULT_API_URL,
    HEADER_CLIENT_ID,
    HEADER_CLIENT_SECRET,
    HEADER_SDK_NAME,
    HEADER_SDK_VERSION,
    MAX_BATCH_ITEMS,
    MAX_EVENT_NAME_LENGTH,
    RESERVED_EVENT_NAMES,
    SDK_NAME,
    SDK_VERSION,
    SESSION_TIMEOUT_SECONDS,
    USER_AGENT,
)
from openpanel_core._context import RequestContext, request_context
from openpanel_core._context import _current as _current_context  # pyright: ignore[reportPrivateUsage]
from openpanel_core._delivery import BatchSupport, DeliveryConfig
from openpanel_core._encode import Encoder, Outgoing, RawItem
from openpanel_core._errors import (
    ConfigurationError,
    DeliveryError,
    EventValidationError,
    OpenPanelError,
    QueueFullError,
)
from openpanel_core._guard import call_reporting, call_user_hook, suppress_internal_errors
from openpanel_core._logging import enable_debug
from openpanel_core._retry import RetryPolicy
from openpanel_core._session import SessionManager, load_or_create_device_id
from openpanel_core._spool import Spool

__all__ = ["ClientCore", "live_clients"]

logger = logging.getLogger("openpanel_core")

_time = time.time
_ctx_get = _current_context.get
_RESERVED = RESERVED_EVENT_NAMES
_MAX_NAME = MAX_EVENT_NAME_LENGTH


class ClientCore:
    """Shared implementation of :class:`OpenPanel` and :class:`AsyncOpenPanel`.

    The keyword options are described once, on :class:`~openpanel_core.ClientOptions` (the
    configuration reference is built from there).

    Args:
        client_id: The project's client id (env ``OPENPANEL_CLIENT_ID``).
        client_secret: The client secret, for server-side callers (env
            ``OPENPANEL_CLIENT_SECRET``). Never logged.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        api_url: str | None = None,
        disabled: bool | None = None,
        sync_mode: bool = False,
        debug: bool | None = None,
        before_send: BeforeSend | None = None,
        on_error: ErrorHook | None = None,
        global_properties: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
        max_retries: int = 5,
        max_retry_time: float = 120.0,
        flush_at: int = 100,
        flush_interval: float = 1.0,
        max_batch_size: int = 1000,
        max_batch_bytes: int = 2_000_000,
        max_queue_size: int = 100_000,
        max_queue_bytes: int = 64 * 1024 * 1024,
        max_in_flight: int = 8,
        batch: bool = True,
        gzip: bool = True,
        persist_path: str | os.PathLike[str] | None = None,
        device_id: str | None = None,
        device_id_file: str | os.PathLike[str] | None = None,
        session_timeout: float = SESSION_TIMEOUT_SECONDS,
        shutdown_timeout: float = 2.0,
    ) -> None:
        self.client_id = client_id or env("OPENPANEL_CLIENT_ID") or ""
        self._secret = client_secret or env("OPENPANEL_CLIENT_SECRET")
        self.api_url = (api_url or env("OPENPANEL_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.disabled = env_bool("OPENPANEL_DISABLED") if disabled is None else disabled
        if debug or (debug is None and env_bool("OPENPANEL_DEBUG")):
            enable_debug()
        if not self.disabled and not self.client_id:
            raise ConfigurationError(
                "client_id is required (pass client_id= or set OPENPANEL_CLIENT_ID), "
                "or pass disabled=True"
            )
        if not self.api_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"api_url must be an http(s) URL, got {self.api_url!r}")
        for name, value in (
            ("flush_at", flush_at),
            ("max_batch_size", max_batch_size),
            ("max_queue_size", max_queue_size),
            ("max_in_flight", max_in_flight),
        ):
            if value < 1:
                raise ConfigurationError(f"{name} must be at least 1")
        if timeout <= 0 or flush_interval <= 0:
            raise ConfigurationError("timeout and flush_interval must be positive")
        self.sync_mode = sync_mode
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self.max_batch_size = min(max_batch_size, MAX_BATCH_ITEMS)
        self.max_batch_bytes = max_batch_bytes
        self.max_queue_size = max_queue_size
        self.max_queue_bytes = max_queue_bytes
        self.max_in_flight = max_in_flight
        self.shutdown_timeout = shutdown_timeout
        self._on_error = on_error
        self._global_properties: Mapping[str, Any] = dict(global_properties or {})
        self._groups: tuple[str, ...] = ()

        if device_id == "auto":
            device_id = load_or_create_device_id(device_id_file) if device_id_file else None
            if device_id is None:
                from openpanel_core._session import new_device_id

                device_id = new_device_id()
        self.sessions = SessionManager(session_timeout) if device_id else None
        self.encoder = Encoder(
            device_id=device_id,
            sessions=self.sessions,
            before_send=before_send,
        )
        headers = {
            HEADER_CLIENT_ID: self.client_id,
            HEADER_SDK_NAME: SDK_NAME,
            HEADER_SDK_VERSION: SDK_VERSION,
            "user-agent": USER_AGENT,
        }
        if self._secret:
            headers[HEADER_CLIENT_SECRET] = self._secret
        self.delivery = DeliveryConfig(
            api_url=self.api_url,
            headers=headers,
            timeout=timeout,
            retry=RetryPolicy(max_retries=max_retries, max_retry_time=max_retry_time),
            batch=BatchSupport(enabled=batch),
            gzip_batches=gzip,
            on_delivered=self._delivered,
            on_failed=self._failed,
            on_retry=self._retried,
        )
        self.spool = Spool(persist_path) if persist_path is not None and not self.disabled else None

        self._lock = threading.Lock()
        self._queue: deque[RawItem] = deque()
        self._accepting = not self.disabled
        self._sender_missing = True
        self._wake_pending = False
        self._queue_limit = max_queue_size  # the count bound, lowered by the byte bound
        self._avg_item_bytes = 300.0  # encoded bytes per event: a guess until the first job
        self._avg_seeded = False
        self._bytes_in_flight = 0
        self._pid = os.getpid()
        self._n_in_flight = 0
        self._n_delivered = 0
        self._n_failed = 0
        self._n_dropped = 0
        self._n_dropped_unreported = 0
        self._n_invalid = 0
        self._n_filtered = 0
        self._n_retried = 0
        self._last_log: dict[str, float] = {}
        self._recovered: list[Outgoing] = self.spool.load() if self.spool else []
        _live_clients.add(self)
        if len(_live_clients) == _MANY_CLIENTS:
            logger.warning(
                "openpanel: %d clients are alive; each has its own threads and connections. "
                "Create one client per process and share it.",
                _MANY_CLIENTS,
            )

    # ------------------------------------------------------------------ caller-side API

    def track(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        profile_id: str | int | None = None,
        device_id: str | None = None,
        timestamp: Any = None,
        groups: Sequence[str] | None = None,
    ) -> None:
        """Track an event. Never raises, never blocks (except in ``sync_mode``).

        Args:
            name: Event name: 1-80 characters, not ``session_start``/``session_end``.
            properties: JSON-serialisable properties (datetimes, UUIDs, Decimals and enums
                are converted).
            profile_id: The user; defaults to the request context's profile.
            device_id: Sent as ``__deviceId`` (overrides the server-derived device).
            timestamp: When it happened (aware ``datetime``, epoch seconds or ISO string);
                defaults to now.
            groups: Group ids for this event (added to client and context groups).
        """
        if self._accepting:
            if name.__class__ is str and 0 < len(name) <= _MAX_NAME and name not in _RESERVED:
                q = self._queue
                if len(q) < self._queue_limit:
                    q.append(
                        (
                            "track",
                            name,
                            properties,
                            profile_id,
                            device_id,
                            groups,
                            _time(),
                            timestamp,
                            _ctx_get(),
                            self._global_properties,
                            self._groups,
                        )
                    )
                    if not self._wake_pending and len(q) >= self.flush_at:
                        self._wake()
                    if self._sender_missing:
                        self._start()
                else:
                    self._drop()
            else:
                self._refuse(name)

    def identify(
        self,
        profile_id: str | int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        avatar: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Create or update the profile ``profile_id`` (unset fields are left out).

        Never raises: an invalid ``profile_id`` is refused, counted in :attr:`stats` and
        reported to ``on_error``.

        Args:
            profile_id: The user: a non-empty string or an int.
            first_name: The profile's first name.
            last_name: The profile's last name.
            email: The profile's email address.
            avatar: URL of the profile's picture.
            properties: JSON-serialisable profile properties (global properties are added).
        """
        payload: dict[str, Any] = {"profileId": profile_id}
        if first_name is not None:
            payload["firstName"] = first_name
        if last_name is not None:
            payload["lastName"] = last_name
        if email is not None:
            payload["email"] = email
        if avatar is not None:
            payload["avatar"] = avatar
        if properties:
            payload["properties"] = dict(properties)
        if not self._check_profile(profile_id, "identify"):
            return
        self._put("identify", payload)

    def increment(self, profile_id: str | int, property: str, value: float = 1) -> None:
        """Add ``value`` (positive) to the numeric profile property ``property``.

        Never raises: invalid arguments are refused, counted and reported to ``on_error``.

        Args:
            profile_id: The user: a non-empty string or an int.
            property: Name of the numeric profile property.
            value: A positive number to add.
        """
        self._adjust("increment", profile_id, property, value)

    def decrement(self, profile_id: str | int, property: str, value: float = 1) -> None:
        """Subtract ``value`` (positive) from the numeric profile property ``property``.

        Never raises: invalid arguments are refused, counted and reported to ``on_error``.

        Args:
            profile_id: The user: a non-empty string or an int.
            property: Name of the numeric profile property.
            value: A positive number to subtract.
        """
        self._adjust("decrement", profile_id, property, value)

    def revenue(
        self,
        amount_cents: int,
        properties: Mapping[str, Any] | None = None,
        *,
        profile_id: str | int | None = None,
        device_id: str | None = None,
        timestamp: Any = None,
    ) -> None:
        """Track a ``revenue`` event of ``amount_cents`` (a non-negative integer, in cents).

        Revenue needs the client secret unless the project allows unsafe revenue tracking.
        Never raises: an invalid amount is refused, counted and reported to ``on_error``.

        Args:
            amount_cents: The amount, a non-negative integer of cents (sent as the
                ``__revenue`` property).
            properties: JSON-serialisable properties of the event.
            profile_id: The user; defaults to the request context's profile.
            device_id: Sent as ``__deviceId`` (overrides the server-derived device).
            timestamp: When it happened (aware ``datetime``, epoch seconds or ISO string);
                defaults to now.
        """
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 0:
            self._invalid(
                EventValidationError(
                    f"revenue amount must be a non-negative integer of cents, got {amount_cents!r}",
                    field="properties.__revenue",
                )
            )
            return
        props = dict(properties or {})
        props["__revenue"] = amount_cents
        self.track(
            "revenue", props, profile_id=profile_id, device_id=device_id, timestamp=timestamp
        )

    def upsert_group(
        self,
        id: str,
        *,
        type: str,
        name: str,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Create or update a group.

        Never raises: an empty ``id``, ``type`` or ``name`` is refused, counted and reported
        to ``on_error``.

        Args:
            id: The group's id (a non-empty string), as used in ``groups=``.
            type: The kind of group, such as ``"company"`` or ``"team"``.
            name: The group's display name.
            properties: JSON-serialisable group properties.
        """
        for field_name, value in (("id", id), ("type", type), ("name", name)):
            if not isinstance(value, str) or not value:
                self._invalid(
                    EventValidationError(
                        f"group {field_name} must be a non-empty string", field=field_name
                    )
                )
                return
        payload: dict[str, Any] = {"id": id, "type": type, "name": name}
        if properties:
            payload["properties"] = dict(properties)
        self._put("group", payload)

    def set_group(self, group_id: str, *, profile_id: str | int | None = None) -> None:
        """Add one group to this client's groups and assign it to the profile.

        The same as ``set_groups([group_id], profile_id=profile_id)``.

        Args:
            group_id: The group's id (a non-empty string).
            profile_id: The profile to assign the group to; without one the server assigns it
                to the device.
        """
        self.set_groups([group_id], profile_id=profile_id)

    def set_groups(self, group_ids: Sequence[str], *, profile_id: str | int | None = None) -> None:
        """Add groups to this client's groups and assign them to the profile.

        Later ``track`` calls carry the groups; with no profile the server assigns them to
        the device.

        Client-level groups suit single-user processes (CLIs, workers). In a web app, pass
        ``groups=`` per call or to ``client.context(...)`` instead.

        Args:
            group_ids: The groups' ids (non-empty strings; others are left out).
            profile_id: The profile to assign the groups to; without one the server assigns
                them to the device.
        """
        ids = [g for g in group_ids if isinstance(g, str) and g]
        if not ids:
            self._invalid(
                EventValidationError("group ids must be non-empty strings", field="groupIds")
            )
            return
        self._groups = tuple(dict.fromkeys((*self._groups, *ids)))
        payload: dict[str, Any] = {"groupIds": ids}
        if profile_id is not None:
            payload["profileId"] = profile_id
        self._put("assign_group", payload)

    def set_global_properties(self, properties: Mapping[str, Any]) -> None:
        """Merge properties into those sent with every ``track`` and ``identify``.

        Args:
            properties: Properties to add; a key already set is replaced.
        """
        self._global_properties = {**self._global_properties, **properties}

    def clear(self) -> None:
        """Forget client-level groups and the client-side session (global properties stay)."""
        self._groups = ()
        if self.sessions is not None:
            self.sessions.reset()

    def context(
        self,
        *,
        ip: str | None = None,
        user_agent: str | None = None,
        device_id: str | None = None,
        profile_id: str | int | None = None,
        groups: Sequence[str] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[RequestContext]:
        """Scope in which events carry an end user's IP, user agent, profile and groups.

        Works across asyncio tasks and ``asyncio.to_thread``; wrap plain threads with
        :func:`openpanel_core.copy_context`. Example::

            with client.context(ip=request_ip, user_agent=ua, profile_id=user.id):
                client.track("checkout_started")

        Args:
            ip: The end user's IP address (sent as ``openpanel-client-ip``, so the server
                geolocates the user, not your server).
            user_agent: The end user's user agent (sent as ``user-agent``).
            device_id: An explicit device id (sent as ``properties.__deviceId``).
            profile_id: The signed-in user, the default ``profile_id`` of calls in the scope.
            groups: Group ids added to every event in the scope.
            properties: Properties added to every event in the scope (a call's own win).

        Returns:
            A context manager; entering it yields the :class:`RequestContext` in effect
            (merged over an enclosing one).
        """
        return request_context(
            ip=ip,
            user_agent=user_agent,
            device_id=device_id,
            profile_id=profile_id,
            groups=tuple(groups) if groups else None,
            properties=properties,
        )

    @property
    def device_id(self) -> str | None:
        """The client's own device id (set with ``device_id=``), if any."""
        return self.encoder.device_id

    @property
    def session_id(self) -> str | None:
        """The client-side session id (with a client device id), None when none is live."""
        return self.sessions.session_id if self.sessions else None

    @property
    def stats(self) -> Stats:
        """A snapshot of the client's counters."""
        return Stats(
            queued=len(self._queue),
            in_flight=self._n_in_flight,
            delivered=self._n_delivered,
            failed=self._n_failed,
            dropped=self._n_dropped,
            invalid=self._n_invalid,
            filtered=self._n_filtered,
            retried=self._n_retried,
            spooled=self.spool.count() if self.spool else 0,
        )

    # ------------------------------------------------------------------ internals, caller side

    def _put(self, kind: str, payload: dict[str, Any]) -> None:
        # The same append as in track(), which inlines it: a method call there costs 10%.
        if not self._accepting:
            return
        q = self._queue
        if len(q) < self._queue_limit:
            q.append(
                (
                    kind,
                    payload,
                    None,
                    None,
                    None,
                    None,
                    _time(),
                    None,
                    _ctx_get(),
                    self._global_properties,
                    self._groups,
                )
            )
            if not self._wake_pending and len(q) >= self.flush_at:
                self._wake()
            if self._sender_missing:
                self._start()
        else:
            self._drop()

    def _adjust(self, kind: str, profile_id: str | int, prop: str, value: float) -> None:
        if not self._check_profile(profile_id, kind):
            return
        if not isinstance(prop, str) or not prop:
            self._invalid(
                EventValidationError(
                    f"{kind}: property must be a non-empty string", field="property"
                )
            )
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            self._invalid(
                EventValidationError(
                    f"{kind}: value must be a positive number, got {value!r}", field="value"
                )
            )
            return
        self._put(kind, {"profileId": profile_id, "property": prop, "value": value})

    def _check_profile(self, profile_id: object, kind: str) -> bool:
        if (isinstance(profile_id, str) and profile_id) or (
            isinstance(profile_id, int) and not isinstance(profile_id, bool)
        ):
            return True
        self._invalid(
            EventValidationError(
                f"{kind}: profile_id must be a non-empty string or an int", field="profileId"
            )
        )
        return False

    def _refuse(self, name: object) -> None:
        if not isinstance(name, str):
            msg = f"event name must be a string, got {type(name).__name__}"
        elif not name:
            msg = "event name must not be empty"
        elif name in _RESERVED:
            msg = f"event name {name!r} is reserved for events the server writes"
        else:
            msg = f"event name is longer than {_MAX_NAME} characters"
        self._invalid(EventValidationError(msg, field="name"))

    def _invalid(
        self, exc: EventValidationError, items: list[dict[str, Any]] | None = None
    ) -> None:
        with self._lock:
            self._n_invalid += 1
        self._log_limited("invalid", logging.WARNING, "openpanel: event refused: %s", exc)
        self._call_on_error(exc, items or [])

    def _drop(self) -> None:
        with self._lock:
            self._n_dropped += 1
            self._n_dropped_unreported += 1
        if self._sender_missing:
            self._start()

    # ------------------------------------------------------------------ internals, sender side

    def _wake(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _take_jobs(self) -> Iterator[list[Outgoing]]:
        """Pop queued calls and encode them into jobs (lists of items for one request).

        Yields jobs as they fill; the caller sends them. Encoding errors refuse single events.
        Takes only what was queued when it started: calls made while a job waits for a free
        send slot stay queued for the next wake-up (``flush_at`` or ``flush_interval``)
        instead of leaving as a trickle of tiny batches.
        """
        q = self._queue
        self._wake_pending = False
        self._report_drops()
        if self._recovered:
            recovered, self._recovered = self._recovered, []
            with self._lock:
                self._n_in_flight += len(recovered)
                self._bytes_in_flight += sum(len(i.body) for i in recovered)
            for i in range(0, len(recovered), self.max_batch_size):
                yield recovered[i : i + self.max_batch_size]
        budget = len(q)
        while q and budget > 0:
            if self._bytes_in_flight >= self.max_queue_bytes:
                break  # the server is behind: leave the rest queued (callers drop, counted)
            n = min(len(q), self.max_batch_size, budget)
            budget -= n
            with self._lock:
                self._n_in_flight += n  # before popping: flush() never sees a gap
            popleft = q.popleft
            raws: list[RawItem] = []
            for _ in range(n):
                try:
                    raws.append(popleft())
                except IndexError:  # another thread drained it (sync_mode callers)
                    break
            if len(raws) < n:
                self._settle(n - len(raws))
            job: list[Outgoing] = []
            size = 0
            fast = self.encoder.encode_many(raws)
            limit = self.max_batch_bytes
            for k, raw in enumerate(raws):
                item = fast[k]
                if item is None or len(item.body) > limit:
                    item = self._encode(raw)  # the general path: validation, hooks, errors
                    if item is None:
                        continue
                if job and size + len(item.body) > limit:
                    yield self._finish_job(job, size, len(q))
                    job, size = [], 0
                job.append(item)
                size += len(item.body)
            if job:
                yield self._finish_job(job, size, len(q))
        self._update_byte_bound()

    def _finish_job(self, job: list[Outgoing], size: int, backlog: int) -> list[Outgoing]:
        mean = size / len(job)
        if self._avg_seeded:
            self._avg_item_bytes = 0.7 * self._avg_item_bytes + 0.3 * mean
        else:
            self._avg_item_bytes, self._avg_seeded = mean, True
        with self._lock:
            self._bytes_in_flight += size
        self._update_byte_bound()
        if self.spool is not None:
            self.spool.add(job)
        return job

    def _update_byte_bound(self) -> None:
        """Recompute how many calls may wait, from ``max_queue_bytes``.

        The room left by the encoded bytes of events taken but not settled, divided by the
        running average encoded size, caps ``max_queue_size``. The caller's thread compares
        one integer; the sender calls this whenever it takes, settles or waits, so the bound
        holds while the server is slow or down.
        """
        room = (self.max_queue_bytes - self._bytes_in_flight) / self._avg_item_bytes
        self._queue_limit = max(0, min(self.max_queue_size, int(room)))

    def _release(self, items: Sequence[Outgoing]) -> None:
        n = sum(len(i.body) for i in items)
        with self._lock:
            self._bytes_in_flight -= n
        self._update_byte_bound()

    def _encode(self, raw: RawItem) -> Outgoing | None:
        result = call_reporting("encode", self.encoder.encode, raw, expected=EventValidationError)
        if isinstance(result, Exception):  # refused, or an SDK bug (recorded by the guard)
            self._settle(1)
            exc = result
            if not isinstance(exc, EventValidationError):
                exc = EventValidationError(f"event could not be encoded: {exc!r}", field="")
            self._invalid(exc)
            return None
        item, wire = result
        if item is not None and len(item.body) > self.max_batch_bytes:
            self._settle(1)
            self._invalid(
                EventValidationError(
                    f"event is {len(item.body)} bytes encoded, over max_batch_bytes="
                    f"{self.max_batch_bytes}",
                    field="properties",
                ),
                [wire],
            )
            return None
        if item is None:
            with self._lock:
                self._n_filtered += 1
            self._settle(1)
            logger.debug("openpanel: before_send dropped %s", wire.get("type"))
            return None
        return item

    def _settle(self, n: int) -> None:
        with self._lock:
            self._n_in_flight -= n
        self._notify_idle()

    def _notify_idle(self) -> None:
        """Hook for subclasses waiting in flush()."""

    def _delivered(self, items: Sequence[Outgoing]) -> None:
        self._release(items)
        with self._lock:
            self._n_delivered += len(items)
        if self.spool is not None:
            with suppress_internal_errors("spool", background=True):
                self.spool.remove(i.id for i in items)
        logger.debug("openpanel: delivered %d event(s)", len(items))
        self._settle(len(items))

    def _failed(self, items: Sequence[Outgoing], exc: DeliveryError, final: bool) -> None:
        self._release(items)
        with self._lock:
            self._n_failed += len(items)
        if self.spool is not None and final:
            with suppress_internal_errors("spool", background=True):
                self.spool.remove(i.id for i in items)
        self._log_limited(
            f"failed:{type(exc).__name__}",
            logging.WARNING,
            "openpanel: %d event(s) not delivered: %s%s",
            len(items),
            exc,
            "" if final or self.spool is None else " (kept in the spool)",
        )
        with suppress_internal_errors("on_error", background=True):
            self._call_on_error(exc, [i.wire() for i in items])
        self._settle(len(items))

    def _retried(self, n: int) -> None:
        with self._lock:
            self._n_retried += n

    def _report_drops(self) -> None:
        with self._lock:
            n, self._n_dropped_unreported = self._n_dropped_unreported, 0
        if n:
            exc = QueueFullError(
                f"{n} event(s) dropped: the queue is full (max_queue_size={self.max_queue_size})",
                dropped=n,
            )
            self._log_limited("dropped", logging.WARNING, "openpanel: %s", exc)
            self._call_on_error(exc, [])

    def _call_on_error(self, exc: OpenPanelError, items: list[dict[str, Any]]) -> None:
        if self._on_error is not None:
            call_user_hook("on_error", self._on_error, exc, items)

    def _log_limited(self, key: str, level: int, msg: str, *args: Any) -> None:
        # At most one line per kind of problem per minute: never one line per event.
        now = time.monotonic()
        if now - self._last_log.get(key, -1e9) >= 60.0:
            self._last_log[key] = now
            logger.log(level, msg, *args)

    def _reset_after_fork(self) -> None:
        """In a forked child: forget the parent's queue, threads and connections."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._queue = deque()
        self._recovered = []
        self._n_in_flight = 0
        self._bytes_in_flight = 0
        self._queue_limit = self.max_queue_size
        self._sender_missing = True
        self._wake_pending = False
        if self.spool is not None:
            self.spool.reopen()


_live_clients: weakref.WeakSet[ClientCore] = weakref.WeakSet()
_MANY_CLIENTS = 32


def live_clients() -> list[ClientCore]:
    """Clients not yet garbage-collected (for the exit drain and fork handling)."""
    return list(_live_clients)


def _after_fork_in_child() -> None:
    for client in live_clients():
        with suppress_internal_errors("fork", background=True):
            client._reset_after_fork()  # pyright: ignore[reportPrivateUsage]


os.register_at_fork(after_in_child=_after_fork_in_child)
