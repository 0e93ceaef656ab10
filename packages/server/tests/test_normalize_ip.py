from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from openpanel_server._normalize import DEFAULT_IP_HEADERS, client_ip, is_public_ip, normalize_ip

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "81.2.69.142",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "192.0.2.1",  # documentation ranges are public on purpose
    "198.51.100.23",
    "203.0.113.7",
    "2001:db8::1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "[2001:db8::2]",
    "[2001:db8::2]:443",
    "203.0.113.7:8080",
    ' "203.0.113.7" ',
]
NOT_PUBLIC = [
    "",
    "unknown",
    "_hidden",
    "not an ip",
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "192.0.0.8",
    "198.18.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:192.168.0.1",
    "::1.2.3.4",
    "64:ff9b::1.2.3.4",
    "2001:2::1",
    "256.1.1.1",
    "1.2.3",
    "[::1]:80",
]


@pytest.mark.parametrize("value", PUBLIC)
def test_public(value: str) -> None:
    assert is_public_ip(value)


@pytest.mark.parametrize("value", NOT_PUBLIC)
def test_not_public(value: str) -> None:
    assert not is_public_ip(value)
    assert normalize_ip(value) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("[2001:db8::2]:443", "2001:db8::2"),
        (" 203.0.113.7:8080 ", "203.0.113.7"),
    ],
)
def test_normalize(value: str, expected: str) -> None:
    assert normalize_ip(value) == expected


def test_default_header_order() -> None:
    assert DEFAULT_IP_HEADERS[0] == "openpanel-client-ip"
    assert DEFAULT_IP_HEADERS.index("cf-connecting-ip") < DEFAULT_IP_HEADERS.index(
        "x-forwarded-for"
    )
    assert DEFAULT_IP_HEADERS[-1] == "forwarded"
    assert len(DEFAULT_IP_HEADERS) == 13


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, ""),
        ({"host": "localhost"}, ""),
        ({"x-forwarded-for": "203.0.113.7"}, "203.0.113.7"),
        ({"x-forwarded-for": "203.0.113.7, 10.0.0.1, 198.51.100.2"}, "203.0.113.7"),
        # Only the first x-forwarded-for entry counts: a private first hop skips the header.
        ({"x-forwarded-for": "10.0.0.1, 203.0.113.7"}, ""),
        ({"x-forwarded-for": "10.0.0.1, 203.0.113.7", "x-real-ip": "198.51.100.9"}, "198.51.100.9"),
        ({"x-real-ip": "127.0.0.1", "fastly-client-ip": "198.51.100.9"}, "198.51.100.9"),
        (
            {"openpanel-client-ip": "198.51.100.1", "x-forwarded-for": "203.0.113.7"},
            "198.51.100.1",
        ),
        ({"openpanel-client-ip": "::1", "x-client-ip": "2001:db8::5"}, "2001:db8::5"),
        ({"true-client-ip": "8.8.8.8", "cf-connecting-ip": "1.1.1.1"}, "8.8.8.8"),
        ({"cf-connecting-ip": "1.1.1.1", "x-forwarded-for": "8.8.8.8"}, "1.1.1.1"),
        ({"x-forwarded-for": "::ffff:203.0.113.7"}, "203.0.113.7"),
        ({"x-forwarded-for": "[2001:db8::1]:1234"}, "2001:db8::1"),
        ({"forwarded": "for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"),
        ({"forwarded": 'for="[2001:db8:cafe::17]:4711"'}, "2001:db8:cafe::17"),
        ({"forwarded": 'For="192.0.2.43:47011", for=198.51.100.17'}, "192.0.2.43"),
        ({"forwarded": "for=unknown, for=198.51.100.17"}, ""),
        ({"forwarded": "proto=https; for=198.51.100.17"}, "198.51.100.17"),
        ({"x-forwarded": "for=198.51.100.17"}, "198.51.100.17"),
        ({"x-forwarded": "198.51.100.17, 10.0.0.1"}, "198.51.100.17"),
        ({"do-connecting-ip": "garbage", "x-nf-client-connection-ip": "8.8.4.4"}, "8.8.4.4"),
        # Headers outside the order are never read.
        ({"x-my-ip": "8.8.8.8"}, ""),
    ],
)
def test_client_ip(headers: dict[str, str], expected: str) -> None:
    assert client_ip(headers) == expected
    assert client_ip(Headers(headers=headers)) == expected


def test_client_ip_is_case_insensitive_for_plain_dicts() -> None:
    assert client_ip({"X-Forwarded-For": "203.0.113.7"}) == "203.0.113.7"
    assert client_ip({"X-Real-IP": "10.0.0.1", "CF-Connecting-IP": "1.1.1.1"}) == "1.1.1.1"
    raw = [(b"X-Client-IP", b"198.51.100.3")]
    # Starlette expects lower-case raw names; mixed-case ones are still found.
    assert client_ip(Headers(raw=raw)) == "198.51.100.3"
    assert client_ip(Headers(headers={"X-Client-IP": "198.51.100.3"})) == "198.51.100.3"


def test_custom_header_order() -> None:
    headers = {"x-real-ip": "8.8.8.8", "x-forwarded-for": "1.1.1.1"}
    assert client_ip(headers) == "1.1.1.1"
    assert client_ip(headers, ["X-Real-IP ", "x-forwarded-for"]) == "8.8.8.8"
    assert client_ip(headers, []) == ""
    assert client_ip({"my-ip": "9.9.9.9"}, ["my-ip"]) == "9.9.9.9"


def test_dotted_quad_fast_path_agrees_with_the_general_parser() -> None:
    import random

    from openpanel_server._normalize._ip import _is_public, _parse, _v4_fast  # pyright: ignore[reportPrivateUsage]

    def general(text: str) -> str:
        addr = _parse(text)
        return str(addr) if addr is not None and _is_public(addr) else ""

    rng = random.Random(7)
    texts = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(20_000)]
    texts += ["01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "\u0661.2.3.4"]
    texts += ["1.2.3.4 ", " 1.2.3.4", "+1.2.3.4", "1.2.3.-4", "0.0.0.0", "255.255.255.255"]
    decided = 0
    for text in texts:
        fast = _v4_fast(text)
        if fast is not None:
            decided += 1
            assert fast == general(text), text
        assert normalize_ip(text) == general(text), text
    assert decided >= 20_000
