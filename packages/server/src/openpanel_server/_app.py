"""The HTTP API (Starlette): OpenPanel's ``/track`` plus this suite's ``/track/batch``."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from openpanel_core._models import (
    track_request_adapter,
)
from openpanel_server import _fastjson as fastjson
from openpanel_server._analytics_api import analytics_routes
from openpanel_server._auth import AuthError, Caller, authenticate
from openpanel_server._batch import (
    BatchContext,
    BodyError,
    Outcome,
    error_result,
    inflate,
    parse_batch,
    triage,
    validation_error,
)
from openpanel_server._batch_pool import prepare_body
from openpanel_server._dashboard import dashboard_routes
from openpanel_server._ingest import IngestError, RequestInfo, Result
from openpanel_server._normalize import client_ip, detect_bot, device_id
from openpanel_server._ratelimit import RateLimiter
from openpanel_server._server import Server
from openpanel_server._webhook_api import webhook_routes

__all__ = ["create_app"]

_SERVER_ONLY_HEADERS = ("openpanel-client-ip",)
# Bodies at least this large (inflated) go to an ingestion worker when one is up: a few
# hundred items. Smaller ones cost less here than the hand-off.
_OFFLOAD_BYTES = 64 * 1024
logger = logging.getLogger("openpanel_server")


class _TooLargeError(Exception):
    pass


def _bad_request(field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": 400, "error": "Bad Request", "field": field, "message": f"{field}: {message}"},
        status_code=400,
    )


async def _read_raw(request: Request, limit: int) -> bytes:
    """The body as sent (still gzip'd when it is), at most ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _inflated_size(body: bytes, gzipped: bool) -> int:
    """The body's size once inflated; for gzip, as its trailer states (modulo 4 GiB)."""
    if gzipped and len(body) >= 18:
        return int.from_bytes(body[-4:], "little")
    return len(body)


def _gzipped(request: Request) -> bool:
    return request.headers.get("content-encoding", "").lower() == "gzip"


async def _read_body(request: Request, limit: int) -> bytes:
    body = await _read_raw(request, limit)
    if _gzipped(request):
        try:
            body = inflate(body, limit)
        except BodyError as exc:
            if exc.status == 413:
                raise _TooLargeError from None
            raise ValueError(exc.message) from None
    return body


class _FastJSONResponse(JSONResponse):
    """A JSONResponse rendered by orjson (same compact UTF-8 bytes as Starlette's)."""

    def render(self, content: Any) -> bytes:
        return fastjson.dumps(content)


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {"status": 413, "error": "Payload Too Large", "message": f"body is over {limit} bytes"},
        status_code=413,
    )


async def _read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body, or the error response (413 over ``limit``, 400 not JSON)."""
    try:
        raw = await _read_body(request, limit)
    except _TooLargeError:
        return _too_large(limit)
    except ValueError as exc:
        return _bad_request("body", str(exc))
    try:
        return fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _bad_request("body", "body is not valid JSON")


def _bot_path(item: Any) -> str:
    """The page a refused bot hit was for (``__path``, or the legacy ``path``), if any."""
    if getattr(item, "type", "") != "track":
        return ""
    props: Mapping[str, Any] = item.payload.properties or {}
    path = props.get("__path") or props.get("path")
    return path if isinstance(path, str) else ""


def _bot_signals(headers: Mapping[str, str], ua: str) -> tuple[str, ...]:
    """OpenPanel's header signals for browser user agents (``bots/header-signals.ts``)."""
    if "Mozilla/" not in ua:
        return ()
    reasons: list[str] = []
    chromium = "Chrome/" in ua and "CriOS/" not in ua and "iPhone" not in ua
    if chromium and "sec-ch-ua" not in headers:
        reasons.append("header:missing_sec_ch_ua")
    if "sec-fetch-mode" not in headers and "sec-fetch-site" not in headers:
        reasons.append("header:missing_sec_fetch")
    if "accept-language" not in headers:
        reasons.append("header:missing_accept_language")
    return tuple(reasons)


