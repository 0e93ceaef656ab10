"""``__path`` parsing (OpenPanel ``parsePath`` in ``packages/common/src/url.ts``).

* An absolute ``http(s)`` URL gives ``origin`` (scheme, host and non-default port) and
  ``path`` (the WHATWG-style pathname), plus its query and hash.
* A value starting with ``/`` gives a path with ``origin=''``, query and hash parsed the same way.
* Anything else (a React Native route such as ``HomeScreen``) is kept verbatim as ``path``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["ParsedPath", "host_of", "parse_path", "parse_query"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters kept as they are in a path / fragment; the rest (space, '"', '<', '>', '`', '{',
# '}', controls, non-ASCII) is percent-encoded as browsers do. '%' is kept: no double encoding.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~[]|^"
_FRAGMENT_SAFE = _PATH_SAFE + "#?{}"


def _empty_query() -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class ParsedPath:
    """A parsed ``__path``.

    Attributes:
        origin: ``scheme://host[:port]`` for absolute URLs, else ``''``.
        path: The pathname, or the raw value for non-URL routes.
        query: All query parameters, decoded; the last value wins.
        hash: The fragment with its ``#``, or ``''``.
    """

    origin: str
    path: str
    query: dict[str, str] = field(default_factory=_empty_query)
    hash: str = ""


_NO_PATH = ParsedPath("", "")  # events without a path (most server events): one shared value


def parse_query(query: str) -> dict[str, str]:
    """Decode a query string like ``URLSearchParams`` (``+`` is a space, the last value wins).

    Args:
        query: The query without its leading ``?``.

    Returns:
        The parameters as a dict.
    """
    if not query:
        return {}
    return dict(parse_qsl(query, keep_blank_values=True))


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments[1:], start=1):
        last = i == len(segments) - 1
        lowered = segment.lower()
        if lowered in (".", "%2e"):
            if last:
                out.append("")
        elif lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _clean_path(raw: str) -> str:
    path = raw.replace("\\", "/")
    if not path.startswith("/"):
        path = "/" + path
    return quote(_remove_dot_segments(path), safe=_PATH_SAFE)


def _split_hash(fragment: str) -> str:
    return "#" + quote(fragment, safe=_FRAGMENT_SAFE) if fragment else ""


def _origin(scheme: str, netloc: str) -> str | None:
    hostport = netloc.rsplit("@", 1)[-1]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1:
            return None
        host, rest = hostport[: end + 1].lower(), hostport[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
        host = host.lower()
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                return None
    if not host or any(ch in host for ch in " <>^|%"):
        return None
    if port_text:
        if not port_text.isdigit() or int(port_text) > 65535:
            return None
        if int(port_text) != _DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{int(port_text)}"
    return f"{scheme}://{host}"


def parse_path(value: str) -> ParsedPath:
    """Parse ``__path`` into origin, path, query and hash.

    Args:
        value: The ``__path`` (or legacy ``path``) property.

    Returns:
        The parsed path. Values that are neither ``http(s)`` URLs nor ``/``-paths, and URLs that
        do not parse, come back verbatim as ``path`` with an empty origin.
    """
    if not value:
        return _NO_PATH
    if value.startswith("/"):
        # Resolved against http://localhost; a scheme-relative "//host/x" names another host
        # there, and only its path is kept.
        parts = urlsplit(("http:" if value.startswith("//") else "http://localhost") + value)
        query, fragment = parse_query(parts.query), _split_hash(parts.fragment)
        return ParsedPath("", _clean_path(parts.path), query, fragment)
    if not value.startswith("http"):
        return ParsedPath("", value)
    try:
        parts = urlsplit(value.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.netloc:
            return ParsedPath("", value)
        origin = _origin(scheme, parts.netloc)
    except ValueError:
        return ParsedPath("", value)
    if origin is None:
        return ParsedPath("", value)
    return ParsedPath(
        origin, _clean_path(parts.path), parse_query(parts.query), _split_hash(parts.fragment)
    )


def host_of(url: str | None) -> str:
    """Return the lower-cased host name of an absolute URL, or ``''``.

    Args:
        url: Any string.

    Returns:
        The host without port, brackets or credentials; ``''`` when there is none.
    """
    if not url or "://" not in url:
        return ""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return ""
    return host or ""
