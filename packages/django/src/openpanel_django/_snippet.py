"""The browser snippet for a Django page: nonce and profile id taken from the request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from openpanel_core._guard import guarded
from openpanel_django._runtime import current
from openpanel_django._users import logged_in_user, profile_of
from openpanel_web_bridge import render_snippet

__all__ = ["script_tag"]


def _nonce(request: object, nonce: object) -> str | None:
    if nonce is None and request is not None:
        nonce = getattr(request, "csp_nonce", None)  # django-csp
    if nonce is None:
        return None
    text = str(nonce)  # django-csp's nonce is a lazy object
    return text or None


@guarded("openpanel_script", default=mark_safe(""))
def script_tag(
    request: object = None,
    *,
    options: Mapping[str, Any] | None = None,
    nonce: object = None,
) -> SafeString:
    """The ``<script>`` tags that load the OpenPanel browser script, as a safe string.

    The CSP nonce is ``nonce`` or ``request.csp_nonce`` (django-csp); with ``identify_users``
    the logged-in user's profile id is added, so the browser's events carry it. Renders
    ``""`` when OpenPanel is disabled or misconfigured. The client secret is never part of it.

    Args:
        request: The current request (the template tag takes it from the context).
        options: Extra browser ``init`` options for this page.
        nonce: A CSP nonce (default: ``request.csp_nonce`` when present).

    Returns:
        The HTML for the page's ``<head>``.
    """
    rt = current()
    if rt is None or not rt.active:
        return mark_safe("")
    profile_id: str | None = None
    if rt.config.identify_users and request is not None:
        user = logged_in_user(request)
        if user is not None:
            pid = profile_of(rt, user)
            profile_id = None if pid is None else str(pid)
    html = render_snippet(
        rt.config, nonce=_nonce(request, nonce), options=options, profile_id=profile_id
    )
    return mark_safe(html)  # noqa: S308 (render_snippet escapes every value)
