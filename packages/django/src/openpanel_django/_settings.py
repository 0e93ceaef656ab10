"""Reading ``settings.OPENPANEL``: the bridge's keys plus a few Django-only ones.

The bridge keys (``client_id``, ``api_url``, ``track_requests``, ...) go through
:meth:`openpanel_web_bridge.BridgeConfig.from_mapping`; the Django-only keys are:

``IDENTIFY``
    A callable, or its dotted path, taking the logged-in user and returning the identify
    fields: any of ``first_name``, ``last_name``, ``email``, ``avatar`` and ``properties``
    (other keys are added to ``properties``); None skips the identify. Default:
    :func:`default_identify`.
``PROFILE_ID``
    A callable, or its dotted path, taking the logged-in user and returning its profile id
    (None: leave the request anonymous). Default: :func:`default_profile_id` (``str(user.pk)``).
``CLIENT_OPTIONS``
    Extra keyword options for the process's :class:`openpanel_core.OpenPanel` (for example
    ``flush_interval``, ``persist_path``, ``transport``).
``WEBHOOK_REPLAY_CACHE``
    The cache alias that remembers processed webhook ids (replay protection), ``"default"``
    unless set; None turns the memory off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from django.conf import settings
from django.utils.module_loading import import_string

from openpanel_core import ConfigurationError
from openpanel_web_bridge import BridgeConfig

__all__ = [
    "DjangoOptions",
    "IdentifyHook",
    "ProfileIdHook",
    "default_identify",
    "default_profile_id",
    "read_settings",
]

SETTING = "OPENPANEL"

IdentifyHook = Callable[[Any], "Mapping[str, Any] | None"]
ProfileIdHook = Callable[[Any], "str | int | None"]

_DJANGO_KEYS = frozenset({"identify", "profile_id", "client_options", "webhook_replay_cache"})


def default_profile_id(user: Any) -> str | None:
    """The profile id of a Django user: its primary key as a string.

    Args:
        user: The logged-in user.

    Returns:
        ``str(user.pk)``, or None when the user has no primary key.
    """
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


def default_identify(user: Any) -> dict[str, Any]:
    """The identify fields of a Django user: its first name, last name and email when set.

    Args:
        user: The logged-in user.

    Returns:
        The non-empty ones of ``first_name``, ``last_name`` and ``email``.
    """
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name", "email"):
        value = getattr(user, name, None)
        if isinstance(value, str) and value:
            fields[name] = value
    return fields


@dataclass(frozen=True, slots=True)
class DjangoOptions:
    """The Django-only keys of ``settings.OPENPANEL``, resolved."""

    identify: IdentifyHook = default_identify
    profile_id: ProfileIdHook = default_profile_id
    client_options: Mapping[str, Any] = field(default_factory=dict[str, Any])
    webhook_replay_cache: str | None = "default"


def _hook(value: object, default: Callable[[Any], Any], key: str) -> Callable[[Any], Any]:
    if value is None:
        return default
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ConfigurationError(
                f"{SETTING}[{key!r}] = {value!r} cannot be imported: {exc}"
            ) from None
    if not callable(value):
        raise ConfigurationError(f"{SETTING}[{key!r}] must be a callable or its dotted path")
    return cast("Callable[[Any], Any]", value)


def read_settings() -> tuple[BridgeConfig, DjangoOptions]:
    """Read and validate ``settings.OPENPANEL``.

    Returns:
        The bridge configuration and the Django-only options.

    Raises:
        ConfigurationError: The setting is missing or a key or value is wrong.
    """
    raw: object = getattr(settings, SETTING, None)
    if raw is None:
        raise ConfigurationError(
            f"settings.{SETTING} is not set; add {SETTING} = {{'client_id': '...'}} "
            "to your settings"
        )
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"settings.{SETTING} must be a dict")
    bridge: dict[str, Any] = {}
    extra: dict[str, tuple[str, Any]] = {}
    for key, value in cast("Mapping[object, Any]", raw).items():
        if not isinstance(key, str):
            raise ConfigurationError(f"settings.{SETTING} keys must be strings, got {key!r}")
        if key.lower() in _DJANGO_KEYS:
            extra[key.lower()] = (key, value)
        else:
            bridge[key] = value
    config = BridgeConfig.from_mapping(bridge, source=SETTING)
    options = DjangoOptions()
    if "identify" in extra:
        key, value = extra["identify"]
        options = replace(options, identify=_hook(value, default_identify, key))
    if "profile_id" in extra:
        key, value = extra["profile_id"]
        options = replace(options, profile_id=_hook(value, default_profile_id, key))
    if "client_options" in extra:
        key, value = extra["client_options"]
        if value is not None and not isinstance(value, Mapping):
            raise ConfigurationError(f"{SETTING}[{key!r}] must be a dict of client options")
        options = replace(options, client_options=dict(cast("Mapping[str, Any]", value or {})))
    if "webhook_replay_cache" in extra:
        key, value = extra["webhook_replay_cache"]
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{SETTING}[{key!r}] must be a cache alias or None")
        options = replace(options, webhook_replay_cache=value)
    return config, options
