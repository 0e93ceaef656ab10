"""Who the end user is: the app's ``identify`` hook, or Starlette's ``scope["user"]``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from openpanel_asgi._types import Scope
from openpanel_core._guard import call_user_hook

__all__ = ["IdentifyHook", "IdentifyResult", "Identity", "from_hook", "from_scope_user"]

IdentifyResult: TypeAlias = "str | int | Mapping[str, Any] | None"
"""What an ``identify`` hook returns: a profile id, a mapping with ``profile_id`` and traits,
or None for an anonymous visitor."""

IdentifyHook: TypeAlias = Callable[[Scope], IdentifyResult]

_TRAITS = ("first_name", "last_name", "email", "avatar")


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
        """Everything an ``identify`` call would send, to tell a change from a repeat."""
        return {**self.traits, **self.properties}


def _valid_id(value: object) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value):
        return value
    return None


def _from_result(result: object) -> Identity | None:
    if isinstance(result, Mapping):
        values: dict[str, Any] = dict(result)  # pyright: ignore[reportUnknownArgumentType]
        profile_id = _valid_id(values.pop("profile_id", None))
        if profile_id is None:
            return None
        traits = {k: v for k in _TRAITS if isinstance(v := values.pop(k, None), str) and v}
        properties: dict[str, Any] = {}
        extra = values.pop("properties", None)
        if isinstance(extra, Mapping):
            properties.update(extra)  # pyright: ignore[reportUnknownArgumentType]
        properties.update(values)
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
