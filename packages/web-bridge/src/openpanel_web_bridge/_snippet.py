"""The HTML that loads the browser script: a queue stub, the init call, the script tag."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from openpanel_core._guard import guarded
from openpanel_web_bridge._config import BridgeConfig
from openpanel_web_bridge._script import script_version

__all__ = ["json_for_html", "render_snippet"]

# Characters that could end a <script> element, start an HTML comment or end a JS string.
_HTML_UNSAFE = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)
_STUB = "window.op=window.op||function(){(window.op.q=window.op.q||[]).push(arguments)};"


def json_for_html(value: Any) -> str:
    r"""``value`` as compact JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\uXXXX`` escapes, so no value can
    close the element, open a comment or break a JavaScript string.

    Args:
        value: A JSON-serialisable value (dicts, lists, strings, numbers, booleans, None).

    Returns:
        The JSON text, to put as is inside a ``<script>`` element.

    Raises:
        TypeError: ``value`` is not JSON-serialisable.
        ValueError: ``value`` holds NaN or an infinity (not valid JSON).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_HTML_UNSAFE)


def _init_options(config: BridgeConfig, options: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "clientId": config.client_id,
        "apiUrl": config.prefix if config.proxy else config.api_url,
        "trackScreenViews": True,
    }
    merged.update(config.browser)
    if options:
        merged.update(options)
    # Secrets never go to a browser, whatever the options say.
    return {k: v for k, v in merged.items() if "secret" not in k.lower() and v is not None}


@guarded("render_snippet", default="")
def render_snippet(
    config: BridgeConfig,
    *,
    nonce: str | None = None,
    options: Mapping[str, Any] | None = None,
    profile_id: str | None = None,
) -> str:
    """The HTML for a page's ``<head>`` that loads the OpenPanel browser script.

    An inline ``<script>`` with the queue stub and the ``init`` call (and an ``identify`` call
    when ``profile_id`` is given), then ``<script src="{prefix}/op.js?v=<hash>" async defer>``
    (left out when ``config.script`` is False: load the script yourself). With
    ``config.proxy`` the init's ``apiUrl`` is the prefix (same origin), otherwise ``api_url``.
    The client secret is never part of it.

    Args:
        config: The bridge config.
        nonce: A CSP nonce, put on both tags (HTML-escaped).
        options: Extra ``init`` options for this page (override ``config.browser``).
        profile_id: The logged-in user: later browser events carry it.

    Returns:
        Markup-safe HTML (frameworks wrap it in their safe-string type), or ``""`` when the
        config is disabled or cannot render.
    """
    if config.disabled or not config.client_id:
        return ""
    nonce_attr = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
    calls = [f'window.op("init",{json_for_html(_init_options(config, options))});']
    if profile_id is not None and profile_id != "":
        calls.append(f'window.op("identify",{json_for_html({"profileId": str(profile_id)})});')
    out = f"<script{nonce_attr}>{_STUB}{''.join(calls)}</script>"
    if config.script:
        src = html.escape(f"{config.prefix}/op.js?v={script_version()}", quote=True)
        out += f'\n<script src="{src}" async defer{nonce_attr}></script>'
    return out
