"""Request context: client_ip, request_info, request_event, PathMatcher, IdentifyOnce."""

from __future__ import annotations

import threading

import pytest
from bridge_helpers import BROWSER_UA, config, header_getter

from openpanel_core import ConfigurationError
from openpanel_web_bridge import (
    IdentifyOnce,
    PathMatcher,
    RequestInfo,
    client_ip,
    excluded_paths,
    request_event,
    request_info,
)

# --------------------------------------------------------------------------- client_ip


def ip_of(
    headers: dict[str, str], peer: str | None = "10.0.0.2", **overrides: object
) -> str | None:
    return client_ip(header_getter(headers), peer, config(**overrides))


def test_peer_only_by_default() -> None:
    assert ip_of({"x-forwarded-for": "203.0.113.9"}) == "10.0.0.2"
    assert ip_of({}, peer=None) is None
    assert ip_of({}, peer="garbage") is None
    assert ip_of({}, peer="[2001:db8::1]:5000") == "2001:db8::1"


@pytest.mark.parametrize(
    ("value", "hops", "expected"),
    [
        ("203.0.113.9", 1, "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9", 1, "203.0.113.9"),  # the client forged the first entry
        ("198.51.100.1, 203.0.113.9, 10.0.0.5", 2, "203.0.113.9"),
        (" 203.0.113.9 ,10.0.0.5 ", 2, "203.0.113.9"),
        ("203.0.113.9", 2, "10.0.0.2"),  # fewer entries than proxies: not trusted
        ("203.0.113.9:4711", 1, "203.0.113.9"),
        ("[2001:db8::7]:443", 1, "2001:db8::7"),
        ("2001:DB8:0:0::7", 1, "2001:db8::7"),
        ("::ffff:203.0.113.9", 1, "203.0.113.9"),
        ("unknown", 1, "10.0.0.2"),
        ("not-an-ip, also<bad>", 1, "10.0.0.2"),
        ("fe80::1%eth0", 1, "10.0.0.2"),
        ("", 1, "10.0.0.2"),
    ],
)
def test_x_forwarded_for_hops(value: str, hops: int, expected: str) -> None:
    assert ip_of({"x-forwarded-for": value}, ip_header="x-forwarded-for", trusted_hops=hops) == (
        expected
    )


@pytest.mark.parametrize(
    ("value", "hops", "expected"),
    [
        ("for=203.0.113.9", 1, "203.0.113.9"),
        ("for=198.51.100.1, for=203.0.113.9;proto=https;by=10.0.0.1", 1, "203.0.113.9"),
        ('For="[2001:db8:cafe::17]:4711"', 1, "2001:db8:cafe::17"),
        ("for=203.0.113.9:80, for=10.0.0.5", 2, "203.0.113.9"),
        ("for=_hidden", 1, "10.0.0.2"),
        ("for=unknown", 1, "10.0.0.2"),
        ("proto=https", 1, "10.0.0.2"),
        ("for=203.0.113.9", 2, "10.0.0.2"),
    ],
)
def test_forwarded(value: str, hops: int, expected: str) -> None:
    assert ip_of({"forwarded": value}, ip_header="Forwarded", trusted_hops=hops) == expected


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("x-real-ip", "203.0.113.9", "203.0.113.9"),
        ("x-real-ip", " 2001:db8::1 ", "2001:db8::1"),
        ("x-real-ip", "[2001:db8::1]:8080", "2001:db8::1"),
        ("x-real-ip", "garbage", "10.0.0.2"),
        ("x-real-ip", "203.0.113.9, 198.51.100.1", "10.0.0.2"),
        ("cf-connecting-ip", '"203.0.113.9"', "203.0.113.9"),
    ],
)
def test_single_value_headers(header: str, value: str, expected: str) -> None:
    assert ip_of({header: value}, ip_header=header) == expected


def test_missing_trusted_header_falls_back_to_peer() -> None:
    assert ip_of({}, ip_header="x-real-ip") == "10.0.0.2"


# --------------------------------------------------------------------------- request_info


def test_request_info() -> None:
    headers = {
        "User-Agent": BROWSER_UA,
        "Referer": "https://www.google.com/",
        "X-Real-IP": "203.0.113.9",
    }
    info = request_info(
        header_getter(headers),
        "10.0.0.2",
        method="post",
        scheme="https",
        host="shop.example:8443",
        path="/cart",
        query="a=1&b=2",
        config=config(ip_header="x-real-ip"),
    )
    assert info == RequestInfo(
        ip="203.0.113.9",
        user_agent=BROWSER_UA,
        referrer="https://www.google.com/",
        url="https://shop.example:8443/cart?a=1&b=2",
        path="/cart",
        method="POST",
    )


def test_request_info_without_host_or_headers() -> None:
    info = request_info(
        header_getter({"user-agent": ""}), None, method="GET", scheme="http", host=None,
        path="/", query="", config=config(),
    )  # fmt: skip
    assert info == RequestInfo(None, None, None, None, "/", "GET")


