"""The end user behind a request: IP (behind trusted proxies), user agent, referrer, URL."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpanel_web_bridge._config import BridgeConfig

__all__ = ["GetHeader", "RequestInfo", "client_ip", "normalize_ip", "request_event", "request_info"]

GetHeader = Callable[[str], "str | None"]
"""Reads one request header by its lower-case name (None when absent)."""


@functools.lru_cache(maxsize=4096)  # the same few addresses come back request after request
def normalize_ip(value: str | None) -> str | None:
    """The canonical text of an IP address, or None when ``value`` is not one.

    Accepts surrounding spaces and quotes, ``v4:port``, ``[v6]`` and ``[v6]:port``; unwraps
    IPv4-mapped IPv6. Zone ids (``fe80::1%eth0``) are refused.
    """
    if not value:
        return None
    text = value.strip().strip('"').strip()
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if not text or "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _forwarded_for(element: str) -> str | None:
    """The ``for=`` value of one RFC 7239 element (``for=...;proto=https;by=...``)."""
    for pair in element.split(";"):
        name, sep, value = pair.partition("=")
        if sep and name.strip().lower() == "for":
            return value.strip()
    return None


def client_ip(get_header: GetHeader, peer: str | None, config: BridgeConfig) -> str | None:
    """The end user's IP address.

    From ``config.ip_header`` when set: for ``x-forwarded-for`` the entry ``trusted_hops``
    from the right (the one your outermost proxy saw), for ``forwarded`` (RFC 7239) the
    ``for=`` of the element ``trusted_hops`` from the right, for any other header (such as
    ``x-real-ip`` or ``cf-connecting-ip``) its value. Otherwise, or when the header is
    missing, too short or holds no valid address: the socket peer. Ports and brackets are
    stripped; invalid values are ignored.

    Args:
        get_header: Reads a request header by lower-case name.
        peer: The socket peer's address (``REMOTE_ADDR``, ``scope["client"][0]``).
        config: The bridge config.

    Returns:
        The address in canonical form, or None when neither the header nor the peer holds a
        valid one.
    """
    header = config.ip_header
    if header:
        raw = get_header(header)
        if raw:
            found: str | None
            if header in ("x-forwarded-for", "forwarded"):
                entries = [e.strip() for e in raw.split(",")]
                hops = max(config.trusted_hops, 1)
                if len(entries) >= hops:
                    entry = entries[-hops]
                    found = _forwarded_for(entry) if header == "forwarded" else entry
                else:
                    found = None
            else:
                found = raw
            ip = normalize_ip(found)
            if ip is not None:
                return ip
    return normalize_ip(peer)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the integrations record about a request.

    Attributes:
        ip: The end user's IP address.
        user_agent: The ``User-Agent`` header.
        referrer: The ``Referer`` header.
        url: ``scheme://host/path?query``, sent as ``__path``.
        path: The path (no query string).
        method: The HTTP method, upper case.
    """

    ip: str | None
    user_agent: str | None
    referrer: str | None
    url: str | None
    path: str
    method: str


def request_info(
    get_header: GetHeader,
    peer: str | None,
    *,
    method: str,
    scheme: str,
    host: str | None,
    path: str,
    query: str,
    config: BridgeConfig,
) -> RequestInfo:
    """Collect a request's :class:`RequestInfo` (cheap: a few header reads).

    Args:
        get_header: Reads a request header by lower-case name.
        peer: The socket peer's address.
        method: The HTTP method.
        scheme: ``"http"`` or ``"https"``.
        host: The ``Host`` (with port when not the default); None: no ``url``.
        path: The request path.
        query: The query string without ``?`` (``""`` when none).
        config: The bridge config.

    Returns:
        The request's IP (see :func:`client_ip`), user agent, referrer, URL, path and method.
    """
    url = None
    if host:
        url = f"{scheme}://{host}{path}"
        if query:
            url = f"{url}?{query}"
    return RequestInfo(
        ip=client_ip(get_header, peer, config),
        user_agent=get_header("user-agent") or None,
        referrer=get_header("referer") or None,
        url=url,
        path=path,
        method=method.upper(),
    )


def request_event(
    info: RequestInfo,
    *,
    status: int,
    duration_ms: float,
    route: str | None,
    config: BridgeConfig,
) -> tuple[str, dict[str, Any]]:
    """The server-side event for one handled request (``track_requests``).

    Args:
        info: What was collected about the request (:func:`request_info`).
        status: The response's HTTP status code.
        duration_ms: How long the app took to answer, in milliseconds (rounded to 0.01).
        route: The matched route pattern (``"/items/{id}"``, ``"items/<int:id>"``), or None
            when the framework matched none.
        config: The bridge config; its ``request_event_name`` names the event.

    Returns:
        ``(config.request_event_name, properties)`` with ``method``, ``path``, ``route``,
        ``status``, ``duration_ms``, ``__path`` (the URL) and ``__referrer``; None values are
        left out.
    """
    props: dict[str, Any] = {
        "method": info.method,
        "path": info.path,
        "route": route,
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "__path": info.url,
        "__referrer": info.referrer,
    }
    return config.request_event_name, {k: v for k, v in props.items() if v is not None}
