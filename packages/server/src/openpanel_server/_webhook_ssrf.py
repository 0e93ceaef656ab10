"""SSRF protection for webhook URLs: resolve, check every address, connect to a checked one.

Endpoint URLs are chosen by API callers, so a delivery must never reach the server's own
network: loopback, private ranges, link-local (cloud metadata at 169.254.169.254), multicast,
and the IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo). The rules:

* the URL is ``https`` (``http`` only when the server allows it), without user info or a
  zone id, with a host; IDN hosts are IDNA-encoded by httpx's URL parser, which refuses
  invalid or confusable labels;
* the host is resolved (``getaddrinfo``, so ``2130706433``, ``0x7f.1`` and ``127.1`` resolve
  to the address they spell) and **every** address is checked against an explicit blocklist
  (the ranges svix-server blocks plus a few more) and must also be ``is_global``; one blocked
  address refuses the URL;
* the connection goes to an address that was checked (the request URL is rewritten to the IP,
  with the original ``Host`` header and TLS SNI/certificate name), so DNS cannot change
  between the check and the connection;
* ``allow_subnets`` lets chosen networks through (``127.0.0.0/8`` for local development and
  tests).

Redirects are never followed (the delivery client has ``follow_redirects=False``), and the
check runs in the transport, so even a followed redirect would be checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

__all__ = [
    "BLOCKED_NETWORKS",
    "AddressPolicy",
    "BlockedDestinationError",
    "InvalidEndpointURLError",
    "PinnedTransport",
    "Resolver",
    "check_endpoint_url",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: ``(host, port) -> addresses``; the default is `system_resolver`. Tests pass a stub.
Resolver = Callable[[str, int], Sequence[str]]

_BLOCKED = (
    # IPv4
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, broadcast
    # IPv6
    "::/96",  # unspecified, loopback, IPv4-compatible (deprecated)
    "::ffff:0:0/96",  # IPv4-mapped (checked as IPv4 too)
    "64:ff9b::/96",  # NAT64
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard
    "2001::/23",  # IETF protocol assignments, Teredo (2001::/32)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4
    "3fff::/20",  # documentation
    "5f00::/16",  # SRv6 SIDs
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated)
    "ff00::/8",  # multicast
)

#: The networks a webhook may never reach (unless allowed explicitly).
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in _BLOCKED)


class InvalidEndpointURLError(ValueError):
    """The URL cannot be a webhook endpoint (scheme, user info, host or a blocked address)."""


class BlockedDestinationError(httpx.TransportError):
    """A delivery was refused before connecting: the host resolves to a blocked address."""


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with ``getaddrinfo`` (TCP); the addresses in order, without duplicates.

    Raises:
        OSError: The name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen[str(info[4][0])] = None
    return list(seen)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which destinations webhooks may reach.

    Attributes:
        allow_subnets: Networks let through despite the blocklist.
        allow_http: Whether ``http://`` URLs are accepted.
    """

    allow_subnets: tuple[IPNetwork, ...] = ()
    allow_http: bool = False

    @classmethod
    def from_settings(cls, subnets: Iterable[str], allow_http: bool) -> AddressPolicy:
        """A policy from CIDR strings (``127.0.0.0/8``, ``::1/128``).

        Raises:
            ValueError: A subnet is not valid CIDR.
        """
        return cls(tuple(ipaddress.ip_network(s, strict=False) for s in subnets), allow_http)

    def blocked(self, address: str) -> bool:
        """Whether ``address`` (an IP string) must not be contacted.

        IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry; anything that
        does not parse as an IP address is blocked.
        """
        try:
            ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return True
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allow_subnets):
            return False
        if any(ip in net for net in BLOCKED_NETWORKS):
            return True
        return not ip.is_global

    def schemes(self) -> tuple[str, ...]:
        """The URL schemes accepted."""
        return ("https", "http") if self.allow_http else ("https",)


def _split(url: httpx.URL, policy: AddressPolicy) -> tuple[str, int]:
    if url.scheme not in policy.schemes():
        allowed = " or ".join(policy.schemes())
        raise InvalidEndpointURLError(f"the URL must use {allowed}")
    if url.userinfo:
        raise InvalidEndpointURLError("the URL must not contain a user name or password")
    host = url.raw_host.decode("ascii")
    if not host:
        raise InvalidEndpointURLError("the URL has no host")
    if "%" in host:
        raise InvalidEndpointURLError("the URL must not carry an IPv6 zone id")
    return host, url.port or (443 if url.scheme == "https" else 80)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _checked_addresses(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver
) -> list[str]:
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise BlockedDestinationError(f"{host} does not resolve ({exc})") from None
        if not addresses:
            raise BlockedDestinationError(f"{host} does not resolve")
    for address in addresses:
        if policy.blocked(address):
            raise BlockedDestinationError(f"{host} resolves to a blocked address ({address})")
    return addresses


def check_endpoint_url(
    url: str, policy: AddressPolicy, resolver: Resolver = system_resolver
) -> str:
    """Check a URL for use as an endpoint (at registration; deliveries check again).

    Args:
        url: The URL as given.
        policy: The address policy.
        resolver: Host name resolution.

    Returns:
        The URL, normalised by httpx (IDNA hosts encoded).

    Raises:
        InvalidEndpointURLError: Why the URL is refused.
    """
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise InvalidEndpointURLError("the URL must be a string of 1 to 2048 characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise InvalidEndpointURLError(f"not a valid URL: {exc}") from None
    if parsed.fragment:
        raise InvalidEndpointURLError("the URL must not have a fragment")
    host, port = _split(parsed, policy)
    try:
        _checked_addresses(host, port, policy, resolver)
    except BlockedDestinationError as exc:
        raise InvalidEndpointURLError(str(exc)) from None
    return str(parsed)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that resolves, checks and connects to a checked address only.

    The request's URL is rewritten to the address (the ``Host`` header keeps the name, and
    for ``https`` the ``sni_hostname`` extension makes TLS send and verify the name). When
    the host has several addresses, all are checked, and the next one is tried when a
    connection fails. Proxies are never used.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        **kwargs: object,
    ) -> None:
        """Build the transport.

        Args:
            policy: The address policy.
            resolver: Host name resolution (run in a worker thread).
            **kwargs: Passed to `httpx.AsyncHTTPTransport` (``verify``, ``limits``, ...).
        """
        super().__init__(**kwargs)  # pyright: ignore[reportArgumentType]
        self._policy = policy
        self._resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to a checked address of its host."""
        try:
            host, port = _split(request.url, self._policy)
        except InvalidEndpointURLError as exc:
            raise BlockedDestinationError(str(exc), request=request) from None
        if _literal(host) is not None:
            addresses = _checked_addresses(host, port, self._policy, self._resolver)
        else:
            addresses = await asyncio.to_thread(
                _checked_addresses, host, port, self._policy, self._resolver
            )
        original = request.url
        if request.url.scheme == "https" and _literal(host) is None:
            request.extensions = {**request.extensions, "sni_hostname": host}
        failure: httpx.ConnectError | None = None
        for address in addresses[:4]:
            request.url = original.copy_with(host=address)
            try:
                return await super().handle_async_request(request)
            except httpx.ConnectError as exc:
                failure = exc
            finally:
                request.url = original
        assert failure is not None
        raise failure
