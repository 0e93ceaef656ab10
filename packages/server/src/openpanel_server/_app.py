"""The HTTP API (Starlette): OpenPanel's ``/track`` plus this suite's ``/track/batch``."""

from __future__ import annotations

import datetime as dt
import time
import zlib
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from openpanel_core._models import (
    batch_request_adapter,
    track_request_adapter,
)
from openpanel_server import _fastjson as fastjson
from openpanel_server._analytics_api import analytics_routes
from openpanel_server._auth import AuthError, Caller, authenticate
from openpanel_server._dashboard import dashboard_routes
from openpanel_server._ingest import IngestError, RequestInfo, Result
from openpanel_server._normalize import client_ip, detect_bot, device_id, normalize_ip
from openpanel_server._ratelimit import RateLimiter
from openpanel_server._server import Server
from openpanel_server._webhook_api import webhook_routes

__all__ = ["create_app"]

_SERVER_ONLY_HEADERS = ("openpanel-client-ip",)


class _TooLargeError(Exception):
    pass


def _bad_request(field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": 400, "error": "Bad Request", "field": field, "message": f"{field}: {message}"},
        status_code=400,
    )


def _validation_error(exc: ValidationError, *, in_list: bool = False) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
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


async def _read_body(request: Request, limit: int) -> bytes:
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
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise ValueError("body is not valid gzip") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise _TooLargeError
    return body


async def _read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body, or the error response (413 over ``limit``, 400 not JSON)."""
    try:
        raw = await _read_body(request, limit)
    except _TooLargeError:
        return JSONResponse(
            {"status": 413, "error": "Payload Too Large", "message": f"body is over {limit} bytes"},
            status_code=413,
        )
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
            return _bad_request(*_validation_error(exc))
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
        data = await _read_json(request, settings.max_batch_bytes)
        if isinstance(data, Response):
            return data
        if not isinstance(data, list) or not data:
            return _bad_request("body", "body must be a non-empty JSON array")
        try:
            caller = authenticate(server.meta, request.headers)
        except AuthError as exc:
            return PlainTextResponse(str(exc), status_code=401)
        if (limited := _limited(caller)) is not None:
            return limited
        base = _request_info(request, server)
        results: list[dict[str, Any] | None] = [None] * len(data)  # pyright: ignore[reportUnknownArgumentType]
        valid: list[tuple[int, Any, str]] = []
        try:  # the whole array at once; item by item only when something is wrong
            models: list[Any] | None = batch_request_adapter.validate_python(data)
        except ValidationError:
            models = None
        for index, element in enumerate(data):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            item_id = element.get("id") if isinstance(element, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            rid = item_id if isinstance(item_id, str) else ""
            if models is not None:
                model = models[index]
            else:
                try:
                    [model] = batch_request_adapter.validate_python([element])
                except ValidationError as exc:
                    field, msg = _validation_error(exc, in_list=True)
                    results[index] = {"id": rid, "status": 400, "error": field, "message": msg}
                    continue
            if (
                _has_revenue(element)  # pyright: ignore[reportUnknownArgumentType]
                and not caller.secret_verified
                and not caller.project.allow_unsafe_revenue
            ):
                results[index] = {
                    "id": rid,
                    "status": 401,
                    "error": "payload.properties.__revenue",
                    "message": "Revenue tracking is not allowed without a client secret",
                }
                continue
            valid.append((index, model, rid))
        # Items carry their own end user: group them by (ip, user agent) for processing.
        groups: dict[tuple[str, str], list[tuple[int, Any, str]]] = {}
        for index, model, rid in valid:
            ua = model.user_agent or base.user_agent
            # As for /track's openpanel-client-ip: only a public address counts.
            ip = normalize_ip(model.ip) if model.ip is not None else base.ip
            if not caller.secret_verified and detect_bot(ua) is not None:
                results[index] = {"id": rid, "status": 202, "error": "bot", "message": "bot"}
                continue
            groups.setdefault((ip, ua), []).append((index, model, rid))
        for (ip, ua), members in groups.items():
            req = RequestInfo(ip, ua, base.sdk_name, base.sdk_version, base.received_at, base.wall)
            wires = [(model, rid) for _, model, rid in members]
            outcomes = await run_in_threadpool(server.ingest, wires, caller, req)
            for (index, _, rid), outcome in zip(members, outcomes, strict=True):
                results[index] = _item_result(rid, outcome)
        return JSONResponse({"results": results})

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
            start = _parse_date(q.get("start"))
            end = _parse_date(q.get("end"), end_of_day=True)
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
                allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["*"],
                max_age=604800,
            )
        ],
        lifespan=lifespan,
    )


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"error": "Unauthorized", "message": message}, status_code=401)


def _parse_date(value: str | None, *, end_of_day: bool = False) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if end_of_day and len(value) == 10:
        parsed += dt.timedelta(days=1) - dt.timedelta(milliseconds=1)
    return parsed


def _item_result(rid: str, outcome: Result | Exception) -> dict[str, Any]:
    if isinstance(outcome, IngestError):
        return {
            "id": rid,
            "status": outcome.status,
            "error": outcome.field,
            "message": outcome.message,
        }
    if isinstance(outcome, Exception):  # pragma: no cover - ingest returns IngestError only
        return {"id": rid, "status": 500, "error": "internal", "message": "internal error"}
    return {
        "id": rid,
        "status": 200,
        "deviceId": outcome.device_id,
        "sessionId": outcome.session_id,
    }
