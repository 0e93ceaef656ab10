"""Who the end user is: the app's ``identify`` hook, or Starlette's ``scope["user"]``."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from openpanel_asgi._types import Scope
from openpanel_core._guard import call_user_hook
from openpanel_web_bridge import IdentifyOnce

__all__ = ["IdentifyHook", "IdentifyResult", "Identity", "from_hook", "from_scope_user"]

IdentifyResult: TypeAlias = "str | int | Mapping[str, Any] | None"
"""What an ``identify`` hook returns: a profile id, a mapping with ``profile_id`` and traits,
or None for an anonymous visitor."""

IdentifyHook: TypeAlias = Callable[[Scope], IdentifyResult]
"""The ``identify=`` hook of :class:`OpenPanelMiddleware`: ``(scope) -> IdentifyResult``.

Called with the request's ASGI scope at the start of each request, synchronously: read a
cookie, a session or a header already in the scope, do no I/O (an ``async def`` hook is not
supported and counts as anonymous). Return a profile id, a mapping with ``profile_id`` and
optionally ``first_name``, ``last_name``, ``email``, ``avatar`` and ``properties`` (other keys
become profile properties too), or None for an anonymous visitor. An exception in the hook is
logged once and means anonymous; it never reaches the app.
"""

_TRAITS = ("first_name", "last_name", "email", "avatar")
_KNOWN = frozenset({"profile_id", "properties", *_TRAITS})


@dataclass(frozen=True, slots=True)
class Identity:
    """A logged-in user, as the middleware understood it.

    Attributes:
        profile_id: The OpenPanel profile id.
        traits: ``first_name``, ``last_name``, ``email``, ``avatar`` when given.
        properties: Other profile properties.
    """

    profile_id: str | int
    traits: Mapping[str, str] = field(default_factory=dict[str, str])
    properties: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def fingerprint(self) -> dict[str, Any]:
        """Everything an ``identify`` call would send, to tell a change from a repeat.

        Returns:
            The traits and properties in one dict.
        """
        return {**self.traits, **self.properties}


def _valid_id(value: object) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value):
        return value
    return None


def _from_result(result: object) -> Identity | None:
    if isinstance(result, Mapping):
        values: Mapping[str, Any] = result  # pyright: ignore[reportUnknownVariableType]
        profile_id = _valid_id(values.get("profile_id"))
        if profile_id is None:
            return None
        traits = {k: v for k in _TRAITS if isinstance(v := values.get(k), str) and v}
        properties: dict[str, Any] = {}
        extra = values.get("properties")
        if isinstance(extra, Mapping):
            properties.update(extra)  # pyright: ignore[reportUnknownArgumentType]
        if len(values) > len(traits) + 1 + (extra is not None):  # other keys: properties too
            properties.update((k, v) for k, v in values.items() if k not in _KNOWN)
        return Identity(profile_id, traits, properties)
    if inspect.iscoroutine(result):
        result.close()  # an async hook: not supported (it would run on every request)
        return None
    profile_id = _valid_id(result)
    return None if profile_id is None else Identity(profile_id)


def from_hook(hook: IdentifyHook, scope: Scope) -> Identity | None:
    """Call the app's hook; its errors are logged once and mean "anonymous"."""
    ok, result = call_user_hook("identify", hook, scope)
    return _from_result(result) if ok else None


def _user_identity(user: Any) -> object:
    if not user.is_authenticated:
        return None
    return user.identity


def from_scope_user(scope: Mapping[str, Any]) -> Identity | None:
    """The user Starlette's ``AuthenticationMiddleware`` put in ``scope["user"]``, if logged in.

    ``user.identity`` is the profile id; users whose class raises there are anonymous.
    """
    user = scope.get("user")
    if user is None:
        return None
    ok, identity = call_user_hook("scope user", _user_identity, user)
    return _from_result(identity) if ok and not isinstance(identity, Mapping) else None


class IdentifyGate:
    """Identify once per session: :class:`~openpanel_web_bridge.IdentifyOnce` behind a memo.

    The memo holds the identity last sent for each profile; a request with the very same
    identity within the TTL is answered from it, without hashing the traits again. Anything
    else goes to ``IdentifyOnce``, which decides. Used on the event loop only.
    """

    __slots__ = ("_last", "_maxsize", "_once", "_ttl")

    def __init__(self, once: IdentifyOnce | None = None, maxsize: int = 10_000) -> None:
        self._once = once if once is not None else IdentifyOnce()
        self._ttl = self._once.ttl
        self._maxsize = maxsize
        self._last: dict[str | int, tuple[Identity, float]] = {}

    def should_identify(self, identity: Identity) -> bool:
        """True when ``identity`` should be sent now (the caller then identifies)."""
        now = time.monotonic()
        last = self._last.get(identity.profile_id)
        if last is not None and now - last[1] < self._ttl and last[0] == identity:
            return False
        if not self._once.should_identify(str(identity.profile_id), identity.fingerprint()):
            return False
        memo = self._last
        memo.pop(identity.profile_id, None)
        memo[identity.profile_id] = (identity, now)
        if len(memo) > self._maxsize:
            del memo[next(iter(memo))]  # the oldest
        return True
