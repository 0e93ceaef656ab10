"""The browser snippet for templates: ``snippet(request)`` and a Jinja2 global."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openpanel_asgi._identity import from_scope_user
from openpanel_asgi._middleware import current_request
from openpanel_core._guard import suppress_internal_errors
from openpanel_web_bridge import BridgeConfig, render_snippet

__all__ = ["register_jinja2", "snippet"]


def _scope_of(request_or_scope: Any) -> Mapping[str, Any] | None:
    scope: Any = getattr(request_or_scope, "scope", request_or_scope)
    return scope if isinstance(scope, Mapping) else None  # pyright: ignore[reportUnknownVariableType]


def snippet(
    request_or_scope: Any = None,
    config: BridgeConfig | None = None,
    *,
    nonce: str | None = None,
    options: Mapping[str, Any] | None = None,
    profile_id: str | int | None = None,
) -> str:
    """The OpenPanel ``<script>`` tags for a page's ``<head>`` (a plain, markup-safe ``str``).

    Inside a request handled by :class:`OpenPanelMiddleware` the middleware's configuration is
    used when ``config`` is None, and the user it identified (or Starlette's
    authenticated ``scope["user"]``) is identified in the browser too, unless
    ``identify_users`` is off. Returns "" when there is no configuration, when OpenPanel is
    disabled, and if anything goes wrong.

    Args:
        request_or_scope: The Starlette ``Request`` (anything with ``.scope``) or the ASGI
            scope of the page being rendered.
        config: The configuration; defaults to the middleware's for this request.
        nonce: A CSP nonce to put on both script tags.
        options: Extra init options for the browser script.
        profile_id: Identify this user in the browser (default: the request's user).

    Returns:
        The HTML for the page's ``<head>``, or ``""``.
    """
    with suppress_internal_errors("asgi snippet"):
        state = current_request()
        cfg = config if config is not None else (state.config if state is not None else None)
        if cfg is None:
            return ""
        if profile_id is None and cfg.identify_users:
            identity = state.identity if state is not None else None
            scope = _scope_of(request_or_scope)
            if identity is None and scope is not None and "user" in scope:
                identity = from_scope_user(scope)
            if identity is not None:
                profile_id = identity.profile_id
        return render_snippet(
            cfg,
            nonce=nonce,
            options=options,
            profile_id=None if profile_id is None else str(profile_id),
        )
    return ""


def register_jinja2(
    templates: Any, config: BridgeConfig | None = None, *, name: str = "openpanel_snippet"
) -> None:
    """Add ``{{ openpanel_snippet(request) }}`` to a Jinja2 environment's globals.

    Args:
        templates: Starlette's ``Jinja2Templates`` (its ``.env`` is used) or a
            ``jinja2.Environment``.
        config: As for :func:`snippet` (default: the middleware's, per request).
        name: The global's name.

    Example::

        templates = Jinja2Templates(directory="templates")
        openpanel_asgi.register_jinja2(templates)
        # in <head>: {{ openpanel_snippet(request) }}
    """
    from markupsafe import Markup  # a Jinja2 dependency, needed only by Jinja2 users

    def openpanel_snippet(request: Any = None, nonce: str | None = None) -> Markup:
        return Markup(snippet(request, config, nonce=nonce))  # noqa: S704 - escaped by the bridge

    env = getattr(templates, "env", templates)
    globals_: dict[str, Callable[..., Any]] = env.globals
    globals_[name] = openpanel_snippet
