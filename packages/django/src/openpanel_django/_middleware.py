"""The request middleware: the end user's context around each request, optional request events.

Per request it reads a few ``request.META`` keys, opens ``client.context(...)`` (one
``ContextVar`` set) and, after the response, optionally tracks one ``server_request`` event.
It never builds ``request.headers`` and touches ``request.user`` only when a session cookie is
sent. Every step runs under the SDK guard: an SDK error is logged and the request goes on as if
the middleware were not installed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from openpanel_core import OpenPanel, RequestContext
from openpanel_core._guard import guarded, suppress_internal_errors
from openpanel_django._runtime import Runtime, current, meta_key
from openpanel_django._users import (
    has_session_cookie,
    identify_if_due,
    logged_in_user,
    user_identity,
)
from openpanel_web_bridge import (
    BridgeConfig,
    RequestInfo,
    client_ip,
    device_cookie_header,
    new_device_id,
    read_device_cookie,
    request_event,
    request_info,
)

__all__ = ["OpenPanelMiddleware", "header_getter", "set_device_cookie"]

_MARK = "_openpanel_seen"
_perf = time.perf_counter
_keys: dict[str, str] = {}


def header_getter(meta: Mapping[str, Any]) -> Callable[[str], str | None]:
    """A ``get_header(lower_case_name)`` over ``request.META`` for the bridge helpers."""

    def get(name: str) -> str | None:
        key = _keys.get(name)
        if key is None:
            key = _keys[name] = meta_key(name)
        value = meta.get(key)
        return value if isinstance(value, str) else None

    return get


def set_device_cookie(
    response: HttpResponseBase, device_id: str, config: BridgeConfig, *, https: bool
) -> None:
    """Add the device cookie to ``response`` unless the view set that cookie itself."""
    if config.cookie_name not in response.cookies:
        response.cookies.load(device_cookie_header(device_id, config, https=https))


def _route(request: HttpRequest) -> str | None:
    match = request.resolver_match
    route = match.route if match is not None else None
    if not route:
        return None
    return route if route.startswith(("/", "^")) else "/" + route


class _Scope:
    """One request's state between the middleware's two halves."""

    __slots__ = (
        "client",
        "cm",
        "device_id",
        "identify",
        "info",
        "ip",
        "new_device",
        "pid",
        "start",
        "ua",
        "want_user",
    )

    def __init__(self) -> None:
        self.client: OpenPanel | None = None
        self.cm: AbstractContextManager[RequestContext] | None = None
        self.info: RequestInfo | None = None
        self.ip: str | None = None
        self.ua: str | None = None
        self.device_id: str | None = None
        self.new_device = False
        self.want_user = False  # a session cookie was sent: look the user up
        self.pid: str | int | None = None
        self.identify: dict[str, Any] | None = None
        self.start = 0.0


class OpenPanelMiddleware:
    """Carry the end user's IP, user agent, device and profile into every event of a request.

    Add it to ``MIDDLEWARE`` after ``AuthenticationMiddleware``. Inside a request, any
    ``track()`` on the process's client (:func:`openpanel_django.get_client`) is sent with the
    visitor's IP and user agent, so the server joins it to the browser's device and session;
    a logged-in user becomes the event's profile and is identified once per session. With
    ``track_requests`` one event per request records method, path, route, status and
    duration. Works in sync (WSGI) and async (ASGI) stacks.

    Args:
        get_response: The next middleware or view (Django passes it).
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        """Handle a request (returns a coroutine when the stack is async)."""
        if self.is_async:
            return self.__acall__(request)
        get_response = cast("Callable[[HttpRequest], HttpResponseBase]", self.get_response)
        rt = current()
        if rt is None or not rt.active:
            return get_response(request)
        scope = self._begin(rt, request)
        if scope is None:
            return get_response(request)
        if scope.want_user:
            self._resolve_user(rt, request, scope)
        self._enter(rt, scope)
        try:
            response = get_response(request)
            self._finish(rt, request, response, scope)
        finally:
            self._exit(scope)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """Handle a request in an async stack."""
        get_response = cast(
            "Callable[[HttpRequest], Awaitable[HttpResponseBase]]", self.get_response
        )
        rt = current()
        if rt is None or not rt.active:
            return await get_response(request)
        scope = self._begin(rt, request)
        if scope is None:
            return await get_response(request)
        if scope.want_user:
            with suppress_internal_errors("django middleware"):
                # The session and user live in the database: resolve them off the event loop.
                await sync_to_async(self._resolve_user)(rt, request, scope)
        self._enter(rt, scope)
        try:
            response = await get_response(request)
            self._finish(rt, request, response, scope)
        finally:
            self._exit(scope)
        return response

    @staticmethod
    @guarded("django middleware")
    def _begin(rt: Runtime, request: HttpRequest) -> _Scope | None:
        if getattr(request, _MARK, False):
            return None  # installed twice: the outer one does the work
        setattr(request, _MARK, True)
        if rt.excluded(request.path_info):
            return None
        config = rt.config
        meta = request.META
        scope = _Scope()
        scope.start = _perf()
        peer = meta.get("REMOTE_ADDR")
        if config.track_requests:
            info = request_info(
                header_getter(meta),
                peer,
                method=request.method or "GET",
                scheme=request.scheme or "http",
                host=meta.get("HTTP_HOST") or meta.get("SERVER_NAME"),
                path=request.path,
                query=meta.get("QUERY_STRING") or "",
                config=config,
            )
            scope.info = info
            scope.ip = info.ip
            scope.ua = info.user_agent
        else:
            scope.ip = client_ip(header_getter(meta), peer, config)
            scope.ua = meta.get("HTTP_USER_AGENT")
        if config.device_cookie:
            device_id = read_device_cookie(meta.get("HTTP_COOKIE"), config)
            if device_id is None:
                device_id = new_device_id()
                scope.new_device = True
            scope.device_id = device_id
        scope.want_user = config.identify_users and has_session_cookie(meta, rt)
        return scope

    @staticmethod
    @guarded("django middleware")
    def _resolve_user(rt: Runtime, request: HttpRequest, scope: _Scope) -> None:
        user = logged_in_user(request)
        if user is not None:
            scope.pid, scope.identify = user_identity(rt, user)

    @staticmethod
    @guarded("django middleware")
    def _enter(rt: Runtime, scope: _Scope) -> None:
        pid = scope.pid
        client = rt.client()
        cm = client.context(
            ip=scope.ip, user_agent=scope.ua, device_id=scope.device_id, profile_id=pid
        )
        cm.__enter__()
        scope.client, scope.cm = client, cm
        if pid is not None:
            identify_if_due(rt, client, pid, scope.identify)

    @staticmethod
    @guarded("django middleware")
    def _finish(
        rt: Runtime, request: HttpRequest, response: HttpResponseBase, scope: _Scope
    ) -> None:
        if scope.cm is None:
            return
        if scope.info is not None and scope.client is not None:
            name, properties = request_event(
                scope.info,
                status=response.status_code,
                duration_ms=round((_perf() - scope.start) * 1000.0, 3),
                route=_route(request),
                config=rt.config,
            )
            scope.client.track(name, properties)
        if scope.new_device and scope.device_id is not None:
            set_device_cookie(response, scope.device_id, rt.config, https=request.is_secure())

    @staticmethod
    @guarded("django middleware")
    def _exit(scope: _Scope) -> None:
        cm, scope.cm = scope.cm, None
        if cm is not None:
            cm.__exit__(None, None, None)
