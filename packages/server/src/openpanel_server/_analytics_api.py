"""``/api/analytics/{query}`` and ``/export/analytics``: the analytics queries over HTTP.

Authenticated as ``/export`` is (``openpanel-client-id`` and ``openpanel-client-secret`` of a
``read`` or ``root`` client; a write client gets 401); every query reads only the client's
project. A query's JSON body is its request model (camelCase, see
:mod:`openpanel_server._analytics`); the answer is the response model's JSON. Invalid input is a
400 ``{"error": "validation", "fields": [{"field": "filters.0.operator", ...}]}`` naming every
failing field by its dotted path; an unknown query name is a 404.

The request models carry no timezone, so ranges and buckets are in UTC. Each query first moves
acknowledged events from the write-ahead log to the store (as ``/export/events`` does), then
runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from openpanel_server._analytics import (
    Analytics,
    CohortActivityRequest,
    CohortDefinition,
    ExportRequest,
    ExportStream,
    FunnelRequest,
    OverviewRequest,
    PathsRequest,
    ProfileListRequest,
    QueryContext,
    RealtimeRequest,
    RetentionRequest,
    SankeyRequest,
    SessionListRequest,
    TimeSeriesRequest,
    TopRequest,
)
from openpanel_server._analytics._base import ApiModel
from openpanel_server._auth import Caller
from openpanel_server._server import Server

__all__ = ["QUERIES", "ExportResponse", "analytics_routes"]

Reader = Callable[[Request], "Caller | Response"]
MAX_BODY = 1 << 20
"""The largest query body accepted (bytes)."""


class CohortSizeResult(ApiModel):
    """The answer of ``cohort_size``."""

    size: int


class CohortMembersRequest(ApiModel):
    """The body of ``cohort_members``: a cohort definition and a page."""

    cohort: CohortDefinition
    limit: int = Field(default=100, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0)


class ProfileRequest(ApiModel):
    """The body of ``profile``: the profile id and how many of its latest events to return."""

    profile_id: str = Field(min_length=1, max_length=500)
    events_limit: int = Field(default=50, ge=1, le=1000)


def _cohort_size(a: Analytics, r: CohortDefinition, ctx: QueryContext) -> CohortSizeResult:
    return CohortSizeResult(size=a.cohort_size(r, ctx))


def _cohort_members(a: Analytics, r: CohortMembersRequest, ctx: QueryContext) -> BaseModel:
    return a.cohort_members(r.cohort, ctx, limit=r.limit, offset=r.offset)


def _profile(a: Analytics, r: ProfileRequest, ctx: QueryContext) -> BaseModel:
    return a.profile(r.profile_id, ctx, events_limit=r.events_limit)


Runner = Callable[[Analytics, Any, QueryContext], BaseModel]

QUERIES: dict[str, tuple[type[BaseModel], Runner]] = {
    "overview": (OverviewRequest, Analytics.overview),
    "top": (TopRequest, Analytics.top),
    "time_series": (TimeSeriesRequest, Analytics.time_series),
    "funnel": (FunnelRequest, Analytics.funnel),
    "retention": (RetentionRequest, Analytics.retention),
    "cohort_size": (CohortDefinition, _cohort_size),
    "cohort_members": (CohortMembersRequest, _cohort_members),
    "cohort_activity": (CohortActivityRequest, Analytics.cohort_activity),
    "paths": (PathsRequest, Analytics.paths),
    "sankey": (SankeyRequest, Analytics.sankey),
    "sessions": (SessionListRequest, Analytics.sessions),
    "session_stats": (SessionListRequest, Analytics.session_stats),
    "profiles": (ProfileListRequest, Analytics.profiles),
    "profile": (ProfileRequest, _profile),
    "realtime": (RealtimeRequest, Analytics.realtime),
}
"""Query name (the ``{query}`` of the route) to its request model and runner."""


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _validation(exc: ValidationError) -> JSONResponse:
    fields = [
        {
            "field": ".".join(str(p) for p in err["loc"]) or "body",
            "type": err["type"],
            "message": err["msg"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return JSONResponse({"error": "validation", "fields": fields}, status_code=400)


def _body_error(exc: _BodyError) -> JSONResponse:
    if exc.status == 413:
        return JSONResponse(
            {"error": "Payload Too Large", "message": exc.message}, status_code=exc.status
        )
    field = {"field": "body", "type": "invalid_body", "message": exc.message}
    return JSONResponse({"error": "validation", "fields": [field]}, status_code=400)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise _BodyError(413, f"the body is over {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _BodyError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _BodyError(400, "the body must be a JSON object")
    return data  # pyright: ignore[reportUnknownVariableType]


def _export_query(request: Request) -> dict[str, Any]:
    """An :class:`ExportRequest` body from ``/export/analytics`` query parameters.

    ``events`` and ``includes`` are comma-separated or repeated; ``filters`` is a JSON array.
    """
    q = request.query_params
    body: dict[str, Any] = {}
    for key in ("format", "range", "startDate", "endDate"):
        if key in q:
            body[key] = q[key]
    for key in ("events", "includes"):
        values = [p.strip() for v in q.getlist(key) for p in v.split(",") if p.strip()]
        if values:
            body[key] = values
    if "filters" in q:
        try:
            body["filters"] = json.loads(q["filters"])
        except ValueError:
            raise _BodyError(400, "filters is not a JSON array") from None
    return body


class ExportResponse(StreamingResponse):
    """Streams an :class:`ExportStream` and closes it however the response ends."""

    def __init__(self, stream: ExportStream, filename: str) -> None:
        self._export = stream
        chunks: Iterator[bytes] = iter(stream)
        super().__init__(
            chunks,
            media_type=stream.media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Done, client gone or cancelled: stop the query and release its connection.
            # (A read in a worker thread is never abandoned, so none is running now.)
            self._export.close()


def analytics_routes(server: Server, reader: Reader) -> list[Route]:
    """The analytics routes of ``server``, authenticated by ``reader`` (as ``/export`` is)."""
    analytics = Analytics(server.store)

    def _context(caller: Caller) -> QueryContext:
        return QueryContext(project_id=caller.project.id, timezone="UTC")

    def _run(runner: Runner, model: BaseModel, ctx: QueryContext) -> dict[str, Any]:
        server.flush()
        return runner(analytics, model, ctx).model_dump(mode="json", by_alias=True)

    async def query(request: Request) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        name = request.path_params["query"]
        if name == "export":
            return await _export(caller, request, from_body=True)
        entry = QUERIES.get(name)
        if entry is None:
            known = sorted([*QUERIES, "export"])
            return JSONResponse(
                {"error": "Not Found", "message": f"no query {name!r}; known: {known}"},
                status_code=404,
            )
        model_type, runner = entry
        try:
            model = model_type.model_validate(await _json_object(request))
            result = await run_in_threadpool(_run, runner, model, _context(caller))
        except _BodyError as exc:
            return _body_error(exc)
        except ValidationError as exc:
            return _validation(exc)
        return JSONResponse(result)

    def _open(model: ExportRequest, ctx: QueryContext) -> ExportStream:
        server.flush()
        return analytics.export(model, ctx)

    async def _export(caller: Caller, request: Request, *, from_body: bool) -> Response:
        try:
            body = await _json_object(request) if from_body else _export_query(request)
            model = ExportRequest.model_validate(body)
            ctx = _context(caller)
            stream = await run_in_threadpool(_open, model, ctx)
        except _BodyError as exc:
            return _body_error(exc)
        except ValidationError as exc:
            return _validation(exc)
        day = ctx.current_time().astimezone(dt.timezone.utc).date().isoformat()
        ext = "csv" if model.format == "csv" else "ndjson"
        filename = f"openpanel-events-{_safe(caller.project.id)}-{day}.{ext}"
        return ExportResponse(stream, filename)

    async def export_get(request: Request) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        return await _export(caller, request, from_body=False)

    return [
        Route("/api/analytics/{query}", query, methods=["POST"]),
        Route("/export/analytics", export_get, methods=["GET"]),
    ]


def _safe(value: str) -> str:
    """``value`` with only characters that need no quoting in a header filename."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)
