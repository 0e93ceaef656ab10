"""The pure ASGI middleware: request context, request events, identify, device cookie, routes."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from openpanel_asgi._identity import (
    IdentifyGate,
    IdentifyHook,
    Identity,
    from_hook,
    from_scope_user,
)
from openpanel_asgi._routes import OpenPanelRoutes
from openpanel_asgi._scope import HeaderGetter, header_getter, peer, route_path, route_template
from openpanel_asgi._settings import resolve_config
from openpanel_asgi._types import ASGIApp, Message, Receive, Scope, Send
from openpanel_core import AsyncOpenPanel, OpenPanel, RequestContext
from openpanel_core._guard import guarded, suppress_internal_errors
from openpanel_web_bridge import (
    BridgeConfig,
    client_ip,
    device_cookie_header,
    excluded_paths,
    new_device_id,
    read_device_cookie,
    request_event,
    request_info,
)

__all__ = ["OpenPanelMiddleware", "current_request"]

_perf = time.perf_counter


class RequestState:
    """What the middleware knows about the request being handled (one per request)."""

    __slots__ = ("_cm", "_send", "config", "cookie", "end", "get", "identity", "start", "status")

    def __init__(
        self,
        send: Send,
        get: HeaderGetter,
        config: BridgeConfig,
        identity: Identity | None,
        cookie: bytes | None,
    ) -> None:
        self._send = send
        self._cm: AbstractContextManager[RequestContext] | None = None
        self.get = get
        self.config = config
        self.identity = identity
        self.cookie = cookie
        self.status: int | None = None
        self.start = _perf()
        self.end: float | None = None

    async def send(self, message: Message) -> None:
        """The app's ``send``: notes the status and the end, adds the device cookie."""
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message.get("status")
            if self.cookie is not None:
                message = self._with_cookie(message, self.cookie)
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.end = _perf()  # the response is complete (background tasks may follow)
        await self._send(message)

    def _with_cookie(self, message: Message, cookie: bytes) -> Message:
        with suppress_internal_errors("asgi device cookie"):
            headers: list[tuple[bytes, bytes]] = list(message.get("headers") or ())
            headers.append((b"set-cookie", cookie))
            return {**message, "headers": headers}
        return message


# The request being handled in this context; also the "already recorded" flag that makes a
# second copy of the middleware (installed twice, or nested apps) pass requests straight on.
_current: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "openpanel_asgi_request", default=None
)


def current_request() -> RequestState | None:
    """The middleware's state for the request being handled here, or None outside one."""
    return _current.get()