def _request_info(
    request: Request, server: Server, *, with_bot_signals: bool = False
) -> RequestInfo:
    headers = request.headers
    order = None if server.settings.trust_proxy_headers else _SERVER_ONLY_HEADERS
    ip = client_ip(headers, order) if order else client_ip(headers)
    if not ip and request.client is not None:
        ip = client_ip({"x-client-ip": request.client.host})
    now = dt.datetime.now(dt.timezone.utc)
    ua = headers.get("user-agent") or "unknown/1.0"
    return RequestInfo(
        ip=ip,
        user_agent=ua,
        sdk_name=headers.get("openpanel-sdk-name") or "",
        sdk_version=headers.get("openpanel-sdk-version") or "",
        received_at=now,
        wall=time.time(),
        bot_reasons=_bot_signals(headers, ua) if with_bot_signals else (),
    )


def _batch_context(request: Request, server: Server, caller: Caller) -> BatchContext:
    salt, _ = server.meta.salts()
    return BatchContext(
        project_id=caller.project.id,
        trusted=caller.secret_verified,
        revenue_allowed=caller.secret_verified or caller.project.allow_unsafe_revenue,
        salt=salt,
        request=_request_info(request, server),
    )


def _has_revenue(body: Mapping[str, Any]) -> bool:
    payload = body.get("payload")
    if not isinstance(payload, Mapping):
        return False
    props = payload.get("properties")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return isinstance(props, Mapping) and "__revenue" in props


