"""From a validated ``/track`` item to the rows the store will hold (protocol note section 2).

:meth:`Ingestor.process` runs on the request path and does no I/O: it resolves time, IP, user
agent, device and session, normalises paths and referrers, and returns *records* (plain JSON
dicts) that the server appends to its write-ahead log before it answers. The flusher turns the
records into store rows later.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from openpanel_core._models import (
    AssignGroupEvent,
    DecrementEvent,
    GroupEvent,
    IdentifyEvent,
    IncrementEvent,
    ReplayEvent,
    TrackEvent,
)
from openpanel_server import _fastjson as fastjson
from openpanel_server._auth import Caller
from openpanel_server._geo import EMPTY_GEO, Geo
from openpanel_server._normalize import (
    UserAgentInfo,
    classify_referrer,
    device_id,
    event_name_problem,
    parse_path,
    parse_user_agent,
    resolve_timestamp,
    to_dots,
)
from openpanel_server._sessions import LiveSession, SessionTracker

__all__ = ["IngestError", "Ingestor", "Record", "RequestInfo", "Result", "session_end_id"]

#: (kind, row) with kind "event", "profile", "group", ...; a row is a JSON-ready dict, or the
#: JSON object itself (bytes) when it was serialised already.
Record = tuple[str, dict[str, Any] | bytes]

_STRIPPED = frozenset(
    ("__path", "__referrer", "__timestamp", "__revenue", "__bot", "__bot_reasons")
)
_UA_PROFILE_FIELDS = ("os", "os_version", "browser", "browser_version", "device", "brand", "model")


class IngestError(Exception):
    """A refused item: HTTP status, the field at fault and a message for the JSON body."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The request facts an item is processed with."""

    ip: str
    user_agent: str
    sdk_name: str
    sdk_version: str
    received_at: dt.datetime
    wall: float
    #: Soft bot signals of the request (``header:missing_sec_fetch,...``), for browser callers.
    bot_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    """The answer to the caller and the records to make durable."""

    device_id: str
    session_id: str
    records: list[Record]


_SESSION_END_NS = uuid.UUID("5d3c1f4e-7b0a-4c52-9a47-0e6f3b2d8c11")


def session_end_id(session_id: str) -> str:
    """The id of a session's ``session_end`` event: one per session, even across a crash."""
    return uuid.uuid5(_SESSION_END_NS, session_id).hex


def _no_geo(ip: str) -> Geo:
    return EMPTY_GEO


@functools.lru_cache(maxsize=1024)  # a request's items share its arrival time
def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=1024)
def _epoch_ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _iso_ms(epoch_ms: int) -> str:
    return _iso(dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc))


class PreparedTrack(NamedTuple):
    """The stateless half of a ``track`` item (see :func:`prepare_track`).

    A named tuple of plain values, cheap to pickle: workers send these to the owner.

    Attributes:
        project_id: The caller's project.
        name: The event name.
        revenue: ``__revenue`` (cents) for a ``revenue`` event, else 0.
        row_json: The event row as a JSON object, every column but the session fields
            (``session_id``, ``device_id``, ``profile_id`` and the referrer), which
            :meth:`Ingestor.commit_track` adds.
        event_ms: The event time, epoch milliseconds.
        server_side: A server caller or a backdated event: it opens no session.
        from_past: Backdated more than 15 minutes (joins no session either).
        profile_id: The profile named by the item (``''`` when none).
        device: The device id (the hashed one, or the item's ``__deviceId``).
        answer_device: The device id the caller is answered with.
        path: The page path, for the session's entry/exit.
        origin: The page origin.
        referrer: ``(url, name, type)`` as classified.
        identify: An inline ``__identify`` mapping, if any.
        ua: The parsed user agent, when ``identify`` needs it for the profile.
    """

    project_id: str
    name: str
    revenue: int
    row_json: bytes
    event_ms: int
    server_side: bool
    from_past: bool
    profile_id: str
    device: str
    answer_device: str
    path: str
    origin: str
    referrer: tuple[str, str, str]
    identify: dict[str, Any] | None
    ua: UserAgentInfo | None


