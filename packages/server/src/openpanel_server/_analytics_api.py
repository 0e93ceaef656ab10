"""``/api/analytics/{query}`` and ``/export/analytics``: the analytics queries over HTTP.

Authenticated as ``/export`` is (``openpanel-client-id`` and ``openpanel-client-secret`` of a
``read`` or ``root`` client; a write client gets 401); every query reads only the client's
project. A query's JSON body is its request model (camelCase, see
:mod:`openpanel_server._analytics`); the answer is the response model's JSON. Invalid input is a
400 ``{"error": "validation", "fields": [{"field": "filters.0.operator", ...}]}`` naming every
failing field by its dotted path; an unknown query name is a 404.

Ranges and buckets follow the project's timezone (``openpanel-server project create NAME
--timezone Europe/Berlin`` or ``project update ID --timezone ...``; default UTC). A request
cannot pick another one: the request models have no timezone field, so one sent is a 400.
Every query sees the project's saved cohorts (``/api/cohorts``), so an ``inCohort`` filter may
name their ids; an unknown id is a 400 naming the filter value. Each query first moves
acknowledged events from the write-ahead log to the store (as ``/export/events`` does), then
runs in a worker thread, never on the event loop.

``GET /api/me`` answers who is calling (same credentials): ``{"clientId", "clientType",
"projectId", "projectName", "timezone"}``, so a page can offer root-only actions (saving
cohorts, redelivering webhooks) only to a ``root`` client.

Also here: ``GET /api/analytics/realtime/stream`` (server-sent events of the ``realtime``
query, see :mod:`openpanel_server._realtime_stream`), the ``/api/cohorts`` routes (see
:mod:`openpanel_server._cohort_api`) and OpenPanel's ``GET /export/charts`` (see
:mod:`openpanel_server._export_charts`).
"""

from __future__ import annotations

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
    AnalyticsClient,
    CohortActivityRequest,
    CohortDefinition,
    EventNamesRequest,
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
    SessionRequest,
    TimeSeriesRequest,
    TopRequest,
)
from openpanel_server._analytics._base import ApiModel
from openpanel_server._auth import Caller
from openpanel_server._cohort_api import cohort_routes, saved_definitions, validation_response
from openpanel_server._export_charts import chart_request, run_chart
from openpanel_server._realtime_stream import RealtimeStreams, StreamResponse
from openpanel_server._server import Server

__all__ = ["QUERIES", "ExportResponse", "RealtimeStreamRequest", "analytics_routes"]

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


