"""The Jinja global ``openpanel_script()``: the browser snippet for a page's ``<head>``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from flask import g, has_app_context, has_request_context, request
from markupsafe import Markup

from openpanel_core._guard import guarded
from openpanel_flask._hooks import G_KEY, RequestState
from openpanel_flask._state import OpenPanelState
from openpanel_web_bridge import BridgeConfig, render_snippet

__all__ = ["make_script_global"]

_CURRENT: Any = object()


def make_script_global(state: OpenPanelState) -> Callable[..., Markup]:
    """The ``openpanel_script`` template global of one app."""
    config = state.config
    mounted: dict[str, BridgeConfig] = {}

    def config_for(script_root: str) -> BridgeConfig:
        # An app mounted below a path (SCRIPT_NAME) serves its prefix below that path too.
        found = mounted.get(script_root)
        if found is None:
            found = dataclasses.replace(config, prefix=script_root + config.prefix)
            if len(mounted) < 16:
                mounted[script_root] = found
        return found

    @guarded("flask openpanel_script", default="")
    def _render(
        nonce: str | None, options: Mapping[str, Any] | None, profile_id: str | int | None
    ) -> str:
        if has_app_context():
            if nonce is None:
                found: object = g.get("csp_nonce")
                nonce = found if isinstance(found, str) and found else None
            if profile_id is _CURRENT:
                profile_id = None
                rs: RequestState | None = g.get(G_KEY)
                if config.identify_users and rs is not None and rs.profile is not None:
                    profile_id = rs.profile.profile_id
        elif profile_id is _CURRENT:
            profile_id = None
        script_root = request.script_root if has_request_context() else ""
        return render_snippet(
            config_for(script_root) if script_root else config,
            nonce=nonce,
            options=options,
            profile_id=None if profile_id is None else str(profile_id),
        )

    def openpanel_script(
        nonce: str | None = None,
        *,
        options: Mapping[str, Any] | None = None,
        profile_id: str | int | None = _CURRENT,
    ) -> Markup:
        """The OpenPanel snippet (queue stub, init call, script tag) as safe markup.

        Args:
            nonce: The CSP nonce for both tags; defaults to ``g.csp_nonce`` when set.
            options: Extra init options for this page (merged over ``OPENPANEL_BROWSER``).
            profile_id: The profile to identify in the browser; defaults to the logged-in user
                of the request (when ``OPENPANEL_IDENTIFY_USERS``); None for none.

        Returns:
            ``Markup`` ("" when disabled or when rendering failed).
        """
        return Markup(_render(nonce, options, profile_id))  # noqa: S704 - escaped by the bridge

    return openpanel_script
