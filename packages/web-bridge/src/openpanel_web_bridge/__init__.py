"""Framework-neutral web glue for OpenPanel: script snippet, first-party script and proxy, request context.

The Django, Flask and ASGI integrations are thin layers over this package::

    from openpanel_web_bridge import BridgeConfig, Proxy, render_snippet, script_response

    config = BridgeConfig.from_mapping(settings.OPENPANEL, source="OPENPANEL")
    html = render_snippet(config, nonce=csp_nonce)  # in the page's <head>
    static = script_response(if_none_match, accept_encoding=accept_encoding)  # GET /_op/op.js
    proxy = Proxy(config)  # POST /_op/track -> proxy.forward(...)

Nothing here imports a web framework; everything works on plain strings, bytes and mappings.
"""

from __future__ import annotations

from openpanel_core import __version__
from openpanel_web_bridge._config import BridgeConfig, Problem
from openpanel_web_bridge._cookie import device_cookie_header, new_device_id, read_device_cookie
from openpanel_web_bridge._identify import IdentifyOnce
from openpanel_web_bridge._paths import PathMatcher, excluded_paths
from openpanel_web_bridge._proxy import PROXY_ROUTES, Proxy, ProxyResponse
from openpanel_web_bridge._request import RequestInfo, client_ip, request_event, request_info
from openpanel_web_bridge._script import StaticResponse, script_response, script_version
from openpanel_web_bridge._snippet import json_for_html, render_snippet
from openpanel_web_bridge._webhooks import rejection_body, webhook_verifier

__all__ = [
    "PROXY_ROUTES",
    "BridgeConfig",
    "IdentifyOnce",
    "PathMatcher",
    "Problem",
    "Proxy",
    "ProxyResponse",
    "RequestInfo",
    "StaticResponse",
    "__version__",
    "client_ip",
    "device_cookie_header",
    "excluded_paths",
    "json_for_html",
    "new_device_id",
    "read_device_cookie",
    "rejection_body",
    "render_snippet",
    "request_event",
    "request_info",
    "script_response",
    "script_version",
    "webhook_verifier",
]