def create_app(server: Server) -> Starlette:
    """The Starlette application for ``server`` (started and closed with the app's lifespan)."""
    settings = server.settings
    limiter = RateLimiter(settings.rate_limit)

    def _limited(caller: Caller) -> Response | None:
        wait = limiter.check(caller.client.id)
        if not wait:
            return None
        return JSONResponse(
            {
                "status": 429,
                "error": "Too Many Requests",
                "message": "You have exceeded the rate limit for this endpoint.",
            },
            status_code=429,
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )

    async def track(request: Request) -> Response:
        data = await _read_json(request, settings.max_body_bytes)
        if isinstance(data, Response):
            return data
        if not isinstance(data, dict):
            return _bad_request("body", "body must be a JSON object")
        try:
            item = track_request_adapter.validate_python(data)
        except ValidationError as exc:
            return _bad_request(*validation_error(exc))
        try:
            caller = authenticate(server.meta, request.headers, data, revenue=_has_revenue(data))  # pyright: ignore[reportUnknownArgumentType]
        except AuthError as exc:
            return PlainTextResponse(str(exc), status_code=401)
        if (limited := _limited(caller)) is not None:
            return limited
        ua = request.headers.get("user-agent")
        if not caller.secret_verified:
            bot = detect_bot(ua)
            if bot is not None:
                path = _bot_path(item)
                if path:
                    when = dt.datetime.now(dt.timezone.utc)
                    record = server.ingestor.bot_record(caller, bot.name, bot.type, path, when)
                    await run_in_threadpool(server.record_bot, [record])
                return JSONResponse({"bot": {"name": bot.name, "type": bot.type}}, status_code=202)
        req = _request_info(request, server, with_bot_signals=True)
        event_id = request.headers.get("openpanel-event-id") or None
        [result] = await run_in_threadpool(server.ingest, [(item, event_id)], caller, req)
        if isinstance(result, IngestError):
            if result.status == 400:
                return _bad_request(result.field, result.message)
            return JSONResponse(
                {"status": result.status, "error": result.field, "message": result.message},
                status_code=result.status,
            )
        if isinstance(result, Exception):  # pragma: no cover - ingest returns IngestError only
            raise result
        return JSONResponse({"deviceId": result.device_id, "sessionId": result.session_id})

    async def batch(request: Request) -> Response:
        limit = settings.max_batch_bytes
        try:
            raw = await _read_raw(request, limit)
        except _TooLargeError:
            return _too_large(limit)
        gzipped = _gzipped(request)
        caller: Caller | None = None
        auth_error: AuthError | None = None
        try:
            caller = authenticate(server.meta, request.headers)
        except AuthError as exc:
            auth_error = exc
        outcomes: list[Outcome] | None = None
        limit_checked = False
        # A large body's stateless half goes to a worker process when one is up.
        pool = None
        if caller is not None and _inflated_size(raw, gzipped) >= _OFFLOAD_BYTES:
            pool = server.batch_pool.available()
        if pool is not None and caller is not None:
            if (limited := _limited(caller)) is not None:
                return limited
            limit_checked = True
            ctx = _batch_context(request, server, caller)
            try:
                outcomes = await asyncio.wrap_future(
                    pool.submit(prepare_body, raw, gzipped, limit, ctx)
                )
            except BodyError as exc:
                return _too_large(limit) if exc.status == 413 else _bad_request("body", exc.message)
            except Exception as exc:  # noqa: BLE001 - any pool failure: do the work here
                # A worker died or could not be reached: this process does the work itself.
                server.batch_pool.failed(pool)
                logger.warning(
                    "batch worker failed (%s); restarting the workers", type(exc).__name__
                )
        if outcomes is None:
            try:
                data = parse_batch(inflate(raw, limit) if gzipped else raw)
            except BodyError as exc:
                return _too_large(limit) if exc.status == 413 else _bad_request("body", exc.message)
            if caller is None:
                return PlainTextResponse(str(auth_error), status_code=401)
            if not limit_checked and (limited := _limited(caller)) is not None:
                return limited
            outcomes = triage(data, _batch_context(request, server, caller))
        assert caller is not None  # both paths above answered a failed authentication
        todo = [(entry[3], entry[1], entry[2]) for entry in outcomes if entry[0] == "item"]
        committed = iter(await run_in_threadpool(server.ingest_items, todo, caller))
        results = [
            entry[1] if entry[0] == "done" else _item_result(entry[1], next(committed))
            for entry in outcomes
        ]
        return _FastJSONResponse({"results": results})

    async def device_id_endpoint(request: Request) -> Response:
        try:
            caller = authenticate(server.meta, request.headers)
        except AuthError as exc:
            return PlainTextResponse(str(exc), status_code=401)
        req = _request_info(request, server)
        if not req.ip:
            return PlainTextResponse("Missing ip address", status_code=400)
        if not request.headers.get("user-agent"):
            return PlainTextResponse("Missing header: user-agent", status_code=400)
        current, previous = server.meta.salts()
        now_ms = int(time.time() * 1000)
        for salt, label in ((current, "current"), (previous, "previous")):
            candidate = device_id(req.user_agent, req.ip, caller.project.id, salt)
            live = server.sessions.is_live(caller.project.id, candidate, now_ms)
            if live is not None:
                return JSONResponse(
                    {
                        "deviceId": candidate,
                        "sessionId": live.id,
                        "message": f"{label} session exists for this device id",
                    }
                )
        return JSONResponse(
            {
                "deviceId": device_id(req.user_agent, req.ip, caller.project.id, current),
                "sessionId": "",
                "message": "No session exists for this device id",
            }
        )

    def _reader(request: Request) -> Caller | Response:
        headers = request.headers
        client_id = headers.get("openpanel-client-id") or ""
        secret = headers.get("openpanel-client-secret") or ""
        client = server.meta.get_client(client_id) if client_id else None
        if client is None or client.revoked:
            return _unauthorized("Export: Invalid client id")
        if not client.has_secret:
            return _unauthorized("Export: Client has no secret")
        if client.type == "write":
            return _unauthorized("Export: Client is not allowed to export")
        if not secret or not server.meta.verify_secret(client.id, secret):
            return _unauthorized("Export: Invalid client secret")
        project = server.meta.get_project(client.project_id)
        if project is None:
            return _unauthorized("Export: Client has no project")
        wanted = request.query_params.get("projectId") or request.query_params.get("project_id")
        if wanted and wanted != project.id:
            return JSONResponse(
                {"error": "Forbidden", "message": "You do not have access to this project"},
                status_code=403,
            )
        return Caller(client, project, True)

    async def export_events(request: Request) -> Response:
        caller = _reader(request)
        if isinstance(caller, Response):
            return caller
        q = request.query_params
        try:
            page = max(1, int(q.get("page") or 1))
            limit = int(q.get("limit") or 50)
            zone = ZoneInfo(caller.project.timezone)  # a date is the project's local day
            start = _parse_date(q.get("start"), zone=zone)
            end = _parse_date(q.get("end"), end_of_day=True, zone=zone)
        except ValueError as exc:
            return _bad_request("query", str(exc))
        includes = {p.strip() for v in q.getlist("includes") for p in v.split(",") if p.strip()}
        names = [n for v in q.getlist("event") for n in v.split(",") if n]
        rows, total = await run_in_threadpool(
            server.flush_then_list_events,
            caller.project.id,
            start if start and end else None,
            end if start and end else None,
            names or None,
            q.get("profileId") or None,
            page,
            limit,
            "properties" in includes,
            sorted(includes - {"properties"}),
        )
        limit = max(1, min(1000, limit))
        return JSONResponse(
            {
                "meta": {
                    "count": len(rows),
                    "totalCount": total,
                    "pages": (total + limit - 1) // limit,
                    "current": page,
                },
                "data": rows,
            }
        )

    async def _export(request: Request, read: Callable[[str, str], Any], key: str) -> Response:
        """Flush the log, then answer ``read(project, path parameter)``; None is a 404."""
        caller = _reader(request)
        if isinstance(caller, Response):
            return caller
        await run_in_threadpool(server.flush)
        found = await run_in_threadpool(read, caller.project.id, request.path_params[key])
        if found is None:
            return JSONResponse(
                {"error": "Not Found", "message": f"No such {key.removesuffix('_id')}"}, 404
            )
        return JSONResponse(found)

    async def export_profile(request: Request) -> Response:
        return await _export(request, server.store.get_profile, "profile_id")

    async def export_session(request: Request) -> Response:
        # Sessions are stored when they close: an open session answers 404.
        return await _export(request, server.store.get_session, "session_id")

    async def export_replay(request: Request) -> Response:
        return await _export(
            request,
            lambda project, sid: {"data": server.store.list_replay_chunks(project, sid)},
            "session_id",
        )

    async def healthcheck(request: Request) -> Response:
        return JSONResponse({"ready": True})

    async def root(request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "message": "Successfully running OpenPanel Python server"}
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        server.start()
        try:
            yield
        finally:
            await run_in_threadpool(server.close)

    return Starlette(
        routes=[
            Route("/", root),
            Route("/healthcheck", healthcheck),
            Route("/track", track, methods=["POST"]),
            Route("/track/batch", batch, methods=["POST"]),
            Route("/track/device-id", device_id_endpoint, methods=["GET"]),
            Route("/export/events", export_events, methods=["GET"]),
            Route("/export/profiles/{profile_id}", export_profile, methods=["GET"]),
            Route("/export/sessions/{session_id}", export_session, methods=["GET"]),
            Route("/export/sessions/{session_id}/replay", export_replay, methods=["GET"]),
            *webhook_routes(server.webhook_admin, _reader),
            *analytics_routes(server, _reader),
            *dashboard_routes(),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["*"],
                max_age=604800,
            )
        ],
        lifespan=lifespan,
    )


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"error": "Unauthorized", "message": message}, status_code=401)


def _parse_date(
    value: str | None, *, end_of_day: bool = False, zone: dt.tzinfo = dt.timezone.utc
) -> dt.datetime | None:
    """A query's date or time; without an offset it is read in ``zone`` (the project's)."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if end_of_day and len(value) == 10:
        parsed += dt.timedelta(days=1) - dt.timedelta(milliseconds=1)
    return parsed


def _item_result(rid: str, outcome: Result | Exception) -> dict[str, Any]:
    if isinstance(outcome, IngestError):
        return error_result(rid, outcome)
    if isinstance(outcome, Exception):  # pragma: no cover - ingest returns IngestError only
        return {"id": rid, "status": 500, "error": "internal", "message": "internal error"}
    return {
        "id": rid,
        "status": 200,
        "deviceId": outcome.device_id,
        "sessionId": outcome.session_id,
    }
