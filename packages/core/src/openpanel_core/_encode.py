"""Turning queued calls into wire items; runs on the sender, never on the caller's thread."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpanel_core import _json
from openpanel_core._context import RequestContext
from openpanel_core._errors import EventValidationError
from openpanel_core._session import SessionManager

__all__ = ["Encoder", "Outgoing", "RawItem", "iso_timestamp", "new_id"]

#: A queued call: (type, name or payload, properties, profile_id, device_id, groups, time,
#: explicit timestamp, request context, global properties, client groups), the last two as they
#: were at call time. Tuples are the cheapest thing to build on the hot path.
RawItem = tuple[
    str,
    Any,
    "Mapping[str, Any] | None",
    "str | int | None",
    "str | None",
    "Sequence[str] | None",
    float,
    Any,
    "RequestContext | None",
    "Mapping[str, Any]",
    "tuple[str, ...]",
]

_UTC = dt.timezone.utc


_second_cache: list[Any] = [None, ""]


def iso_timestamp(t: float) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as JavaScript's ``toISOString``."""
    sec = int(t // 1)
    us = round((t - sec) * 1e6)  # datetime's rounding, to the microsecond
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    ms = us // 1000
    cache = _second_cache
    if cache[0] != sec:  # events come in bursts: format the date part once per second
        prefix = dt.datetime.fromtimestamp(sec, _UTC).strftime("%Y-%m-%dT%H:%M:%S")
        cache[0], cache[1] = sec, prefix
    return f"{cache[1]}.{ms:03d}Z"


class _Ids:
    """Idempotency ids: 32 random hex characters (128 bits), drawn from the OS in blocks."""

    def __init__(self, block: int = 256) -> None:
        self._block = block
        self.reset()

    def reset(self) -> None:
        """Forget the buffered ids (a forked child must never reuse its parent's)."""
        self._buf = ""
        self._pos = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            if self._pos >= len(self._buf):
                self._buf = os.urandom(16 * self._block).hex()
                self._pos = 0
            i = self._pos
            self._pos = i + 32
        return self._buf[i : i + 32]


_ids = _Ids()
new_id = _ids.next
os.register_at_fork(after_in_child=_ids.reset)


def _explicit_timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise EventValidationError(
                "timestamp must be timezone-aware (naive datetimes are ambiguous)",
                field="timestamp",
            )
        return iso_timestamp(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return iso_timestamp(float(value))
    if isinstance(value, str) and value:
        return value
    raise EventValidationError(
        "timestamp must be an aware datetime, epoch seconds or an ISO string", field="timestamp"
    )


@dataclass(slots=True)
class Outgoing:
    """One encoded item on its way to the server.

    Attributes:
        id: Idempotency id, kept across retries (and across restarts with the spool).
        type: The wire ``type``.
        body: ``{"type": ..., "payload": ...}`` as compact UTF-8 JSON.
        ip: The end user's IP, when known.
        user_agent: The end user's user agent, when known.
    """

    id: str
    type: str
    body: bytes
    ip: str | None = None
    user_agent: str | None = None

    def wire(self) -> dict[str, Any]:
        """The decoded ``{"type", "payload"}`` dict (for hooks and tests)."""
        result: dict[str, Any] = json.loads(self.body)
        return result

    def batch_element(self) -> bytes:
        """This item as an element of a ``POST /track/batch`` array (no JSON re-encoding)."""
        rid = self.id
        head = b'{"id":"' + rid.encode() + b'"' if rid.isalnum() else b'{"id":' + _json.dumps(rid)
        if self.ip is not None or self.user_agent is not None:
            head += _context_suffix(self.ip, self.user_agent)
        return head + b"," + self.body[1:]


_suffix_cache: dict[tuple[str | None, str | None], bytes] = {}


def _context_suffix(ip: str | None, user_agent: str | None) -> bytes:
    # Events of one request share ip and user agent: escape them once.
    key = (ip, user_agent)
    suffix = _suffix_cache.get(key)
    if suffix is None:
        suffix = b""
        if ip:
            suffix += b',"ip":' + _json.dumps(ip)
        if user_agent:
            suffix += b',"userAgent":' + _json.dumps(user_agent)
        if len(_suffix_cache) >= 4096:
            _suffix_cache.clear()
        _suffix_cache[key] = suffix
    return suffix


class Encoder:
    """Builds wire items from queued calls with the client's shared state.

    Args:
        device_id: The client's own device id, used outside request contexts.
        sessions: The client-side session, used with ``device_id`` outside request contexts.
        before_send: User hook; returns the (possibly changed) wire item or None to drop it.
    """

    def __init__(
        self,
        *,
        device_id: str | None,
        sessions: SessionManager | None,
        before_send: Callable[[dict[str, Any]], dict[str, Any] | None] | None,
    ) -> None:
        self.device_id = device_id
        self._sessions = sessions
        self._before_send = before_send

    def encode(self, raw: RawItem) -> tuple[Outgoing | None, dict[str, Any]]:
        """Encode one queued call.

        Returns:
            The outgoing item (None when ``before_send`` dropped it) and the wire dict.

        Raises:
            EventValidationError: The call cannot become a valid event.
        """
        kind, first, properties, profile_id, device_id, groups, t, explicit_ts, ctx, gp, cg = raw
        if kind == "track":
            try:
                wire = self._track(
                    first, properties, profile_id, device_id, groups, t, explicit_ts, ctx, gp, cg
                )
            except (TypeError, ValueError, AttributeError) as exc:
                field = "properties" if properties is not None else "groups"
                raise EventValidationError(
                    f"track arguments are not usable: {exc}", field=field
                ) from exc
        else:
            payload: dict[str, Any] = dict(first)
            if kind == "identify":
                # As @openpanel/sdk does: global properties go into the profile too.
                props: dict[str, Any] = {**gp, **(payload.get("properties") or {})}
                if props:
                    payload["properties"] = props
            if kind == "assign_group" and "profileId" not in payload and ctx and ctx.profile_id:
                payload["profileId"] = ctx.profile_id
            wire = {"type": kind, "payload": payload}
        if self._before_send is not None:
            from openpanel_core._guard import call_user_hook

            ok, changed = call_user_hook("before_send", self._before_send, wire)
            if not ok or changed is None:
                return None, wire
            wire = changed
        try:
            body = _json.dumps(wire)
        except (TypeError, ValueError) as exc:
            raise EventValidationError(
                f"properties are not JSON serialisable: {exc}", field="properties"
            ) from exc
        item = Outgoing(
            id=new_id(),
            type=str(wire.get("type", kind)),
            body=body,
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else None,
        )
        return item, wire

    def encode_many(self, raws: Sequence[RawItem]) -> list[Outgoing | None]:
        """Encode ``track`` calls in one tight loop (the sender's hot path).

        Returns a list aligned with ``raws``: an item, or None where the call needs the general
        :meth:`encode` (other types, ``before_send``, values that fail validation or encoding,
        which :meth:`encode` reports).
        """
        out: list[Outgoing | None] = [None] * len(raws)
        if self._before_send is not None:
            return out
        dumps = _json.dumps
        track = self._track
        ids = os.urandom(16 * len(raws)).hex()  # one system call per job, not per event
        for k, raw in enumerate(raws):
            kind, name, properties, profile_id, device_id, groups, t, ts, ctx, gp, cg = raw
            if kind != "track":
                continue
            try:
                body = dumps(
                    track(name, properties, profile_id, device_id, groups, t, ts, ctx, gp, cg)
                )
            except (EventValidationError, TypeError, ValueError):
                continue
            if ctx is None:
                out[k] = Outgoing(ids[32 * k : 32 * k + 32], "track", body)
            else:
                out[k] = Outgoing(ids[32 * k : 32 * k + 32], "track", body, ctx.ip, ctx.user_agent)
        return out

    def _track(
        self,
        name: str,
        properties: Mapping[str, Any] | None,
        profile_id: str | int | None,
        device_id: str | None,
        groups: Sequence[str] | None,
        t: float,
        explicit_ts: Any,
        ctx: RequestContext | None,
        global_properties: Mapping[str, Any],
        client_groups: tuple[str, ...],
    ) -> dict[str, Any]:
        props: dict[str, Any] = dict(global_properties)
        if ctx is not None and ctx.properties:
            props.update(ctx.properties)
        if properties:
            props.update(properties)
        props["__timestamp"] = (
            iso_timestamp(t) if explicit_ts is None else _explicit_timestamp(explicit_ts)
        )
        if ctx is not None:
            profile_id = profile_id if profile_id is not None else ctx.profile_id
            device_id = device_id or ctx.device_id
        elif device_id is None and self.device_id is not None:
            device_id = self.device_id
            if self._sessions is not None:
                props["__sessionId"] = self._sessions.touch(t)
        if device_id:
            props["__deviceId"] = device_id
        payload: dict[str, Any] = {"name": name, "properties": props}
        if profile_id is not None and profile_id != "":
            payload["profileId"] = profile_id
        all_groups = client_groups
        if ctx is not None and ctx.groups:
            all_groups = (*all_groups, *ctx.groups)
        if groups:
            all_groups = (*all_groups, *groups)
        if all_groups:
            payload["groups"] = list(dict.fromkeys(all_groups))
        return {"type": "track", "payload": payload}