def test_request_event() -> None:
    info = RequestInfo("203.0.113.9", BROWSER_UA, None, "https://shop.example/a?b=1", "/a", "GET")
    name, props = request_event(
        info, status=200, duration_ms=12.3456, route="/a", config=config(request_event_name="hit")
    )
    assert name == "hit"
    assert props == {
        "method": "GET",
        "path": "/a",
        "route": "/a",
        "status": 200,
        "duration_ms": 12.35,
        "__path": "https://shop.example/a?b=1",
    }
    _, props = request_event(
        RequestInfo(None, None, "https://ref.example/", None, "/x", "POST"),
        status=500,
        duration_ms=1,
        route=None,
        config=config(),
    )
    assert props == {
        "method": "POST",
        "path": "/x",
        "status": 500,
        "duration_ms": 1,
        "__referrer": "https://ref.example/",
    }


# --------------------------------------------------------------------------- PathMatcher


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/health", True),
        ("/health/", False),
        ("/healthz", False),
        ("/static/app.css", True),
        ("/static/img/a/b.png", True),
        ("/static", False),
        ("/staticfiles/x", False),
        ("/api/v1/health", True),
        ("/api/v12/health", True),
        ("/api/vx/health", False),
        ("/api/v1/health/extra", False),
        ("/ADMIN/users", True),
        ("/files/report.pdf", True),
        ("/files/report.pdf.txt", False),
        ("/a.b", True),
        ("/aXb", False),
        ("/", False),
    ],
)
def test_path_matcher(path: str, expected: bool) -> None:
    matcher = PathMatcher(
        ["/health", "/static/*", r"re:^/api/v\d+/health$", "re:(?i)^/admin/", "/files/*.pdf",
         "/a.b", ""]
    )  # fmt: skip
    assert matcher(path) is expected


def test_path_matcher_empty_matches_nothing() -> None:
    assert not PathMatcher([])("/")
    assert not PathMatcher([""])("")
    assert "PathMatcher" in repr(PathMatcher(["/x"]))


def test_path_matcher_is_one_regex() -> None:
    matcher = PathMatcher(["/a", "/b/*", "re:^/c$"])
    assert matcher._regex is not None  # pyright: ignore[reportPrivateUsage]
    assert matcher._regex.pattern.count("|") >= 2  # pyright: ignore[reportPrivateUsage]


def test_path_matcher_errors() -> None:
    with pytest.raises(ConfigurationError, match="re:\\("):
        PathMatcher(["re:("])
    with pytest.raises(ConfigurationError, match="cannot be combined"):
        PathMatcher(["re:(?P<x>a)", "re:(?P<x>b)"])
    with pytest.raises(ConfigurationError, match="not a string"):
        PathMatcher([1])  # type: ignore[list-item]


def test_excluded_paths_always_has_the_prefix() -> None:
    matcher = excluded_paths(config(prefix="/_analytics", exclude_paths=("/health",)))
    assert matcher("/_analytics")
    assert matcher("/_analytics/op.js")
    assert matcher("/_analytics/track")
    assert matcher("/health")
    assert not matcher("/_analyticsx")
    assert not matcher("/shop")


# --------------------------------------------------------------------------- IdentifyOnce


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_identify_once_ttl() -> None:
    clock = Clock()
    once = IdentifyOnce(ttl=60, clock=clock)
    assert once.should_identify("u1")
    assert not once.should_identify("u1")
    assert once.should_identify("u2")
    clock.now += 59.9
    assert not once.should_identify("u1")
    clock.now += 0.2
    assert once.should_identify("u1")
    assert not once.should_identify("u1")


def test_identify_once_properties_fingerprint() -> None:
    once = IdentifyOnce(clock=Clock())
    assert once.should_identify("u1", {"plan": "free", "n": 1})
    assert not once.should_identify("u1", {"n": 1, "plan": "free"})  # order does not matter
    assert once.should_identify("u1", {"plan": "pro", "n": 1})
    assert once.should_identify("u1")  # no properties is another fingerprint
    assert not once.should_identify("u1", {})


def test_identify_once_lru() -> None:
    clock = Clock()
    once = IdentifyOnce(maxsize=3, clock=clock)
    for user in ("a", "b", "c"):
        assert once.should_identify(user)
    assert not once.should_identify("a")  # "a" is now the most recently seen
    assert once.should_identify("d")  # evicts "b", the least recently seen
    assert len(once) == 3
    assert not once.should_identify("a")
    assert not once.should_identify("c")
    assert once.should_identify("b")


def test_identify_once_threads() -> None:
    once = IdentifyOnce()
    answers: list[bool] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(200):
            result = once.should_identify("same-user", {"plan": "pro"})
            with lock:
                answers.append(result)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(True) == 1
    assert len(answers) == 800


def test_identify_once_defaults() -> None:
    once = IdentifyOnce()
    assert (once.ttl, once.maxsize) == (1800.0, 10_000)
