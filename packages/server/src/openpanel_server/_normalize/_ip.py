"""Client IP from proxy headers (OpenPanel ``get-client-ip.ts``).

The TCP peer address is never used: the IP comes only from headers, in a fixed order, and only
public addresses count. The documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32 and 3fff::/20) are deliberately treated as **public**: tests and
examples everywhere use them as stand-ins for real client addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache

__all__ = ["DEFAULT_IP_HEADERS", "client_ip", "is_public_ip", "normalize_ip"]

DEFAULT_IP_HEADERS: tuple[str, ...] = (
    "openpanel-client-ip",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
    "x-forwarded-for",
    "x-real-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    "x-appengine-user-ip",
    "do-connecting-ip",
    "x-nf-client-connection-ip",
    "x-forwarded",
    "forwarded",
)
"""OpenPanel's default header order (overridable upstream with ``IP_HEADER_ORDER``)."""


def _ranges(*cidrs: str) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr)
        out.append((int(net.network_address), int(net.broadcast_address)))
    return tuple(out)


# Not public: "this network", private, CGNAT, loopback, link-local, IETF protocol assignments,
# benchmarking, multicast, reserved and broadcast.
_V4_BLOCKED = _ranges(
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
# IPv6 is public only inside global unicast 2000::/3 (so ::, ::1, fc00::/7, fe80::/10, ff00::/8
# and the rest of the reserved space are out), minus the benchmarking block and ORCHID.
_V6_GLOBAL = _ranges("2000::/3")[0]
_V6_BLOCKED = _ranges("2001:2::/48", "2001:10::/28", "2001:20::/28")


def _is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    value = int(addr)
    if addr.version == 4:
        return not any(lo <= value <= hi for lo, hi in _V4_BLOCKED)
    lo, hi = _V6_GLOBAL
    if not lo <= value <= hi:
        return False
    return not any(lo <= value <= hi for lo, hi in _V6_BLOCKED)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = value.strip().strip('"').strip()
    if not text:
        return None
    if text.startswith("["):
        # "[2001:db8::1]" or "[2001:db8::1]:443"
        end = text.find("]")
        if end == -1:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        # "203.0.113.7:8080"
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:
            return None
        mapped = addr.ipv4_mapped
        if mapped is not None:
            return mapped
    return addr


def _v4_fast(text: str) -> str | None:
    """A plain dotted quad (``203.0.113.7``, no leading zeros): public text, ``''``, or None.

    None means "not this simple form": the general parser decides.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or not part.isascii() or len(part) > 3:
            return None
        if len(part) > 1 and part[0] == "0":
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return "" if any(lo <= value <= hi for lo, hi in _V4_BLOCKED) else text


@lru_cache(maxsize=8192)
def normalize_ip(value: str) -> str:
    """Return the canonical text of a public IP address, or ``''``.

    Accepts surrounding whitespace and quotes, ``[v6]:port`` and ``v4:port`` forms, and unwraps
    IPv4-mapped IPv6 (``::ffff:203.0.113.7`` becomes ``203.0.113.7``). IPv6 is compressed and
    lower-cased.

    Args:
        value: The address text.

    Returns:
        The canonical address when it is public, else ``''``.
    """
    fast = _v4_fast(value)
    if fast is not None:
        return fast
    addr = _parse(value)
    if addr is None or not _is_public(addr):
        return ""
    return str(addr)


def is_public_ip(value: str) -> bool:
    """Tell whether ``value`` is a public IPv4 or IPv6 address.

    Loopback, private (10/8, 172.16/12, 192.168/16), CGNAT (100.64/10), link-local, unique-local
    (fc00::/7), multicast, unspecified and reserved addresses are not public; IPv4-mapped IPv6 is
    judged by its IPv4 address. Documentation ranges count as public (see the module docstring).

    Args:
        value: The address text (``[v6]:port`` and ``v4:port`` are accepted).

    Returns:
        ``True`` for a public address.
    """
    return bool(normalize_ip(value))


def _candidate(name: str, value: str) -> str:
    if name == "x-forwarded-for":
        return value.split(",", 1)[0]
    if name in ("forwarded", "x-forwarded"):
        return _forwarded_for(value)
    return value


def _forwarded_for(value: str) -> str:
    """The first ``for=`` of an RFC 7239 ``Forwarded`` value (or the value itself)."""
    lowered = value.lower()
    start = lowered.find("for=")
    if start == -1:
        # A bare "x-forwarded: 203.0.113.7, 10.0.0.1" list.
        return value.split(",", 1)[0]
    rest = value[start + 4 :].lstrip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return rest[1:end] if end != -1 else rest[1:]
    for sep in (";", ",", " "):
        cut = rest.find(sep)
        if cut != -1:
            rest = rest[:cut]
    return rest


def client_ip(
    headers: Mapping[str, str],
    header_order: Sequence[str] = DEFAULT_IP_HEADERS,
) -> str:
    """Return the first public client IP found in the proxy headers, or ``''``.

    Headers are tried in ``header_order``. ``x-forwarded-for`` contributes only its first entry
    and ``forwarded`` (and ``x-forwarded``) its first ``for=`` element; a header whose candidate
    is not public is skipped and the next header is tried. Header names are matched
    case-insensitively, for plain dicts as well as for Starlette ``Headers``.

    Args:
        headers: Request headers.
        header_order: Header names to try, most trusted first.

    Returns:
        The canonical public address (see `normalize_ip`), or ``''`` when none is found.
    """
    names = [name.strip().lower() for name in header_order]
    lookup: Mapping[str, str] = headers
    for attempt in range(2):
        for name in names:
            value = lookup.get(name)
            if value:
                ip = normalize_ip(_candidate(name, value))
                if ip:
                    return ip
        if attempt == 0:
            if all(key == key.lower() for key in headers):
                break
            lookup = {key.lower(): value for key, value in headers.items()}
    return ""