class OpenPanelMiddleware:
    """OpenPanel for any ASGI app (Starlette, FastAPI, ...), as a pure ASGI middleware.

    For each HTTP request it opens ``client.context(ip=..., user_agent=..., device_id=...,
    profile_id=...)``, so every ``track`` in the endpoint, and in tasks it starts, carries the
    end user's IP, user agent and profile. Optionally it records one server-side event per
    request (``track_requests=True``), identifies the logged-in user once per session, sets a
    first-party device cookie (``device_cookie=True``) and serves the first-party script and
    the ingestion proxy under ``prefix`` (``serve_routes``, on by default).

    ``lifespan``, ``websocket`` and unknown scope types go to the app untouched; at
    ``lifespan`` shutdown the middleware flushes and closes the client it created (not one you
    passed). Excluded paths (``exclude_paths`` and the prefix) are passed straight through.

    Install with ``app.add_middleware(OpenPanelMiddleware, client_id=...)``,
    ``Middleware(OpenPanelMiddleware, config=config)`` or ``OpenPanelMiddleware(app, ...)``.

    Args:
        app: The ASGI app to wrap.
        client: An :class:`~openpanel_core.AsyncOpenPanel` or :class:`~openpanel_core.OpenPanel`
            to send with; by default the middleware creates an ``AsyncOpenPanel`` from the
            configuration and owns it.
        config: A :class:`~openpanel_web_bridge.BridgeConfig` or a mapping of its fields.
        identify: ``(scope) -> profile id | {"profile_id": ..., "email": ..., ...} | None``,
            called at the start of each request (synchronously: read a cookie or session,
            do no I/O). Without it, or when it returns None, an authenticated
            ``scope["user"]`` (Starlette's ``AuthenticationMiddleware``) gives
            ``user.identity``.
        serve_routes: Serve ``{prefix}/op.js`` and the proxy routes, so no mount is needed.
        client_options: Options for the ``AsyncOpenPanel`` the middleware creates.
        **options: Fields of :class:`~openpanel_web_bridge.BridgeConfig` (``client_id``,
            ``track_requests``, ``exclude_paths``, ...), over ``config``. Missing
            ``client_id``, ``client_secret`` and ``api_url`` come from the ``OPENPANEL_*``
            environment variables.

    Raises:
        openpanel_core.ConfigurationError: A setting is unknown or its value is invalid, or
            no ``client_id`` is configured while enabled.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: OpenPanel | AsyncOpenPanel | None = None,
        config: BridgeConfig | Mapping[str, Any] | None = None,
        identify: IdentifyHook | None = None,
        serve_routes: bool = True,
        client_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.config = cfg = resolve_config(
            config, options, client=client, source="OpenPanelMiddleware"
        )
        self._off = cfg.disabled
        self._owns_client = client is None and not cfg.disabled
        self._client_options = dict(client_options or {})
        if self._owns_client:
            client = cfg.make_async_client(**self._client_options)
        self.client = client
        self._identify = identify
        self._identified = IdentifyGate() if cfg.identify_users else None
        self._excluded = excluded_paths(cfg)
        self._track_requests = cfg.track_requests
        self._device_cookie = cfg.device_cookie
        self._routes: OpenPanelRoutes | None = None
        if serve_routes and not cfg.disabled and (cfg.script or cfg.proxy):
            self._routes = OpenPanelRoutes(cfg)
        self._prefix = cfg.prefix.rstrip("/") + "/"
        self._closed = False

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and (self._owns_client or self._routes is not None):
                if self._closed:  # a second lifespan of the same app (test suites do this)
                    self._reopen()
                await self.app(scope, receive, self._watch_shutdown(send))
            else:
                await self.app(scope, receive, send)
            return
        if self._off or _current.get() is not None:
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        routes = self._routes
        if routes is not None and path.startswith(self._prefix):
            sub = path[len(self._prefix) :]
            if routes.serves(sub):
                await routes.handle(scope, receive, send, sub)
                return
        state = self._begin(scope, send, path)
        if state is None:
            await self.app(scope, receive, send)
            return
        token = _current.set(state)
        try:
            await self.app(scope, receive, state.send)
        except Exception:
            if state.status is None:
                state.status = 500  # what the server (or ServerErrorMiddleware) answers
            raise
        finally:
            _current.reset(token)
            self._end(state, scope)

    # ------------------------------------------------------------------ per request

    @guarded("asgi request start")
    def _begin(self, scope: Scope, send: Send, path: str) -> RequestState | None:
        if self._excluded(path):
            return None
        client = self.client
        if client is None:
            return None
        cfg = self.config
        get = header_getter(scope)
        identity = None
        if self._identify is not None:
            identity = from_hook(self._identify, scope)
        if identity is None and "user" in scope:
            identity = from_scope_user(scope)
        device_id = cookie = None
        if self._device_cookie:
            device_id = read_device_cookie(get("cookie"), cfg)
            if device_id is None:
                device_id = new_device_id()
                https = scope.get("scheme") == "https"
                cookie = device_cookie_header(device_id, cfg, https=https).encode("latin-1")
        state = RequestState(send, get, cfg, identity, cookie)
        cm = client.context(
            ip=client_ip(get, peer(scope), cfg),
            user_agent=get("user-agent"),
            device_id=device_id,
            profile_id=None if identity is None else identity.profile_id,
        )
        cm.__enter__()
        state._cm = cm  # pyright: ignore[reportPrivateUsage]
        return state

    def _end(self, state: RequestState, scope: Scope) -> None:
        try:
            self._record(state, scope)
        finally:
            self._close_context(state)

    @staticmethod
    @guarded("asgi request context")
    def _close_context(state: RequestState) -> None:
        cm = state._cm  # pyright: ignore[reportPrivateUsage]
        if cm is not None:
            cm.__exit__(None, None, None)

    @guarded("asgi request end")
    def _record(self, state: RequestState, scope: Scope) -> None:
        client = self.client
        if client is None:  # pragma: no cover - _begin returns None without a client
            return
        identity = state.identity
        late = False
        if identity is None and "user" in scope:  # an AuthenticationMiddleware inside this one
            identity = from_scope_user(scope)
            late = identity is not None
        once = self._identified
        if identity is not None and once is not None and once.should_identify(identity):
            client.identify(
                identity.profile_id,
                first_name=identity.traits.get("first_name"),
                last_name=identity.traits.get("last_name"),
                email=identity.traits.get("email"),
                avatar=identity.traits.get("avatar"),
                properties=identity.properties or None,
            )
        if self._track_requests and state.status is not None:
            duration_ms = ((state.end or _perf()) - state.start) * 1000.0
            get = state.get
            info = request_info(
                get,
                peer(scope),
                method=scope.get("method", "GET"),
                scheme=scope.get("scheme", "http"),
                host=get("host"),
                path=scope["path"],
                query=(scope.get("query_string") or b"").decode("latin-1"),
                config=self.config,
            )
            name, properties = request_event(
                info,
                status=state.status,
                duration_ms=duration_ms,
                route=route_template(scope),
                config=self.config,
            )
            profile_id = identity.profile_id if late and identity is not None else None
            client.track(name, properties, profile_id=profile_id)

    # ------------------------------------------------------------------ lifespan

    def _watch_shutdown(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return lifespan_send

    @guarded("asgi reopen")
    def _reopen(self) -> None:
        if self._owns_client:
            self.client = self.config.make_async_client(**self._client_options)
        self._closed = False

    async def aclose(self) -> None:
        """Flush and close the client the middleware created, and the proxy's connections.

        Called at ``lifespan`` shutdown, before the app's shutdown is reported to the server;
        call it yourself when the server runs without lifespan. Never raises.
        """
        if self._closed:
            return
        self._closed = True
        client = self.client
        if self._owns_client and isinstance(client, AsyncOpenPanel):
            with suppress_internal_errors("asgi client shutdown"):
                await client.shutdown(client.shutdown_timeout)
        if self._routes is not None:
            await self._routes.aclose()
