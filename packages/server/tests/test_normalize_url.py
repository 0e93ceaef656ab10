from __future__ import annotations

import pytest

from openpanel_server._normalize import ParsedPath, parse_path, parse_query


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ParsedPath("", "")),
        ("HomeScreen", ParsedPath("", "HomeScreen")),
        ("Settings/Profile?x=1", ParsedPath("", "Settings/Profile?x=1")),
        ("pricing", ParsedPath("", "pricing")),
        ("httpfoo", ParsedPath("", "httpfoo")),
        ("http://", ParsedPath("", "http://")),
        ("http://a b.com/", ParsedPath("", "http://a b.com/")),
        ("http://x.com:99999/", ParsedPath("", "http://x.com:99999/")),
        ("ftp://x.com/a", ParsedPath("", "ftp://x.com/a")),
        ("/", ParsedPath("", "/")),
        ("/pricing", ParsedPath("", "/pricing")),
        (
            "/pricing?utm_source=google&plan=pro#faq",
            ParsedPath("", "/pricing", {"utm_source": "google", "plan": "pro"}, "#faq"),
        ),
        ("/a?x=1&x=2", ParsedPath("", "/a", {"x": "2"})),
        (
            "/a?q=a+b&e=%E2%82%AC&bad=%zz&flag",
            ParsedPath("", "/a", {"q": "a b", "e": "€", "bad": "%zz", "flag": ""}),
        ),
        ("/a#", ParsedPath("", "/a")),
        ("/a?", ParsedPath("", "/a")),
        ("/a/./b/../c", ParsedPath("", "/a/c")),
        ("/a/b/..", ParsedPath("", "/a/")),
        ("/über uns", ParsedPath("", "/%C3%BCber%20uns")),
        ("/a%20b", ParsedPath("", "/a%20b")),
        ("//evil.example/x?y=1", ParsedPath("", "/x", {"y": "1"})),
        ("https://shop.test", ParsedPath("https://shop.test", "/")),
        ("https://shop.test/pricing", ParsedPath("https://shop.test", "/pricing")),
        (
            "https://Shop.Test:443/Pricing/?utm_source=Google#Top",
            ParsedPath("https://shop.test", "/Pricing/", {"utm_source": "Google"}, "#Top"),
        ),
        ("http://shop.test:80/a", ParsedPath("http://shop.test", "/a")),
        ("http://localhost:3000/a", ParsedPath("http://localhost:3000", "/a")),
        ("https://shop.test:8443", ParsedPath("https://shop.test:8443", "/")),
        ("https://user:pw@shop.test/a", ParsedPath("https://shop.test", "/a")),
        ("https://[2001:DB8::1]:8443/x", ParsedPath("https://[2001:db8::1]:8443", "/x")),
        ("https://bücher.example/ü", ParsedPath("https://xn--bcher-kva.example", "/%C3%BC")),
        ("https://shop.test/a b#x y", ParsedPath("https://shop.test", "/a%20b", {}, "#x%20y")),
        ("https://shop.test/a\\b", ParsedPath("https://shop.test", "/a/b")),
        ("HTTPS://SHOP.TEST/A", ParsedPath("", "HTTPS://SHOP.TEST/A")),  # startsWith('http') only
    ],
)
def test_parse_path(value: str, expected: ParsedPath) -> None:
    assert parse_path(value) == expected


def test_parsed_path_is_frozen() -> None:
    parsed = parse_path("/a?x=1")
    with pytest.raises(AttributeError):
        parsed.path = "/b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        ("a=1&b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2", {"a": "1;b=2"}),  # only '&' separates, as URLSearchParams
        ("a=1&&b", {"a": "1", "b": ""}),
        ("=x", {"": "x"}),
        ("a=%F0%9F%98%80", {"a": "😀"}),
    ],
)
def test_parse_query(query: str, expected: dict[str, str]) -> None:
    assert parse_query(query) == expected
