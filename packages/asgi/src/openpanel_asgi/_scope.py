"""Reading an ASGI ``http`` scope cheaply: headers once per request, paths, the route template."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from openpanel_asgi._types import Scope

__all__ = ["HeaderGetter", "header_getter", "peer", "route_path", "route_template"]

HeaderGetter = Callable[[str], "str | None"]

# Repeated headers are joined as RFC 9110 says (cookies with "; ", as HTTP/2 splits them).
_JOIN = {b"cookie": b"; "}


def _headers_map(raw: Iterable[Any]) -> dict[bytes, bytes]:
    items = raw if isinstance(raw, (list, tuple)) else list(raw)
    headers: dict[bytes, bytes] = dict(items)
    if len(headers) == len(items):  # the usual case: no repeated header
        return headers
    headers = {}
    for name, value in items:
        if name in headers:
            headers[name] = headers[name] + _JOIN.get(name, b", ") + value
        else:
            headers[name] = value
    return headers


def header_getter(scope: Scope) -> HeaderGetter:
    """A lookup by lower-case name over the scope's headers, built once per request.

    ASGI servers send lower-case header names; values are decoded as latin-1 (what HTTP/1.1
    carries), so any byte survives.
    """
    headers = _headers_map(scope.get("headers") or ())

    def get(name: str) -> str | None:
        value = headers.get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    return get


def peer(scope: Scope) -> str | None:
    """The socket peer's host (``scope["client"][0]``), if the server gave one."""
    client = scope.get("client")
    if client:
        host = client[0]
        return host if isinstance(host, str) else None
    return None


def route_path(scope: Scope) -> str:
    """The path inside the app: ``path`` without the ``root_path`` it was mounted under."""
    path: str = scope["path"]
    root = scope.get("root_path")
    if root and path.startswith(root) and root != "/":
        rest = path[len(root) :]
        if not rest:
            return "/"
        if rest[0] == "/":
            return rest
    return path


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/items/{item_id}``), when Starlette set one.

    Starlette's router stores the matched route in ``scope["route"]`` and each mount adds its
    prefix to ``root_path`` of the same scope, so the full template is ``root_path`` plus the
    route's ``path_format`` (a mount matched as a whole, such as static files, gives its own
    prefix). Anything else gives None.
    """
    route = scope.get("route")
    if route is None:
        return None
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    root = scope.get("root_path") or ""
    if not isinstance(root, str):
        return None
    if hasattr(route, "routes") and path_format.endswith("/{path}"):
        return root or "/"  # a Mount: the request went to a mounted app without routes of its own
    return (root.rstrip("/") + path_format) or "/"
