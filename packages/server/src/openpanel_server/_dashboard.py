"""``GET /dashboard``: the dashboard's static single page and its assets (package data).

The files under ``openpanel_server/dashboard/`` are read once, into memory, when the routes are
built; a request only looks its path up in that table, so nothing outside the folder can be
named (no path traversal) and an unknown asset is a 404. ``index.html`` names its assets with a
``?v=<digest>`` of all the assets' contents (the ES modules import each other with the same
mark, replaced in the own ``.js`` and ``.css`` files too), so they are cached for a year
(``immutable``) while the page itself is revalidated on every load (``no-cache``); both carry
a strong ``ETag`` and answer a matching ``If-None-Match`` with 304. Every answer sends a strict
Content-Security-Policy (``default-src 'self'``, no inline script or style): the page reads
data only from this server's ``/api/me``, ``/api/analytics`` (with its realtime stream),
``/api/cohorts`` and ``/api/webhooks``, with the credentials the user types in; actions only a
root client may take are offered only when ``/api/me`` names a root client.
"""

from __future__ import annotations

import hashlib
import mimetypes
import sys
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover
    from importlib.abc import Traversable

__all__ = ["CSP", "dashboard_routes"]

CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
"""The Content-Security-Policy sent with the page and its assets."""

ASSETS_PREFIX = "/dashboard/assets/"
VERSION_MARK = "__ASSETS_VERSION__"
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
_MARKED = (".js", ".css")
"""Own assets whose ``__ASSETS_VERSION__`` marks are replaced (vendored files are not)."""
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    etag: str
    media_type: str
    cache: str


def _file(name: str, body: bytes, cache: str) -> _File:
    suffix = name[name.rfind(".") :] if "." in name else ""
    media = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return _File(body, etag, media, cache)


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found |= _walk(entry, f"{prefix}{entry.name}/")
        else:
            found[prefix + entry.name] = entry.read_bytes()
    return found


def _load() -> tuple[_File, dict[str, _File]]:
    raw = _walk(resources.files("openpanel_server") / "dashboard")
    page = raw.pop("index.html")
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(name.encode() + b"\0" + raw[name] + b"\0")
    version = digest.hexdigest()[:16].encode()
    html = page.replace(VERSION_MARK.encode(), version)
    assets = {
        name: _file(
            name,
            body.replace(VERSION_MARK.encode(), version)
            if name.endswith(_MARKED) and not name.startswith("vendor/")
            else body,
            ASSET_CACHE,
        )
        for name, body in raw.items()
    }
    return _file("index.html", html, PAGE_CACHE), assets


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _headers(file: _File) -> dict[str, str]:
    return {
        "ETag": file.etag,
        "Cache-Control": file.cache,
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _answer(request: Request, file: _File) -> Response:
    if _matches(request.headers.get("if-none-match"), file.etag):
        return Response(status_code=304, headers=_headers(file))
    body = b"" if request.method == "HEAD" else file.body
    response = Response(body, media_type=file.media_type, headers=_headers(file))
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(file.body))
    return response


def dashboard_routes() -> list[Route]:
    """The dashboard's routes: ``/dashboard`` (the page) and ``/dashboard/assets/{path}``."""
    page, assets = _load()

    async def index(request: Request) -> Response:
        return _answer(request, page)

    async def asset(request: Request) -> Response:
        file = assets.get(request.path_params["path"])
        if file is None:
            return Response(
                "Not Found",
                status_code=404,
                media_type="text/plain",
                headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"},
            )
        return _answer(request, file)

    methods = ["GET", "HEAD"]
    return [
        Route("/dashboard", index, methods=methods),
        Route("/dashboard/", index, methods=methods),
        Route(ASSETS_PREFIX + "{path:path}", asset, methods=methods),
    ]
