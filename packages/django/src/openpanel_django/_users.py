"""The logged-in user: its profile id and identify fields, through the settings' hooks."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from time import monotonic as _monotonic
from typing import Any, cast

from django.utils.functional import SimpleLazyObject, empty

from openpanel_core import OpenPanel
from openpanel_core._guard import call_user_hook
from openpanel_django._runtime import Runtime

__all__ = [
    "RECHECK_SECONDS",
    "has_session_cookie",
    "identify_if_due",
    "identify_kwargs",
    "logged_in_user",
    "profile_of",
    "user_identity",
]

_IDENTIFY_FIELDS = frozenset({"first_name", "last_name", "email", "avatar"})


def has_session_cookie(meta: Mapping[str, Any], rt: Runtime) -> bool:
    """Whether the request may have a logged-in user (a session cookie is sent).

    Requests without one never touch ``request.user``, which would load the session.
    """
    cookie = meta.get("HTTP_COOKIE")
    return bool(cookie) and rt.session_cookie in cookie


def logged_in_user(request: object) -> Any | None:
    """``request.user`` when it is an authenticated user (this loads the lazy user).

    Loading the user reads the session, which marks it accessed, and Django then adds
    ``Vary: Cookie`` to the response. To leave the response as the app alone would make it,
    the flag is put back, and ``request.user`` is replaced by a lazy object that sets it again
    when the app itself reads the (already loaded) user.
    """
    lazy = getattr(request, "user", None)
    if lazy is None:
        return None
    session = getattr(request, "session", None)
    was_accessed = getattr(session, "accessed", None)
    authenticated = getattr(lazy, "is_authenticated", False) is True
    if was_accessed is False and getattr(session, "accessed", None) is True:
        session.accessed = False  # pyright: ignore[reportOptionalMemberAccess]
        loaded = lazy.__dict__.get("_wrapped", lazy)  # the user behind Django's lazy object
        if loaded is empty:
            loaded = lazy
        request.user = SimpleLazyObject(partial(_user_read, session, loaded))  # pyright: ignore[reportAttributeAccessIssue]
    return lazy if authenticated else None


def _user_read(session: Any, user: Any) -> Any:
    session.accessed = True
    return user


def profile_of(rt: Runtime, user: Any) -> str | int | None:
    """The profile id of ``user`` through the ``PROFILE_ID`` hook (None on any problem)."""
    ok, pid = call_user_hook("PROFILE_ID", rt.options.profile_id, user)
    if not ok or pid is None or isinstance(pid, bool):
        return None
    if isinstance(pid, int):
        return pid
    return pid if isinstance(pid, str) and pid else None


def identify_kwargs(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``client.identify`` from an ``IDENTIFY`` result.

    Known fields are passed as such; ``properties`` and any other key become properties.
    """
    kwargs: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _IDENTIFY_FIELDS:
            if value is not None and value != "":
                kwargs[key] = str(value)
        elif key == "properties":
            if isinstance(value, Mapping):
                properties.update(cast("Mapping[str, Any]", value))
        else:
            properties[key] = value
    if properties:
        kwargs["properties"] = properties
    return kwargs


def user_identity(rt: Runtime, user: Any) -> tuple[str | int | None, dict[str, Any] | None]:
    """The profile id and, when the profile is due a check, the identify keyword arguments.

    The ``IDENTIFY`` hook runs at most once per ``RECHECK_SECONDS`` per profile and process
    (its result is compared with what was sent before by :func:`identify_if_due`), so a
    logged-in user's requests do not pay for it each time; changed fields are sent within
    that delay.
    """
    pid = profile_of(rt, user)
    if pid is None or not _check_due(rt, str(pid)):
        return pid, None
    ok, fields = call_user_hook("IDENTIFY", rt.options.identify, user)
    if not ok or not isinstance(fields, Mapping):
        return pid, None
    return pid, identify_kwargs(fields)


RECHECK_SECONDS = 30.0
_MAX_CHECKED = 10_000


def _check_due(rt: Runtime, key: str) -> bool:
    now = _monotonic()
    last = rt.checked.get(key)
    if last is not None and now - last < RECHECK_SECONDS:
        return False
    if len(rt.checked) >= _MAX_CHECKED:
        rt.checked.clear()
    rt.checked[key] = now
    return True


def identify_if_due(
    rt: Runtime, client: OpenPanel, pid: str | int, kwargs: dict[str, Any] | None
) -> None:
    """Identify the profile unless it was identified with the same fields recently."""
    if kwargs is not None and rt.identify_once.should_identify(str(pid), kwargs):
        client.identify(pid, **kwargs)
