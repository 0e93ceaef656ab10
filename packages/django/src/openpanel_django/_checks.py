"""Django system checks (``manage.py check``) under the ``openpanel`` tag.

``openpanel.E0xx``/``W0xx`` come from the bridge's configuration checks;
``openpanel.E1xx``/``W1xx`` are Django-specific:

- E100: ``settings.OPENPANEL`` is missing, not a dict, or has a wrong key or value.
- E101: ``AuthenticationMiddleware`` comes after ``OpenPanelMiddleware`` (identify_users).
- W102: ``identify_users`` is on but ``AuthenticationMiddleware`` is not installed.
- W103: ``OpenPanelMiddleware`` is not in ``MIDDLEWARE``.
- E104: ``openpanel_django.urls`` is mounted somewhere other than ``prefix``.
- W105: ``openpanel_django.urls`` is not mounted although the script or the proxy is on.
- W106: ``OpenPanelMiddleware`` is listed more than once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.urls import NoReverseMatch, reverse

from openpanel_core import ConfigurationError
from openpanel_django._settings import SETTING, read_settings
from openpanel_web_bridge import BridgeConfig

__all__ = ["check_openpanel"]

MIDDLEWARE = "openpanel_django.middleware.OpenPanelMiddleware"
_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
_OURS = (MIDDLEWARE, "openpanel_django._middleware.OpenPanelMiddleware")


def _message(level: str, msg: str, hint: str | None, id: str) -> CheckMessage:
    cls = Error if level == "error" else Warning
    return cls(msg, hint=hint or None, obj=SETTING, id=id)


def _middleware_checks(config: BridgeConfig) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    middleware: Sequence[str] = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours = [i for i, name in enumerate(middleware) if name in _OURS]
    if not ours:
        return [
            Warning(
                "OpenPanelMiddleware is not in MIDDLEWARE: server-side events will not carry "
                "the visitor's IP, user agent and profile.",
                hint=f"Add {MIDDLEWARE!r} to MIDDLEWARE, after AuthenticationMiddleware.",
                obj=SETTING,
                id="openpanel.W103",
            )
        ]
    if len(ours) > 1:
        found.append(
            Warning(
                "OpenPanelMiddleware is listed more than once in MIDDLEWARE.",
                hint="Keep one entry (the outer one does the work).",
                obj=SETTING,
                id="openpanel.W106",
            )
        )
    if config.identify_users:
        auth = [i for i, name in enumerate(middleware) if name == _AUTH]
        if not auth:
            found.append(
                Warning(
                    "identify_users is on but AuthenticationMiddleware is not installed: "
                    "no request has a logged-in user.",
                    hint=f"Add {_AUTH!r} before OpenPanelMiddleware, or set "
                    f"{SETTING}['identify_users'] = False.",
                    obj=SETTING,
                    id="openpanel.W102",
                )
            )
        elif auth[0] > ours[0]:
            found.append(
                Error(
                    "AuthenticationMiddleware comes after OpenPanelMiddleware, so OpenPanel "
                    "never sees the logged-in user.",
                    hint="Move OpenPanelMiddleware below AuthenticationMiddleware in MIDDLEWARE.",
                    obj=SETTING,
                    id="openpanel.E101",
                )
            )
    return found


def _url_checks(config: BridgeConfig) -> list[CheckMessage]:
    if config.disabled or not (config.script or config.proxy):
        return []
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    name, expected = (
        ("openpanel:script", "/op.js") if config.script else ("openpanel:track", "/track")
    )
    try:
        mounted = reverse(name)
    except NoReverseMatch:
        return [
            Warning(
                "openpanel_django.urls is not in your URLconf: the browser snippet loads "
                f"{config.prefix}/op.js and sends events to {config.prefix}/track.",
                hint=f'Add path("{config.prefix.strip("/")}/", '
                'include("openpanel_django.urls")) to your urlpatterns, or set '
                f"{SETTING}['script'] and {SETTING}['proxy'] to False.",
                obj=SETTING,
                id="openpanel.W105",
            )
        ]
    if mounted != config.prefix + expected:
        return [
            Error(
                f"openpanel_django.urls is mounted at {mounted[: -len(expected)]!r} but "
                f"{SETTING}['prefix'] is {config.prefix!r}: the snippet would point elsewhere.",
                hint="Mount the URLs at the prefix, or set the prefix to where they are mounted.",
                obj=SETTING,
                id="openpanel.E104",
            )
        ]
    return []


def check_openpanel(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report OpenPanel misconfiguration as Django system check messages.

    Returns:
        Errors and warnings (empty when all is well).
    """
    try:
        config, _ = read_settings()
    except ConfigurationError as exc:
        return [
            Error(
                str(exc),
                hint=f"See the {SETTING} section of the openpanel-django README.",
                obj=SETTING,
                id="openpanel.E100",
            )
        ]
    found = [_message(p.level, p.message, p.hint, p.id) for p in config.problems()]
    found += _middleware_checks(config)
    found += _url_checks(config)
    return found


def register_checks() -> None:
    """Register :func:`check_openpanel` (called once from ``AppConfig.ready``)."""
    register(check_openpanel, "openpanel")