def prepare_track(
    item: TrackEvent,
    project_id: str,
    req: RequestInfo,
    event_id: str | None,
    salt: str,
    geo: Callable[[str], Geo] = _no_geo,
    *,
    trusted: bool = False,
) -> PreparedTrack:
    """The part of a ``track`` item that needs no live state; pure, so it may run anywhere.

    Name checks, time, user agent, geo, device id, path, referrer and the event row.

    Args:
        item: The validated item.
        project_id: The caller's project.
        req: The item's request facts.
        event_id: The idempotency id (a random id when None).
        salt: Today's device-id salt.
        geo: IP to place.
        trusted: The caller sent the client secret (the request's bot signals are ignored).

    Returns:
        The prepared item for :meth:`Ingestor.commit_track`.

    Raises:
        IngestError: The event name is refused.
    """
    p = item.payload
    problem = event_name_problem(p.name)
    if problem:
        raise IngestError(400, "payload.name", problem)
    props: dict[str, Any] = dict(p.properties or {})
    created_at, from_past = resolve_timestamp(props.get("__timestamp"), req.received_at)
    ip = req.ip
    override_ip = props.get("__ip")
    if isinstance(override_ip, str) and override_ip:
        ip = override_ip
    ua = parse_user_agent(req.user_agent, props)
    where = geo(ip)
    revenue = 0
    if p.name == "revenue" and "__revenue" in props:
        revenue = int(props["__revenue"])
    profile_id = str(p.profile_id) if p.profile_id is not None else ""
    raw_identify = props.get("__identify")
    identify: dict[str, Any] | None = (
        dict(raw_identify) if isinstance(raw_identify, Mapping) else None  # pyright: ignore[reportUnknownArgumentType]
    )
    if identify and identify.get("profileId"):
        profile_id = str(identify["profileId"])
    hashed_device = device_id(req.user_agent, ip, project_id, salt)
    forced = props.get("__deviceId")
    if isinstance(forced, str) and 0 < len(forced.strip()) <= 64:
        device = forced.strip()
    else:
        device = hashed_device
    page_url = str(props.get("__path") or "")
    parsed = parse_path(page_url)
    referrer = classify_referrer(
        str(props.get("__referrer") or "") or None, page_url or None, parsed.query
    )
    stored = (
        {k: v for k, v in props.items() if k not in _STRIPPED}
        if _STRIPPED & props.keys()
        else props
    )
    if req.bot_reasons and not trusted and not ua.is_server:
        stored["__bot_reasons"] = ",".join(req.bot_reasons)
        if len({reason.split(":", 1)[0] for reason in req.bot_reasons}) >= 2:
            stored["__bot"] = "1"
    if parsed.query:
        stored["__query"] = dict(parsed.query)
    if parsed.hash:
        stored["__hash"] = parsed.hash
    row: dict[str, Any] = {
        "id": event_id or uuid.uuid4().hex,
        "project_id": project_id,
        "name": p.name,
        "created_at": _iso(created_at),
        "path": parsed.path,
        "origin": parsed.origin,
        "revenue": revenue,
        "duration": 0,
        "properties": to_dots(stored),
        "groups": list(p.groups or []),
        "country": where.country,
        "city": where.city,
        "region": where.region,
        "longitude": where.longitude,
        "latitude": where.latitude,
        "os": ua.os,
        "os_version": ua.os_version,
        "browser": ua.browser,
        "browser_version": ua.browser_version,
        "device": ua.device,
        "brand": ua.brand,
        "model": ua.model,
        "sdk_name": req.sdk_name,
        "sdk_version": req.sdk_version,
        "imported_at": None,
    }
    return PreparedTrack(  # positional: the hot path of every batch item
        project_id,
        p.name,
        revenue,
        fastjson.dumps(row),
        _epoch_ms(created_at),
        ua.is_server or from_past,
        from_past,
        profile_id,
        device,
        hashed_device if not isinstance(forced, str) else device,
        parsed.path,
        parsed.origin,
        (referrer.url, referrer.name, referrer.type),
        identify,
        ua if identify else None,
    )


