"""Who is logged in: the ``identify`` callable, and Flask-Login's ``current_user`` by default.

An ``identify`` callable takes no argument and returns, for the current request:

* ``None`` for an anonymous visitor;
* a profile id (``str`` or ``int``);
* a mapping with ``profile_id`` and any of ``first_name``, ``last_name``, ``email``,
  ``avatar`` and ``properties`` (sent once per session as an ``identify`` event).

Flask-Login is never imported by this module: when the app has a ``login_manager`` (set by
``LoginManager.init_app``), the module already imported by the app is used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from flask import Flask
from typing_extensions import NotRequired

__all__ = ["IdentifyFunc", "Profile", "ProfileDict", "flask_login_identify", "to_profile"]


class ProfileDict(TypedDict):
    """What an ``identify`` callable may return for a logged-in user (besides a bare id)."""

    profile_id: str | int
    first_name: NotRequired[str]
    last_name: NotRequired[str]
    email: NotRequired[str]
    avatar: NotRequired[str]
    properties: NotRequired[Mapping[str, Any]]


IdentifyFunc = Callable[[], "str | int | ProfileDict | Mapping[str, Any] | None"]
"""``() -> profile id | ProfileDict | None``, called once per tracked request."""

_FIELDS = ("first_name", "last_name", "email", "avatar")


@dataclass(frozen=True, slots=True)
class Profile:
    """A logged-in user, normalised from what ``identify`` returned."""

    profile_id: str | int
    traits: dict[str, Any] = field(default_factory=dict[str, Any])

    def identify_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``client.identify(profile_id, **kwargs)``."""
        return dict(self.traits)


def to_profile(value: object) -> Profile | None:
    """Normalise an ``identify`` result; anything unusable counts as anonymous."""
    if value is None or value is True or value is False:
        return None
    if isinstance(value, (str, int)):
        return Profile(value) if value != "" else None
    # A dict is the common case: test for it before the (slower) Mapping ABC.
    if isinstance(value, (dict, Mapping)):
        data = cast("Mapping[str, Any]", value)
    else:
        return None
    pid = data.get("profile_id")
    if pid is True or pid is False or not isinstance(pid, (str, int)) or pid == "":
        return None
    traits: dict[str, Any] = {}
    for key in _FIELDS:
        field_value = data.get(key)
        if type(field_value) is str:
            traits[key] = field_value
    props = data.get("properties")
    if props and isinstance(props, (dict, Mapping)):
        traits["properties"] = dict(cast("Mapping[str, Any]", props))
    return Profile(pid, traits)


def flask_login_identify() -> str | None:
    """The id of Flask-Login's ``current_user``, or None when anonymous."""
    flask_login: Any = sys.modules.get("flask_login")
    if flask_login is None:
        return None
    user: Any = flask_login.current_user
    if user is None or not user.is_authenticated:
        return None
    pid: object = user.get_id()
    return pid if isinstance(pid, str) and pid else None


def default_identify(app: Flask) -> IdentifyFunc | None:
    """Flask-Login's user when the app uses Flask-Login (``app.login_manager``), else None."""
    if getattr(app, "login_manager", None) is not None and "flask_login" in sys.modules:
        return flask_login_identify
    return None
