"""``/track/batch`` from body bytes to per-item outcomes: the stateless half of a batch.

Everything here is pure (no live sessions, no log, no store), so it runs either on the request
path or in an ingestion worker process (:mod:`openpanel_server._batch_pool`): inflating the
body, parsing and validating it, the revenue and bot rules, each item's IP and user agent, and
for ``track`` items everything :func:`~openpanel_server._ingest.prepare_track` does. The owner
process then commits the outcomes in order (idempotency ids, sessions, the write-ahead log).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import ValidationError

from openpanel_core._models import batch_request_adapter
from openpanel_server import _fastjson as fastjson
from openpanel_server._geo import Geo
from openpanel_server._ingest import IngestError, RequestInfo, prepare_track
from openpanel_server._normalize import detect_bot, normalize_ip

__all__ = [
    "BatchContext",
    "BodyError",
    "Done",
    "Item",
    "Outcome",
    "inflate",
    "parse_batch",
    "triage",
    "validation_error",
]


class BodyError(Exception):
    """The body as a whole is refused: HTTP ``status`` (400 or 413) and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __reduce__(self) -> tuple[type[BodyError], tuple[int, str]]:
        return (BodyError, (self.status, self.message))  # raised in worker processes too


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What the stateless half needs to know of the request and its caller (picklable).

    Attributes:
        project_id: The caller's project.
        trusted: The caller sent the client secret (no bot checks, revenue allowed).
        revenue_allowed: ``__revenue`` is accepted (trusted, or the project allows it).
        salt: Today's device-id salt.
        request: The request's facts; an item naming its own ip or user agent gets a copy
            with those.
    """

    project_id: str
    trusted: bool
    revenue_allowed: bool
    salt: str
    request: RequestInfo


#: An item answered already (refused, or a bot): its result object.
Done = tuple[Literal["done"], dict[str, Any]]
#: An item to commit: its id, its request facts, and a validated model or a PreparedTrack.
Item = tuple[Literal["item"], str, RequestInfo, Any]
Outcome = Done | Item


def inflate(body: bytes, limit: int) -> bytes:
    """Gunzip a request body, refusing more than ``limit`` bytes of output.

    Raises:
        BodyError: 400 (not gzip) or 413 (over ``limit``).
    """
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BodyError(400, "body is not valid gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(413, f"body is over {limit} bytes")
    return out


def parse_batch(body: bytes) -> list[Any]:
    """The body's JSON array.

    Raises:
        BodyError: 400: not JSON, or not a non-empty array.
    """
    try:
        data = fastjson.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BodyError(400, "body is not valid JSON") from None
    if not isinstance(data, list) or not data:
        raise BodyError(400, "body must be a non-empty JSON array")
    return cast("list[Any]", data)


def validation_error(exc: ValidationError, *, in_list: bool = False) -> tuple[str, str]:
    """The dotted field and message of a validation error's first problem.

    With ``in_list`` the leading list index is dropped (the item was validated alone); the union tag pydantic adds for the
    item ``type`` is dropped too, so the field reads as on the wire (``payload.name``).
    """
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    if in_list and loc:
        loc = loc[1:]  # the index in the one-element list the item was validated in
    if loc and loc[0] in (
        "track",
        "identify",
        "increment",
        "decrement",
        "alias",
        "group",
        "assign_group",
        "replay",
    ):
        loc = loc[1:]
    field = ".".join(loc) or "body"
    return field, err["msg"]


def _has_revenue(element: object) -> bool:
    if not isinstance(element, Mapping):
        return False
    payload = cast("Mapping[str, Any]", element).get("payload")
    if not isinstance(payload, Mapping):
        return False
    props = cast("Mapping[str, Any]", payload).get("properties")
    return isinstance(props, Mapping) and "__revenue" in props


def triage(
    data: list[Any], ctx: BatchContext, geo: Callable[[str], Geo] | None = None
) -> list[Outcome]:
    """One outcome per element, in order.

    The whole array is validated in one call; element by element only when something is
    wrong, so one bad item never rejects the others. With ``geo`` (in a worker), ``track``
    items are also prepared (:func:`prepare_track`); without it they stay models.
    """
    try:
        models: list[Any] | None = batch_request_adapter.validate_python(data)
    except ValidationError:
        models = None
    out: list[Outcome] = []
    requests: dict[tuple[str, str], RequestInfo] = {}
    for index, element in enumerate(data):
        if models is not None:
            model = models[index]
            rid: str = model.id
        else:
            item_id = (
                cast("Mapping[str, Any]", element).get("id") if isinstance(element, dict) else None
            )
            rid = item_id if isinstance(item_id, str) else ""
            try:
                [model] = batch_request_adapter.validate_python([element])
            except ValidationError as exc:
                field, msg = validation_error(exc, in_list=True)
                out.append(("done", {"id": rid, "status": 400, "error": field, "message": msg}))
                continue
        if not ctx.revenue_allowed and _has_revenue(cast("object", element)):
            out.append(
                (
                    "done",
                    {
                        "id": rid,
                        "status": 401,
                        "error": "payload.properties.__revenue",
                        "message": "Revenue tracking is not allowed without a client secret",
                    },
                )
            )
            continue
        base = ctx.request
        ua: str = model.user_agent or base.user_agent
        # As for /track's openpanel-client-ip: only a public address counts.
        ip: str = normalize_ip(model.ip) if model.ip is not None else base.ip
        if not ctx.trusted and detect_bot(ua) is not None:
            out.append(("done", {"id": rid, "status": 202, "error": "bot", "message": "bot"}))
            continue
        req = requests.get((ip, ua))
        if req is None:
            req = requests[(ip, ua)] = dataclasses.replace(base, ip=ip, user_agent=ua)
        item: Any = model
        if geo is not None and model.type == "track":
            try:
                item = prepare_track(
                    model, ctx.project_id, req, rid, ctx.salt, geo, trusted=ctx.trusted
                )
            except IngestError as exc:
                out.append(("done", error_result(rid, exc)))
                continue
        out.append(("item", rid, req, item))
    return out


def error_result(rid: str, exc: IngestError) -> dict[str, Any]:
    """A refused item's result object."""
    return {"id": rid, "status": exc.status, "error": exc.field, "message": exc.message}
