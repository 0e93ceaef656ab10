"""The browser script, served first-party: package data, content-hash ETag, long caching, gzip."""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from openpanel_core import __version__

__all__ = ["StaticResponse", "script_response", "script_source", "script_version"]

# Filled in a hand-written script; the npm build injects the version itself (then a no-op).
_VERSION_PLACEHOLDER = b"__OPENPANEL_SDK_VERSION__"
_CACHE_CONTROL = "public, max-age=31536000, immutable"
_CONTENT_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class StaticResponse:
    """A complete HTTP answer for a framework to send as is.

    Attributes:
        status: 200 or 304.
        headers: Header (name, value) pairs, names in lower case.
        body: The body (empty for 304).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class _Script:
    raw: bytes
    gz: bytes
    version: str
    etag: str
    gz_etag: str


def _trim(source: bytes) -> bytes:
    """Drop comment-only lines, blank lines and indentation from a hand-written script.

    The packaged op.js is the minified build of the ``openpanel-browser`` npm package: one line
    of code, returned untouched (a line squeeze could change a multi-line string in minified
    code). A hand-written, multi-line script that keeps no ``//`` line inside a string or
    template literal is squeezed safely.
    """
    if source.rstrip(b"\n").count(b"\n") == 0:
        return source  # minified: nothing to trim
    kept: list[str] = []
    for line in source.decode("utf-8").splitlines():
        text = line.strip()
        if text and not text.startswith("//"):
            kept.append(text)
    return ("\n".join(kept) + "\n").encode("utf-8")


@functools.cache
def _script() -> _Script:
    raw = resources.files("openpanel_web_bridge").joinpath("static/op.js").read_bytes()
    raw = _trim(raw.replace(_VERSION_PLACEHOLDER, __version__.encode()))
    digest = hashlib.sha256(raw).hexdigest()
    # mtime=0: the same bytes on every start, so every worker agrees.
    gz = gzip.compress(raw, compresslevel=9, mtime=0)
    return _Script(raw, gz, digest[:12], f'"{digest[:32]}"', f'"{digest[:32]}-gz"')


def script_source() -> bytes:
    """The browser script as served (uncompressed)."""
    return _script().raw


def script_version() -> str:
    """A short hash of the script's content, used as ``?v=`` to bust caches.

    Returns:
        The hash, in hexadecimal; it changes only when the packaged script does.
    """
    return _script().version


def _accepts_gzip(accept_encoding: str | None) -> bool:
    if not accept_encoding:
        return False
    gzip_q: float | None = None
    star_q: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            gzip_q = q
        elif coding == "*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def _etag_matches(if_none_match: str, tags: tuple[str, ...]) -> bool:
    value = if_none_match.strip()
    if value == "*":
        return True
    for candidate in value.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]  # If-None-Match uses the weak comparison
        if tag in tags:
            return True
    return False


def script_response(
    if_none_match: str | None = None, *, accept_encoding: str | None = None
) -> StaticResponse:
    """The answer to ``GET {prefix}/op.js``.

    200 with the packaged script (``text/javascript; charset=utf-8``, a strong ETag from the
    content hash, ``Cache-Control: public, max-age=31536000, immutable``,
    ``Vary: Accept-Encoding``; the gzip body when ``Accept-Encoding`` allows it), or 304 when
    ``If-None-Match`` holds the current ETag (of either encoding).

    Args:
        if_none_match: The request's ``If-None-Match`` header.
        accept_encoding: The request's ``Accept-Encoding`` header.

    Returns:
        The status, headers and body to send.
    """
    s = _script()
    use_gzip = _accepts_gzip(accept_encoding)
    etag = s.gz_etag if use_gzip else s.etag
    common = (
        ("etag", etag),
        ("cache-control", _CACHE_CONTROL),
        ("vary", "Accept-Encoding"),
    )
    if if_none_match and _etag_matches(if_none_match, (s.etag, s.gz_etag)):
        return StaticResponse(304, common, b"")
    body = s.gz if use_gzip else s.raw
    headers = (
        ("content-type", _CONTENT_TYPE),
        ("content-length", str(len(body))),
        *common,
        ("x-content-type-options", "nosniff"),
    )
    if use_gzip:
        headers = (*headers, ("content-encoding", "gzip"))
    return StaticResponse(200, headers, body)
