"""Request context: the end user behind the events sent while handling one request.

A middleware opens ``client.context(ip=..., user_agent=...)`` around each request. Every event
tracked inside that scope (in the same thread, in asyncio tasks it starts, in
``asyncio.to_thread`` and in threads started through :func:`copy_context`) carries the end
user's IP and user agent, so the server derives the same device and session as for the
browser's own events.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

__all__ = ["RequestContext", "copy_context", "current_context", "request_context"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who and where an event comes from, while a request is handled.

    Attributes:
        ip: The end user's IP address (sent as ``openpanel-client-ip``).
        user_agent: The end user's user agent (sent as ``user-agent``).
        device_id: An explicit device id (sent as ``properties.__deviceId``).
        profile_id: The logged-in user, used when a call gives no ``profile_id``.
        groups: Groups added to every event in the scope.
        properties: Properties added to every event in the scope (call properties win).
    """

    ip: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    profile_id: str | int | None = None
    groups: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def merged(self, **changes: Any) -> RequestContext:
        """A copy with the given non-None fields replaced (groups and properties are added).

        Args:
            **changes: New values by field name (``ip``, ``user_agent``, ``device_id``,
                ``profile_id``, ``groups``, ``properties``); None or empty keeps the current
                value.

        Returns:
            A new context; this one is unchanged.
        """
        groups = self.groups
        if changes.get("groups"):
            groups = tuple(dict.fromkeys((*self.groups, *changes["groups"])))
        properties = self.properties
        if changes.get("properties"):
            properties = {**self.properties, **changes["properties"]}
        return RequestContext(
            ip=changes.get("ip") or self.ip,
            user_agent=changes.get("user_agent") or self.user_agent,
            device_id=changes.get("device_id") or self.device_id,
            profile_id=changes.get("profile_id") or self.profile_id,
            groups=groups,
            properties=properties,
        )


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "openpanel_request_context", default=None
)


def current_context() -> RequestContext | None:
    """The context of the current scope, or None outside any.

    Returns:
        The :class:`RequestContext` in effect, or None outside every scope.
    """
    return _current.get()


class _Scope:
    """The context manager of :func:`request_context` (a class: cheaper than a generator)."""

    __slots__ = ("_ctx", "_token")

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx
        self._token: contextvars.Token[RequestContext | None] | None = None

    def __enter__(self) -> RequestContext:
        self._token = _current.set(self._ctx)
        return self._ctx

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


def request_context(
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    device_id: str | None = None,
    profile_id: str | int | None = None,
    groups: list[str] | tuple[str, ...] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> AbstractContextManager[RequestContext]:
    """Open a scope; nested scopes inherit and override the outer one.

    The scope's context is built from the enclosing one when this is called; enter the result
    right away (``with request_context(...):``), as with any context manager.
    """
    parent = _current.get() or _EMPTY
    if parent is _EMPTY and not groups and not properties:
        # The common case (a middleware's scope), without merged()'s keyword plumbing.
        ctx = RequestContext(ip or None, user_agent or None, device_id or None, profile_id or None)
    else:
        ctx = parent.merged(
            ip=ip,
            user_agent=user_agent,
            device_id=device_id,
            profile_id=profile_id,
            groups=groups,
            properties=properties,
        )
    return _Scope(ctx)


def copy_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Bind ``fn`` to the current context, for threads and executors that do not copy it.

    ``threading.Thread(target=copy_context(work))`` and
    ``executor.submit(copy_context(work))`` see the request context of the caller.

    Args:
        fn: The callable to run later, in another thread.

    Returns:
        A callable with ``fn``'s signature that runs ``fn`` in a copy of the caller's
        context (taken when ``copy_context`` is called, not when the result runs).
    """
    ctx = contextvars.copy_context()

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return ctx.run(fn, *args, **kwargs)

    return run
