"""The request hooks: open the end user's context, record the request, close the context.

``before_request`` runs first of the app's hooks (so other hooks' events carry the context),
``after_request`` and ``teardown_request`` last. Every body runs inside the core's guard: an SDK
error is logged once and swallowed, never raised into the app (re-raised under tests).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, MutableMapping
from contextlib import AbstractContextManager
from time import monotonic, perf_counter
from typing import Any

from flask import Flask, Request, Response, g, request
from flask.globals import request_ctx

from openpanel_core import RequestContext
from openpanel_core._guard import call_user_hook, guarded
from openpanel_flask._identity import Profile, to_profile
from openpanel_flask._state import OpenPanelState
from openpanel_web_bridge import (
    client_ip,
    device_cookie_header,
    new_device_id,
    read_device_cookie,
    request_event,
    request_info,
)

__all__ = ["G_KEY", "RequestState", "environ_getter", "install_hooks"]

_RECENT_MAX = 10_000

#: Attribute of ``flask.g`` holding the per-request state.
G_KEY = "_openpanel"


class RequestState:
    """What the hooks remember about one request (``g._openpanel``)."""

    __slots__ = (
        "context",
        "device_id",
        "environ",
        "new_device",
        "profile",
        "request",
        "start",
        "status",
    )

    def __init__(self, start: float, req: Request) -> None:
        self.start = start
        self.request = req
        self.environ: dict[str, Any] = req.environ
        self.context: AbstractContextManager[RequestContext] | None = None
        self.profile: Profile | None = None
        self.device_id: str | None = None
        self.new_device = False
        self.status: int | None = None


def environ_getter(environ: MutableMapping[str, Any]) -> Callable[[str], str | None]:
    """A ``get_header(lower_case_name)`` reading the WSGI environ directly."""

    def get_header(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    return get_header


def _no_header(name: str) -> str | None:
    return None


def _wsgi_text(value: str) -> str:
    """A WSGI environ string (bytes as latin-1) as the text it encodes (UTF-8)."""
    if value.isascii():
        return value
    return value.encode("latin-1").decode("utf-8", "replace")


def _host(environ: Mapping[str, Any]) -> str | None:
    host = environ.get("HTTP_HOST")
    if host:
        return str(host)
    name, port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT")
    if not name:
        return None
    default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return f"{name}:{port}" if port and port != default else str(name)


def _current_request() -> Request:
    """The request object behind the ``flask.request`` proxy (one lookup per request)."""
    found: Request = getattr(request, "_get_current_object")()  # noqa: B009 - no stub for it
    return found


def _raw_session() -> Any:
    """The request's session object, read without marking it accessed.

    ``flask.session`` marks the session accessed by itself (Flask 3.1 sets the flag in
    ``RequestContext.session``), so the object is taken from the context's attributes:
    ``_session`` since Flask 3.1, ``session`` before.
    """
    ctx: Any = getattr(request_ctx, "_get_current_object")()  # noqa: B009 - no stub for it
    attributes: dict[str, Any] = ctx.__dict__
    if "_session" in attributes:
        return attributes["_session"]
    return attributes.get("session")


def _close(context: AbstractContextManager[RequestContext] | None) -> None:
    if context is not None:
        # A request finished in another contextvars.Context (rare: a streamed body iterated
        # elsewhere) cannot reset the variable there; the value dies with that Context.
        with contextlib.suppress(ValueError):
            context.__exit__(None, None, None)


def install_hooks(app: Flask, state: OpenPanelState) -> None:
    """Register the hooks of ``state`` on ``app`` (ours first, so we wrap the others)."""
    config = state.config
    client = state.client
    excluded = state.excluded
    open_context = client.context
    identify_once = state.identify_once
    identify_users = config.identify_users
    device_cookie = config.device_cookie
    track_requests = config.track_requests
    ip_header = config.ip_header

    # IdentifyOnce fingerprints the traits (JSON + hash) on every call; a plain dict of the
    # profiles identified recently answers the common "same user, same traits" case first.
    recent: dict[Any, float] = {}
    ttl = identify_once.ttl

    def should_identify(profile: Profile) -> bool:
        key = (profile.profile_id, *profile.traits.items())
        try:
            seen = recent.get(key)
        except TypeError:  # unhashable traits (nested properties): no shortcut
            return identify_once.should_identify(str(profile.profile_id), profile.traits or None)
        now = monotonic()
        if seen is not None and now - seen < ttl:
            return False
        if not identify_once.should_identify(str(profile.profile_id), profile.traits or None):
            return False
        if len(recent) >= _RECENT_MAX:
            recent.clear()
        recent[key] = now
        return True

    @guarded("flask before_request")
    def before_request() -> None:
        if not state.prepared:
            state.prepare(app)
        req = _current_request()
        environ = req.environ
        if excluded(environ.get("PATH_INFO") or "/"):
            return
        rs = RequestState(perf_counter(), req)
        identify = state.identify
        profile = None
        if identify is not None:
            # Reading the session marks it accessed, and Flask then adds "Vary: Cookie" to the
            # response: a change the app did not ask for. Put the flag back as it was.
            raw = _raw_session()
            accessed = getattr(raw, "accessed", True)
            ok, value = call_user_hook("identify", identify)
            if not accessed:
                raw.accessed = False
            profile = to_profile(value) if ok else None
        device_id = None
        if device_cookie:
            device_id = read_device_cookie(environ.get("HTTP_COOKIE"), config)
            if device_id is None:
                device_id = new_device_id()
                rs.new_device = True
        get_header = _no_header if ip_header is None else environ_getter(environ)
        ip = client_ip(get_header, environ.get("REMOTE_ADDR"), config)
        context = open_context(
            ip=ip,
            user_agent=environ.get("HTTP_USER_AGENT"),
            device_id=device_id,
            profile_id=None if profile is None else profile.profile_id,
        )
        rs.profile = profile
        rs.device_id = device_id
        setattr(g, G_KEY, rs)  # first: teardown must find whatever was opened
        context.__enter__()
        rs.context = context
        if profile is not None and identify_users and should_identify(profile):
            client.identify(profile.profile_id, **profile.identify_kwargs())

    @guarded("flask after_request")
    def _after(response: Response) -> None:
        rs: RequestState | None = g.get(G_KEY)
        if rs is None:
            return
        rs.status = response.status_code
        if rs.new_device and rs.device_id is not None:
            # Never a cookie on a response that shared caches may keep for other visitors.
            if "public" in response.headers.get("Cache-Control", "").lower():
                return
            https = rs.environ.get("wsgi.url_scheme") == "https"
            response.headers.add(
                "Set-Cookie", device_cookie_header(rs.device_id, config, https=https)
            )

    def after_request(response: Response) -> Response:
        _after(response)
        return response

    def _track(rs: RequestState) -> None:
        # From the environ: cheaper than the request's properties, and never a
        # SecurityError from TRUSTED_HOSTS inside our hook.
        environ = rs.environ
        rule = rs.request.url_rule
        info = request_info(
            environ_getter(environ),
            environ.get("REMOTE_ADDR"),
            method=environ.get("REQUEST_METHOD") or "GET",
            scheme=environ.get("wsgi.url_scheme") or "http",
            host=_host(environ),
            path=_wsgi_text(environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/")),
            query=environ.get("QUERY_STRING", ""),
            config=config,
        )
        name, properties = request_event(
            info,
            status=500 if rs.status is None else rs.status,
            duration_ms=(perf_counter() - rs.start) * 1000.0,
            route=None if rule is None else rule.rule,
            config=config,
        )
        client.track(name, properties)

    @guarded("flask teardown_request")
    def teardown_request(exc: BaseException | None) -> None:
        rs: RequestState | None = g.pop(G_KEY, None)
        if rs is None:
            return
        try:
            if track_requests:
                _track(rs)
        finally:
            _close(rs.context)

    app.before_request_funcs.setdefault(None, []).insert(0, before_request)
    if track_requests or device_cookie:
        app.after_request_funcs.setdefault(None, []).insert(0, after_request)
    app.teardown_request_funcs.setdefault(None, []).insert(0, teardown_request)
