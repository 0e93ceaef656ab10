"""The blueprint serving the first-party script and the proxy to the ingestion server.

Mounted at the bridge prefix (``OPENPANEL_PREFIX``, default ``/_op``):

* ``GET  {prefix}/op.js``: the packaged browser script (ETag, 304, long cache, gzip);
* ``POST {prefix}/track``, ``POST {prefix}/track/batch``, ``GET {prefix}/track/device-id``:
  forwarded to the configured ingestion server only (never an open proxy), with the
  end user's IP and the configured client id, never the client secret.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from openpanel_core._guard import suppress_internal_errors
from openpanel_flask._hooks import environ_getter
from openpanel_flask._state import OpenPanelState
from openpanel_web_bridge import client_ip, read_device_cookie, script_response

__all__ = ["BLUEPRINT_NAME", "make_blueprint"]

BLUEPRINT_NAME = "openpanel"

_TOO_LARGE = b'{"error":"payload_too_large"}'
_FAILED = b'{"error":"proxy_failed"}'


def _json(body: bytes, status: int) -> Response:
    return Response(body, status=status, content_type="application/json")


def make_blueprint(state: OpenPanelState, name: str = BLUEPRINT_NAME) -> Blueprint:
    """The script and proxy routes of one app, at ``state.config.prefix``."""
    config = state.config
    bp = Blueprint(name, __name__, url_prefix=config.prefix.rstrip("/") or None)

    if config.script:

        @bp.get("/op.js")
        def script() -> Response:
            headers = request.headers
            answer = script_response(
                headers.get("If-None-Match"), accept_encoding=headers.get("Accept-Encoding")
            )
            response = Response(answer.body, status=answer.status, headers=list(answer.headers))
            if answer.status == 304:
                response.headers.pop("Content-Type", None)
            return response

    if config.proxy:

        @bp.route("/<path:subpath>", methods=["GET", "POST"])
        def proxy(subpath: str) -> Response:
            with suppress_internal_errors("flask proxy"):
                return _forward(state, subpath)
            return _json(_FAILED, 502)

    return bp


def _forward(state: OpenPanelState, subpath: str) -> Response:
    config = state.config
    proxy = state.proxy
    environ = request.environ
    body = b""
    if request.method == "POST":
        # The declared length is checked before anything is read; a body without one is read
        # up to one byte past the limit.
        if proxy.too_large(environ.get("CONTENT_LENGTH")):
            return _json(_TOO_LARGE, 413)
        limit = config.max_proxy_body_bytes
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            return _json(_TOO_LARGE, 413)
    headers = {name.lower(): value for name, value in request.headers.items()}
    ip = client_ip(environ_getter(environ), environ.get("REMOTE_ADDR"), config)
    device_id = (
        read_device_cookie(environ.get("HTTP_COOKIE"), config) if config.device_cookie else None
    )
    answer = proxy.forward(request.method, subpath, headers, body, ip, device_id=device_id)
    response = Response(answer.body, status=answer.status, headers=list(answer.headers))
    if not any(name.lower() == "content-type" for name, _ in answer.headers):
        response.headers.pop("Content-Type", None)
    return response