class RealtimeStreamRequest(RealtimeRequest):
    """The query parameters of ``/api/analytics/realtime/stream``.

    Attributes:
        interval: Seconds between events (1..60, default 2).
    """

    interval: int = Field(default=2, ge=1, le=60)


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
    "session": (SessionRequest, Analytics.session),
    "session_stats": (SessionListRequest, Analytics.session_stats),
    "profiles": (ProfileListRequest, Analytics.profiles),
    "profile": (ProfileRequest, _profile),
    "realtime": (RealtimeRequest, Analytics.realtime),
    "event_names": (EventNamesRequest, Analytics.event_names),
}
"""Query name (the ``{query}`` of the route) to its request model and runner."""


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _validation(exc: ValidationError) -> JSONResponse:
    return validation_response(exc)


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
    """The analytics routes of ``server``, authenticated by ``reader`` (as ``/export`` is).

    Besides ``/api/analytics/{query}`` and ``/export/analytics``: ``/api/me``, the realtime
    event stream, ``/api/cohorts`` and ``/export/charts``.
    """
    analytics = Analytics(server.store)
    streams = RealtimeStreams()

    def _context(caller: Caller) -> QueryContext:
        """The project's context (its timezone and saved cohorts); reads SQLite, so threads."""
        project = caller.project
        return QueryContext(
            project_id=project.id,
            timezone=project.timezone,
            cohorts=saved_definitions(server.meta, project.id),
        )

    def _run(runner: Runner, model: BaseModel, caller: Caller) -> dict[str, Any]:
        server.flush()
        result = runner(analytics, model, _context(caller))
        return result.model_dump(mode="json", by_alias=True)

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
            result = await run_in_threadpool(_run, runner, model, caller)
        except _BodyError as exc:
            return _body_error(exc)
        except ValidationError as exc:
            return _validation(exc)
        return JSONResponse(result)

    def _open(model: ExportRequest, caller: Caller) -> tuple[ExportStream, QueryContext]:
        server.flush()
        ctx = _context(caller)
        return analytics.export(model, ctx), ctx

    async def _export(caller: Caller, request: Request, *, from_body: bool) -> Response:
        try:
            body = await _json_object(request) if from_body else _export_query(request)
            model = ExportRequest.model_validate(body)
            stream, ctx = await run_in_threadpool(_open, model, caller)
        except _BodyError as exc:
            return _body_error(exc)
        except ValidationError as exc:
            return _validation(exc)
        day = ctx.current_time().astimezone(ctx.zone).date().isoformat()
        ext = "csv" if model.format == "csv" else "ndjson"
        filename = f"openpanel-events-{_safe(caller.project.id)}-{day}.{ext}"
        return ExportResponse(stream, filename)

    async def export_get(request: Request) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        if (refused := _timezone_param(request, caller)) is not None:
            return refused
        return await _export(caller, request, from_body=False)

    def _realtime(model: RealtimeRequest, caller: Caller) -> bytes:
        server.flush()
        result = analytics.realtime(model, _context(caller))
        return result.model_dump_json(by_alias=True).encode()

    async def realtime_stream(request: Request) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        if (refused := _timezone_param(request, caller)) is not None:
            return refused
        q = request.query_params
        body: dict[str, Any] = {k: q[k] for k in ("minutes", "interval", "limit") if k in q}
        try:
            if "filters" in q:
                try:
                    body["filters"] = json.loads(q["filters"])
                except ValueError:
                    raise _BodyError(400, "filters is not a JSON array") from None
            params = RealtimeStreamRequest.model_validate(body)
            model = RealtimeRequest.model_validate(params.model_dump(exclude={"interval"}))
            if streams.open_count(caller.project.id) >= streams.per_project:
                first = b""  # refused by the response without running a query
            else:
                first = await run_in_threadpool(_realtime, model, caller)
        except _BodyError as exc:
            return _body_error(exc)
        except ValidationError as exc:
            return _validation(exc)
        client_id = caller.client.id

        def alive() -> bool:
            client = server.meta.get_client(client_id)
            return client is not None and not client.revoked

        return StreamResponse(
            streams,
            caller.project.id,
            first,
            lambda: _realtime(model, caller),
            float(params.interval),
            alive,
        )

    def _chart(params: dict[str, str], caller: Caller) -> dict[str, Any]:
        request, labels = chart_request(params)
        server.flush()
        ctx = _context(caller)
        return run_chart(request, labels, lambda r: analytics.time_series(r, ctx))

    async def export_charts(request: Request) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        if (refused := _timezone_param(request, caller)) is not None:
            return refused
        try:
            chart = await run_in_threadpool(_chart, dict(request.query_params), caller)
        except ValidationError as exc:
            return _validation(exc)
        return JSONResponse(chart)

    async def me(request: Request) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        project = caller.project
        return JSONResponse(
            {
                "clientId": caller.client.id,
                "clientType": caller.client.type,
                "projectId": project.id,
                "projectName": project.name,
                "timezone": project.timezone,
            },
            headers={"Cache-Control": "no-store"},
        )

    def _analytics_client() -> AnalyticsClient:
        return analytics.client

    async def _object_or_error(request: Request) -> dict[str, Any] | Response:
        try:
            return await _json_object(request)
        except _BodyError as exc:
            return _body_error(exc)

    return [
        Route("/api/me", me, methods=["GET"]),
        Route("/api/analytics/realtime/stream", realtime_stream, methods=["GET"]),
        Route("/api/analytics/{query}", query, methods=["POST"]),
        Route("/export/analytics", export_get, methods=["GET"]),
        Route("/export/charts", export_charts, methods=["GET"]),
        *cohort_routes(server.meta, reader, _object_or_error, _analytics_client),
    ]


def _timezone_param(request: Request, caller: Caller) -> Response | None:
    """A 400 for a ``timezone`` query parameter: queries use the project's, never the caller's."""
    if "timezone" not in request.query_params:
        return None
    message = (
        f"ranges and buckets use the project's timezone ({caller.project.timezone}); change it "
        f"with: openpanel-server project update {caller.project.id} --timezone <IANA name>"
    )
    field = {"field": "timezone", "type": "extra_forbidden", "message": message}
    return JSONResponse({"error": "validation", "fields": [field]}, status_code=400)


def _safe(value: str) -> str:
    """``value`` with only characters that need no quoting in a header filename."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in value)
