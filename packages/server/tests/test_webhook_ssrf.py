"""SSRF: hostile webhook URLs and addresses are refused, at registration and at connection time."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from openpanel_server._webhook_ssrf import (
    AddressPolicy,
    BlockedDestinationError,
    InvalidEndpointURLError,
    PinnedTransport,
    check_endpoint_url,
    system_resolver,
)

STRICT = AddressPolicy()
STRICT_HTTP = AddressPolicy(allow_http=True)
LOCAL_DEV = AddressPolicy.from_settings(["127.0.0.0/8"], allow_http=True)

BLOCKED_ADDRESSES = [
    "127.0.0.1",
    "127.255.255.254",
    "::1",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.255",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",  # multicast (is_global on CPython 3.11)
    "239.255.255.250",
    "240.0.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.1",
    "203.0.113.1",
    "192.88.99.1",
    "fc00::1",  # unique local
    "fd12:3456:789a::1",
    "fe80::1",  # link-local
    "febf:ffff::1",
    "fec0::1",
    "ff02::1",  # multicast (is_global on CPython 3.11)
    "::",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1 (is_global on CPython 3.11)
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1 (is_global on CPython 3.11)
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",
    "3fff::1",
    "100::1",
    "5f00::1",
    "not an address",
]

PUBLIC_ADDRESSES = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450::1"]


@pytest.mark.parametrize("address", BLOCKED_ADDRESSES)
def test_blocked_addresses(address: str) -> None:
    assert STRICT.blocked(address)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_pass(address: str) -> None:
    assert not STRICT.blocked(address)


def test_allow_subnets_let_chosen_networks_through() -> None:
    assert not LOCAL_DEV.blocked("127.0.0.1")
    assert not LOCAL_DEV.blocked("::ffff:127.0.0.1")  # mapped form of an allowed address
    assert LOCAL_DEV.blocked("10.0.0.1")
    assert LOCAL_DEV.blocked("::1")  # only what was allowed
    with pytest.raises(ValueError, match="does not appear"):
        AddressPolicy.from_settings(["nonsense"], allow_http=False)


def _stub(table: dict[str, list[str]]) -> Callable[[str, int], Sequence[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


# DNS names that resolve to private addresses (a stub resolver plays the attacker's DNS).
HOSTILE_DNS = _stub(
    {
        "internal.example": ["10.1.2.3"],
        "metadata.example": ["169.254.169.254"],
        "loopback.example": ["127.0.0.1"],
        "v6loop.example": ["::1"],
        "mixed.example": ["93.184.215.14", "192.168.1.1"],  # one private answer is enough
        "nat64.example": ["64:ff9b::a00:1"],
        "127.0.0.1.nip.io": ["127.0.0.1"],
        "xn--e1afmkfd.xn--p1ai": ["10.0.0.7"],  # an IDN (punycode) resolving inside
        "public.example": ["93.184.215.14"],
        "empty.example": [],
    }
)

HOSTILE_URLS = [
    # addresses in the URL
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://[fc00::1]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[2002:7f00:1::]/",
    "https://0.0.0.0/",
    "https://[::]/",
    # decimal, octal, hex and short spellings of 127.0.0.1 / 0.0.0.0 (resolved by getaddrinfo)
    "https://2130706433/",
    "https://017700000001/",
    "https://0x7f000001/",
    "https://0x7f.0.0.1/",
    "https://0177.0.0.1/",
    "https://0x7f.1/",
    "https://127.1/",
    "https://0/",
    "https://localhost/",
    "https://LOCALHOST./",
    # DNS names resolving inside
    "https://internal.example/hook",
    "https://metadata.example/",
    "https://loopback.example:8443/x",
    "https://v6loop.example/",
    "https://mixed.example/",
    "https://nat64.example/",
    "https://127.0.0.1.nip.io/",
    "https://пример.рф/",  # IDN, encoded to xn--e1afmkfd.xn--p1ai, resolving to 10.0.0.7
    "https://does-not-exist.example/",
    "https://empty.example/",
    # IDN tricks: full-width digits, ideographic full stops, enclosed letters, zero-width space
    "https://127。0。0。1/",
    "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # full-width digits
    "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
    "https://exa\u200bmple.com/",
    # not https, credentials, other schemes, junk
    "http://public.example/hook",
    "https://user:pass@public.example/",
    "https://user@public.example/",
    "ftp://public.example/",
    "file:///etc/passwd",
    "gopher://public.example/",
    "https://public.example/#fragment",
    "https:///nohost",
    "not a url",
    "",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_are_refused_at_registration(url: str) -> None:
    def resolve(host: str, port: int) -> Sequence[str]:
        # The attacker's names go to the stub; numeric spellings and localhost to the real
        # getaddrinfo, as in production (no network needed for those).
        if host.endswith((".example", ".io")) or host.startswith("xn--"):
            return HOSTILE_DNS(host, port)
        return system_resolver(host, port)

    with pytest.raises(InvalidEndpointURLError):
        check_endpoint_url(url, STRICT, resolve)


def test_numeric_spellings_resolve_to_loopback_through_getaddrinfo() -> None:
    # Why checking the resolved address (not the host string) matters.
    for host in ("2130706433", "017700000001", "0x7f000001", "0x7f.1", "127.1"):
        assert system_resolver(host, 443) == ["127.0.0.1"], host


def test_a_public_url_passes() -> None:
    url = check_endpoint_url("https://public.example/hook?x=1", STRICT, HOSTILE_DNS)
    assert url == "https://public.example/hook?x=1"
    assert check_endpoint_url("https://93.184.215.14:8443/", STRICT, HOSTILE_DNS)
    with pytest.raises(InvalidEndpointURLError, match="https"):
        check_endpoint_url("http://public.example/", STRICT, HOSTILE_DNS)
    assert check_endpoint_url("http://public.example/", STRICT_HTTP, HOSTILE_DNS)


# ---------------------------------------------------------------- at connection time


def _post(
    transport: PinnedTransport, url: str, *, follow_redirects: bool = False
) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=transport, follow_redirects=follow_redirects, trust_env=False
        ) as client:
            return await client.post(url, content=b"{}")

    return asyncio.run(go())


def test_the_transport_connects_to_the_checked_address_with_the_host_header(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    resolver = _stub({"receiver.test": ["127.0.0.1"]})
    response = _post(
        PinnedTransport(LOCAL_DEV, resolver), f"http://receiver.test:{httpserver.port}/hook"
    )
    assert response.status_code == 200
    [(request, _)] = httpserver.log
    assert request.headers["Host"] == f"receiver.test:{httpserver.port}"


def test_dns_rebinding_after_registration_is_caught_at_delivery(httpserver: HTTPServer) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # public when checked, then loopback
    strict_http = AddressPolicy(allow_http=True)

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    url = f"http://rebind.test:{httpserver.port}/hook"
    check_endpoint_url(url, strict_http, rebinding)  # registration sees a public address
    with pytest.raises(BlockedDestinationError, match=r"blocked address \(127\.0\.0\.1\)"):
        _post(PinnedTransport(strict_http, rebinding), url)
    assert httpserver.log == []


def test_literal_and_mapped_addresses_are_refused_by_the_transport(httpserver: HTTPServer) -> None:
    transport = PinnedTransport(STRICT_HTTP)
    for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "[::1]", "2130706433", "localhost"):
        with pytest.raises(BlockedDestinationError):
            _post(transport, f"http://{host}:{httpserver.port}/")
    assert httpserver.log == []


def test_redirects_to_private_addresses_are_refused_even_when_followed(
    httpserver: HTTPServer,
) -> None:
    # Deliveries never follow redirects; even a client that did would be stopped here.
    httpserver.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": "http://10.0.0.1/internal"}
    )
    transport = PinnedTransport(LOCAL_DEV)
    with pytest.raises(BlockedDestinationError, match=r"10\.0\.0\.1"):
        _post(transport, f"http://127.0.0.1:{httpserver.port}/hook", follow_redirects=True)
    response = _post(transport, f"http://127.0.0.1:{httpserver.port}/hook")
    assert response.status_code == 302  # not followed


def test_the_next_checked_address_is_tried_when_one_refuses(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    # 127.0.0.2 refuses (nothing listens there on this port); 127.0.0.1 answers.
    resolver = _stub({"two.test": ["127.0.0.2", "127.0.0.1"]})
    response = _post(
        PinnedTransport(LOCAL_DEV, resolver), f"http://two.test:{httpserver.port}/hook"
    )
    assert response.status_code == 200


# ---------------------------------------------------------------- TLS: SNI and certificate name


def _certificate(tmp: Path, name: str) -> tuple[Path, Path]:
    key, cert = tmp / f"{name}.key", tmp / f"{name}.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str]]]:
    """An HTTPS server on 127.0.0.1 with a certificate for ``hooks.test``; records SNI names."""
    key, cert = _certificate(tmp_path, "hooks.test")
    seen_sni: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def sni(sock: ssl.SSLObject, name: str, ctx: ssl.SSLContext) -> None:
        seen_sni.append(name or "")

    context.sni_callback = sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert, seen_sni
    server.shutdown()
    server.server_close()


def test_tls_uses_the_host_name_for_sni_and_the_certificate(
    tls_server: tuple[int, Path, list[str]],
) -> None:
    port, cert, seen_sni = tls_server
    trust = ssl.create_default_context(cafile=str(cert))
    resolver = _stub({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    allowed = AddressPolicy.from_settings(["127.0.0.0/8"], allow_http=False)
    response = _post(
        PinnedTransport(allowed, resolver, verify=trust), f"https://hooks.test:{port}/hook"
    )
    assert response.status_code == 204
    assert seen_sni == ["hooks.test"]
    # Same address, another name: the certificate does not match, the request fails.
    with pytest.raises(httpx.ConnectError, match=r"certificate|hostname"):
        _post(PinnedTransport(allowed, resolver, verify=trust), f"https://other.test:{port}/hook")