class Ingestor:
    """Turns validated items into records (thread-safe)."""

    def __init__(
        self, sessions: SessionTracker, salts: Any, geo: Callable[[str], Geo] | None = None
    ) -> None:
        self.sessions = sessions
        self._salts = salts
        self._geo: Callable[[str], Geo] = geo or _no_geo
        self._profiles: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ entry point

    def process(self, item: Any, caller: Caller, req: RequestInfo, event_id: str | None) -> Result:
        """Process one validated item: a ``/track`` model or a ``/track/batch`` item.

        Both kinds come from ``openpanel_core._models`` and carry the same ``type`` literal
        and ``payload`` model, so batch items are processed as they are (no conversion).
        """
        kind = item.type
        if kind == "track":
            return self._track(item, caller, req, event_id)
        if kind == "identify":
            return self._identify(item, caller, req)
        if kind in ("increment", "decrement"):
            return self._adjust(item, caller, req)
        if kind == "group":
            return self._group(item, caller, req)
        if kind == "assign_group":
            return self._assign_group(item, caller, req)
        if kind == "alias":
            raise IngestError(400, "type", "Alias is not supported")
        if kind == "replay":
            return self._replay(item, caller, req)
        raise IngestError(400, "type", "Unknown type")  # pragma: no cover - the union is closed

    # ------------------------------------------------------------------ track

    def _track(
        self, item: TrackEvent, caller: Caller, req: RequestInfo, event_id: str | None
    ) -> Result:
        salt, _previous = self._salts()
        prepared = prepare_track(
            item, caller.project.id, req, event_id, salt, self._geo, trusted=caller.secret_verified
        )
        return self.commit_track(prepared, req)

    def commit_track(self, t: PreparedTrack, req: RequestInfo) -> Result:
        """The stateful half of a ``track``: the live session, then the records.

        Args:
            t: What :func:`prepare_track` made of the item (here or in a worker process).
            req: The item's request facts (its own ip and user agent for a batch item).

        Returns:
            The answer and the records to make durable.
        """
        project_id = t.project_id
        profile_id = t.profile_id
        referrer = t.referrer
        records: list[Record] = []
        stored_device, stored_session = t.device, ""
        if t.server_side:
            stored_device = ""
            if profile_id and not t.from_past:
                found = self.sessions.for_profile(project_id, profile_id, t.event_ms)
                if found is not None:
                    stored_device, stored_session = found.device_id, found.id
        else:
            live, started, ended = self.sessions.touch(
                project_id,
                t.device,
                t.event_ms,
                req.wall,
                profile_id=profile_id or t.device,
                path=t.path,
                origin=t.origin,
                screen_view=t.name == "screen_view",
                revenue=t.revenue,
                referrer=referrer,
            )
            stored_session = live.id
            if ended is not None:
                records.append(self.session_end_record(ended, req))
                records.append(self.session_record(ended))
            if started:
                first: dict[str, Any] = fastjson.loads(t.row_json)
                first.update(
                    {
                        "id": uuid.uuid4().hex,
                        "name": "session_start",
                        # 100 ms before the event that opens the session
                        "created_at": _iso_ms(t.event_ms - 100),
                        "session_id": live.id,
                        "device_id": t.device,
                        "profile_id": profile_id or t.device,
                        "referrer": referrer[0],
                        "referrer_name": referrer[1],
                        "referrer_type": referrer[2],
                        "groups": [],
                        "revenue": 0,
                    }
                )
                live.first_event = first
                records.append(("event", first))
            else:  # the session keeps its first-touch referrer
                referrer = (live.referrer, live.referrer_name, live.referrer_type)
        if not profile_id:
            profile_id = stored_device
        # The row's JSON as prepared, the session fields put in front (no re-serialising).
        head = fastjson.dumps(
            {
                "session_id": stored_session,
                "device_id": stored_device,
                "profile_id": profile_id,
                "referrer": referrer[0],
                "referrer_name": referrer[1],
                "referrer_type": referrer[2],
            }
        )
        records.append(("event", head[:-1] + b"," + t.row_json[1:]))
        if t.identify and len(t.identify) > 1:
            records.append(self._profile_record(project_id, profile_id, t.identify, t.ua, req))
        return Result(t.answer_device, stored_session, records)

    def bot_record(
        self, caller: Caller, name: str, kind: str, path: str, when: dt.datetime
    ) -> Record:
        """The ``events_bots`` row of a refused bot hit (OpenPanel writes one per page hit)."""
        return (
            "bot",
            {
                "id": uuid.uuid4().hex,
                "project_id": caller.project.id,
                "name": name,
                "type": kind,
                "path": path,
                "created_at": _iso(when),
            },
        )

    def session_end_record(self, s: LiveSession, req: RequestInfo) -> Record:
        """The ``session_end`` event of a closed session."""
        first = s.first_event
        ended = dt.datetime.fromtimestamp(s.last_ms / 1000, dt.timezone.utc)
        row = dict(first) if first else {}
        row.update(
            {
                "id": session_end_id(s.id),
                "project_id": s.project_id,
                "name": "session_end",
                "device_id": s.device_id,
                "profile_id": s.profile_id,
                "session_id": s.id,
                "created_at": _iso(ended + dt.timedelta(seconds=1)),
                "path": s.exit_path,
                "origin": s.exit_origin,
                "duration": max(0, s.last_ms - s.started_ms),
                "properties": {"__bounce": "true" if s.screen_views <= 1 else "false"},
                "groups": [],
                "revenue": 0,
            }
        )
        row.setdefault("sdk_name", req.sdk_name)
        row.setdefault("sdk_version", req.sdk_version)
        return ("event", row)

    def session_record(self, s: LiveSession) -> Record:
        """The final ``sessions`` row of a closed session (one version, sign 1)."""
        first: dict[str, Any] = dict(s.first_event)
        props: dict[str, Any] = dict(first.get("properties") or {})
        started = dt.datetime.fromtimestamp(s.started_ms / 1000, dt.timezone.utc)
        ended = dt.datetime.fromtimestamp(s.last_ms / 1000, dt.timezone.utc)
        row: dict[str, Any] = {
            "id": s.id,
            "project_id": s.project_id,
            "created_at": _iso(started),
            "ended_at": _iso(ended),
            "version": 1,
            "sign": 1,
            "profile_id": s.profile_id,
            "device_id": s.device_id,
            "is_bounce": s.screen_views <= 1,
            "entry_origin": s.entry_origin,
            "entry_path": s.entry_path,
            "exit_origin": s.exit_origin,
            "exit_path": s.exit_path,
            "screen_view_count": s.screen_views,
            "revenue": float(s.revenue),
            "event_count": s.events,
            "duration": max(0, s.last_ms - s.started_ms),
            "referrer": s.referrer,
            "referrer_name": s.referrer_name,
            "referrer_type": s.referrer_type,
        }
        for name in (
            "country",
            "region",
            "city",
            "longitude",
            "latitude",
            "device",
            "brand",
            "model",
            "browser",
            "browser_version",
            "os",
            "os_version",
        ):
            if name in first:
                row[name] = first[name]
        for utm in ("utm_medium", "utm_source", "utm_campaign", "utm_content", "utm_term"):
            value = props.get(f"__query.{utm}")
            if isinstance(value, str):
                row[utm] = value
        return ("session", row)

    # ------------------------------------------------------------------ profiles and groups

    def _profile_record(
        self,
        project_id: str,
        profile_id: str,
        fields: dict[str, Any],
        ua: UserAgentInfo | None,
        req: RequestInfo,
    ) -> tuple[str, dict[str, Any]]:
        now = _iso(req.received_at)
        with self._lock:
            current = dict(self._profiles.get((project_id, profile_id)) or {})
            properties: dict[str, Any] = dict(current.get("properties_raw") or {})
            incoming = fields.get("properties")
            if isinstance(incoming, Mapping):
                properties.update(incoming)  # pyright: ignore[reportUnknownArgumentType]
            if ua is not None and not ua.is_server:
                for name in _UA_PROFILE_FIELDS:
                    value = getattr(ua, name)
                    if value:
                        properties[name] = value
                geo = self._geo(req.ip)
                for name in ("country", "city", "region", "latitude", "longitude"):
                    value = getattr(geo, name)
                    if value:
                        properties[name] = value
            row = {
                "id": profile_id,
                "project_id": project_id,
                "is_external": True,
                "first_name": fields.get("firstName") or current.get("first_name") or "",
                "last_name": fields.get("lastName") or current.get("last_name") or "",
                "email": fields.get("email") or current.get("email") or "",
                "avatar": fields.get("avatar") or current.get("avatar") or "",
                "properties_raw": properties,
                "groups": sorted(
                    set(current.get("groups") or []) | set(fields.get("groups") or [])
                ),
                "created_at": current.get("created_at") or now,
                "last_seen_at": now,
            }
            self._profiles[(project_id, profile_id)] = row
            if len(self._profiles) > 100_000:
                self._profiles.clear()
        out = {k: v for k, v in row.items() if k != "properties_raw"}
        out["properties"] = to_dots(properties)
        return ("profile", out)

    def remember_profile(self, project_id: str, row: Mapping[str, Any]) -> None:
        """Seed the in-memory profile cache from the store (before an increment)."""
        with self._lock:
            self._profiles.setdefault((project_id, str(row["id"])), dict(row))

    def known_profile(self, project_id: str, profile_id: str) -> bool:
        """Whether the profile was written recently (so no store read is needed)."""
        with self._lock:
            return (project_id, profile_id) in self._profiles

    def answer(self, caller: Caller, req: RequestInfo, records: list[Record]) -> Result:
        """As OpenPanel, every accepted type answers the caller's device and live session."""
        salt, _ = self._salts()
        device = device_id(req.user_agent, req.ip, caller.project.id, salt)
        live = self.sessions.is_live(caller.project.id, device, int(req.wall * 1000))
        return Result(device, live.id if live else "", records)

    def _replay(self, item: ReplayEvent, caller: Caller, req: RequestInfo) -> Result:
        p = item.payload
        answer = self.answer(caller, req, [])
        session = p.session_id or answer.session_id
        if not session:
            raise IngestError(400, "payload.sessionId", "No session for this replay chunk")
        started, _ = resolve_timestamp(p.started_at, req.received_at)
        ended, _ = resolve_timestamp(p.ended_at, req.received_at)
        row = {
            "project_id": caller.project.id,
            "session_id": session,
            "chunk_index": p.chunk_index,
            "started_at": _iso(started),
            "ended_at": _iso(max(started, ended)),
            "events_count": min(p.events_count, 65535),
            "is_full_snapshot": p.is_full_snapshot,
            "payload": p.payload,
        }
        return Result(answer.device_id, session, [("replay", row)])

    def _identify(self, item: IdentifyEvent, caller: Caller, req: RequestInfo) -> Result:
        p = item.payload
        fields: dict[str, Any] = {
            "firstName": p.first_name,
            "lastName": p.last_name,
            "email": p.email,
            "avatar": p.avatar,
            "properties": p.properties or {},
        }
        ua = parse_user_agent(req.user_agent, None)
        record = self._profile_record(caller.project.id, str(p.profile_id), fields, ua, req)
        return self.answer(caller, req, [record])

    def _adjust(
        self, item: IncrementEvent | DecrementEvent, caller: Caller, req: RequestInfo
    ) -> Result:
        p = item.payload
        key = (caller.project.id, str(p.profile_id))
        with self._lock:
            current = self._profiles.get(key)
        if current is None:
            raise IngestError(404, "payload.profileId", "Profile not found")
        properties: dict[str, Any] = dict(current.get("properties_raw") or {})
        node: dict[str, Any] = properties
        parts = p.property.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child  # pyright: ignore[reportUnknownVariableType]
        raw = node.get(parts[-1], "0")
        try:
            value = int(float(str(raw)))
        except ValueError:
            raise IngestError(400, "payload.property", "Property value is not a number") from None
        step = int(p.value or 1)
        node[parts[-1]] = value + step if item.type == "increment" else value - step
        record = self._profile_record(
            caller.project.id, str(p.profile_id), {"properties": properties}, None, req
        )
        return self.answer(caller, req, [record])

    def _group(self, item: GroupEvent, caller: Caller, req: RequestInfo) -> Result:
        p = item.payload
        row = {
            "id": p.id,
            "project_id": caller.project.id,
            "type": p.type,
            "name": p.name,
            "properties": to_dots(dict(p.properties or {})),
            "created_at": _iso(req.received_at),
            "version": int(req.wall * 1000),
            "deleted": 0,
        }
        return self.answer(caller, req, [("group", row)])

    def _assign_group(self, item: AssignGroupEvent, caller: Caller, req: RequestInfo) -> Result:
        p = item.payload
        if p.profile_id is not None:
            profile_id = str(p.profile_id)
        else:
            salt, _ = self._salts()
            profile_id = device_id(req.user_agent, req.ip, caller.project.id, salt)
        record = self._profile_record(
            caller.project.id, profile_id, {"groups": list(p.group_ids)}, None, req
        )
        if p.profile_id is None:
            record[1]["is_external"] = False
        return self.answer(caller, req, [record])
