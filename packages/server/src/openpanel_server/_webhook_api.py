"""``/api/webhooks/...``: manage a project's webhook endpoints and read the delivery log.

Authenticated as ``/export`` is (``openpanel-client-id`` and ``openpanel-client-secret`` of a
``read`` or ``root`` client); the project is the client's. Reading needs a read or root client;
changes (create, update, rotate, enable, disable, delete, redeliver) need a root client,
because an endpoint receives the project's data and carries a signing secret.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpanel_server._auth import Caller
from openpanel_server._webhook_admin import (
    DEFAULT_ROTATION_GRACE,
    WebhookAdmin,
    WebhookAdminError,
    event_type_list,
)

__all__ = ["webhook_routes"]

Reader = Callable[[Request], "Caller | Response"]
_MAX_BODY = 64 * 1024


def _error(exc: WebhookAdminError) -> JSONResponse:
    names = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    return JSONResponse(
        {
            "status": exc.status,
            "error": names.get(exc.status, "Error"),
            "field": exc.field,
            "message": f"{exc.field}: {exc.message}",
        },
        status_code=exc.status,
    )


async def _json_object(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_BODY:
            raise WebhookAdminError(400, "body", f"the body is over {_MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WebhookAdminError(400, "body", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebhookAdminError(400, "body", "the body must be a JSON object")
    return data  # pyright: ignore[reportUnknownVariableType]


def _page(request: Request) -> tuple[int, int]:
    q = request.query_params
    try:
        page = max(1, int(q.get("page") or 1))
        limit = max(1, min(500, int(q.get("limit") or 50)))
    except ValueError:
        raise WebhookAdminError(400, "page", "page and limit must be integers") from None
    return page, limit


def _meta(count: int, total: int, page: int, limit: int) -> dict[str, int]:
    return {
        "count": count,
        "totalCount": total,
        "pages": (total + limit - 1) // limit,
        "current": page,
    }


def webhook_routes(admin: WebhookAdmin, reader: Reader) -> list[Route]:
    """The API routes, given the endpoint manager and the read-client authentication."""

    def handler(
        fn: Callable[[Request, Caller], Awaitable[Response]], *, write: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            caller = reader(request)
            if isinstance(caller, Response):
                return caller
            if write and caller.client.type != "root":
                return _error(WebhookAdminError(403, "client", "changes need a root client"))
            try:
                return await fn(request, caller)
            except WebhookAdminError as exc:
                return _error(exc)

        return endpoint

    def endpoint_id(request: Request) -> str:
        return str(request.path_params["endpoint_id"])

    async def event_types(request: Request, caller: Caller) -> Response:
        return JSONResponse({"data": event_type_list()})

    async def list_endpoints(request: Request, caller: Caller) -> Response:
        found = await run_in_threadpool(admin.list, caller.project.id)
        return JSONResponse({"data": [e.to_json() for e in found]})

    async def create(request: Request, caller: Caller) -> Response:
        fields = await _json_object(request)
        endpoint, secret = await run_in_threadpool(admin.create, caller.project.id, fields)
        return JSONResponse({**endpoint.to_json(), "secret": secret}, status_code=201)

    async def get(request: Request, caller: Caller) -> Response:
        found = await run_in_threadpool(admin.endpoint, endpoint_id(request), caller.project.id)
        return JSONResponse(found.to_json())

    async def update(request: Request, caller: Caller) -> Response:
        fields = await _json_object(request)
        found = await run_in_threadpool(
            admin.update, endpoint_id(request), caller.project.id, fields
        )
        return JSONResponse(found.to_json())

    async def delete(request: Request, caller: Caller) -> Response:
        await run_in_threadpool(admin.delete, endpoint_id(request), caller.project.id)
        return Response(status_code=204)

    async def rotate(request: Request, caller: Caller) -> Response:
        fields = await _json_object(request)
        grace = fields.get("gracePeriodSeconds", DEFAULT_ROTATION_GRACE)
        found, secret = await run_in_threadpool(
            admin.rotate, endpoint_id(request), caller.project.id, grace
        )
        return JSONResponse({**found.to_json(), "secret": secret})

    async def enable(request: Request, caller: Caller) -> Response:
        found = await run_in_threadpool(
            admin.set_enabled, endpoint_id(request), caller.project.id, True
        )
        return JSONResponse(found.to_json())

    async def disable(request: Request, caller: Caller) -> Response:
        found = await run_in_threadpool(
            admin.set_enabled, endpoint_id(request), caller.project.id, False
        )
        return JSONResponse(found.to_json())

    async def messages(request: Request, caller: Caller) -> Response:
        eid = endpoint_id(request)
        await run_in_threadpool(admin.endpoint, eid, caller.project.id)
        q = request.query_params
        page, limit = _page(request)
        rows, total = await run_in_threadpool(
            lambda: admin.store.list_messages(
                eid,
                state=admin.check_state(q.get("state") or None),
                event_type=admin.check_event_type(q.get("eventType") or None),
                limit=limit,
                offset=(page - 1) * limit,
            )
        )
        return JSONResponse(
            {"meta": _meta(len(rows), total, page, limit), "data": [m.to_json() for m in rows]}
        )

    async def message(request: Request, caller: Caller) -> Response:
        eid = endpoint_id(request)
        mid = str(request.path_params["message_id"])
        await run_in_threadpool(admin.endpoint, eid, caller.project.id)
        found = await run_in_threadpool(admin.store.get_message, eid, mid)
        body = await run_in_threadpool(admin.store.message_body, eid, mid)
        if found is None or body is None:
            raise WebhookAdminError(404, "messageId", "no such message")
        attempts, _ = await run_in_threadpool(
            lambda: admin.store.list_attempts(eid, message_id=mid, limit=500)
        )
        return JSONResponse(
            {
                **found.to_json(),
                "payload": json.loads(body),
                "deliveries": [a.to_json() for a in attempts],
            }
        )

    async def redeliver(request: Request, caller: Caller) -> Response:
        found = await run_in_threadpool(
            admin.redeliver,
            endpoint_id(request),
            caller.project.id,
            str(request.path_params["message_id"]),
        )
        return JSONResponse(found.to_json(), status_code=202)

    async def deliveries(request: Request, caller: Caller) -> Response:
        eid = endpoint_id(request)
        await run_in_threadpool(admin.endpoint, eid, caller.project.id)
        q = request.query_params
        page, limit = _page(request)
        status = q.get("status") or None
        if status not in (None, "succeeded", "failed"):
            raise WebhookAdminError(400, "status", "succeeded or failed")
        try:
            code = int(q["statusCode"]) if q.get("statusCode") else None
            since = float(q["since"]) if q.get("since") else None
        except ValueError:
            raise WebhookAdminError(400, "statusCode", "statusCode and since are numbers") from None
        rows, total = await run_in_threadpool(
            lambda: admin.store.list_attempts(
                eid,
                message_id=q.get("messageId") or None,
                succeeded=None if status is None else status == "succeeded",
                status_code=code,
                event_type=admin.check_event_type(q.get("eventType") or None),
                since=since,
                limit=limit,
                offset=(page - 1) * limit,
            )
        )
        return JSONResponse(
            {"meta": _meta(len(rows), total, page, limit), "data": [a.to_json() for a in rows]}
        )

    base = "/api/webhooks"
    one = base + "/{endpoint_id}"
    return [
        Route(base + "/event-types", handler(event_types), methods=["GET"]),
        Route(base, handler(list_endpoints), methods=["GET"]),
        Route(base, handler(create, write=True), methods=["POST"]),
        Route(one, handler(get), methods=["GET"]),
        Route(one, handler(update, write=True), methods=["PATCH"]),
        Route(one, handler(delete, write=True), methods=["DELETE"]),
        Route(one + "/rotate", handler(rotate, write=True), methods=["POST"]),
        Route(one + "/enable", handler(enable, write=True), methods=["POST"]),
        Route(one + "/disable", handler(disable, write=True), methods=["POST"]),
        Route(one + "/messages", handler(messages), methods=["GET"]),
        Route(one + "/messages/{message_id}", handler(message), methods=["GET"]),
        Route(
            one + "/messages/{message_id}/redeliver",
            handler(redeliver, write=True),
            methods=["POST"],
        ),
        Route(one + "/deliveries", handler(deliveries), methods=["GET"]),
    ]
