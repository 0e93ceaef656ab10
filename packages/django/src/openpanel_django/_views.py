"""The first-party script and the proxy to the ingestion server (``openpanel_django.urls``)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from openpanel_django._middleware import header_getter
from openpanel_django._runtime import current
from openpanel_web_bridge import client_ip, read_device_cookie, script_response

__all__ = ["proxy_view", "script_view"]

_NOT_FOUND = b'{"error":"not found"}'
_TOO_LARGE = b'{"error":"payload too large"}'


def _json(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="application/json")


def script_view(request: HttpRequest) -> HttpResponse:
    """``GET {prefix}/op.js``: the browser script, cached for a year (304 on a matching ETag)."""
    method = request.method or "GET"
    if method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    rt = current()
    if rt is None or not rt.active or not rt.config.script:
        return _json(404, _NOT_FOUND)
    environ = request.META
    static = script_response(
        environ.get("HTTP_IF_NONE_MATCH"), accept_encoding=environ.get("HTTP_ACCEPT_ENCODING")
    )
    head = method == "HEAD"
    body = b"" if head else static.body
    response = HttpResponse(body, status=static.status, headers=dict(static.headers))
    if head and static.status == 200:
        response["Content-Length"] = str(len(static.body))
    return response


@csrf_exempt
def proxy_view(request: HttpRequest, subpath: str) -> HttpResponse:
    """``{prefix}/track``, ``/track/batch``, ``/track/device-id``: forwarded upstream.

    Only to the configured ingestion server, only these routes, with the configured client id
    (a browser-sent secret is dropped) and the visitor's IP. The body limit is checked on
    ``Content-Length`` before the body is read.
    """
    rt = current()
    if rt is None or not rt.active or not rt.config.proxy:
        return _json(404, _NOT_FOUND)
    proxy = rt.proxy()
    environ = request.META
    if proxy.too_large(environ.get("CONTENT_LENGTH")):
        return _json(413, _TOO_LARGE)
    try:
        body = request.body
    except RequestDataTooBig:
        return _json(413, _TOO_LARGE)
    answer = proxy.forward(
        request.method or "GET",
        subpath,
        {name.lower(): value for name, value in request.headers.items()},
        body,
        client_ip(header_getter(environ), environ.get("REMOTE_ADDR"), rt.config),
        device_id=read_device_cookie(environ.get("HTTP_COOKIE"), rt.config),
    )
    return HttpResponse(answer.body, status=answer.status, headers=dict(answer.headers))
