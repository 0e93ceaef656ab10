from __future__ import annotations

import pytest

from openpanel_server._normalize import SERVER_USER_AGENT, UserAgentInfo, parse_user_agent

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)

# (user agent, os, os_version, browser, browser_version, device, brand, model)
CLIENTS = [
    (CHROME_WIN, "Windows", "10", "Chrome", "124.0.0.0", "desktop", "", ""),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15",
        "Mac OS",
        "10.15.7",
        "Safari",
        "17.4",
        "desktop",
        "Apple",
        "Mac",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Ubuntu",
        "",
        "Firefox",
        "125.0",
        "desktop",
        "",
        "",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
        "Windows",
        "10",
        "Edge",
        "124.0.2478.67",
        "desktop",
        "",
        "",
    ),
    (IPHONE, "iOS", "17.4", "Mobile Safari", "17.4", "mobile", "Apple", "iPhone"),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "iOS",
        "17.4",
        "Mobile Safari",
        "17.4",
        "tablet",
        "Apple",
        "iPad",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Android",
        "10",
        "Chrome",
        "124.0.0.0",
        "mobile",
        "",
        "K",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Android",
        "10",
        "Chrome",
        "124.0.0.0",
        "tablet",
        "",
        "K",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        "Android",
        "13",
        "Samsung Internet",
        "23.0",
        "mobile",
        "Samsung",
        "SM-S918B",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Android",
        "14",
        "Chrome",
        "124.0.0.0",
        "mobile",
        "Google",
        "Pixel 8 Pro",
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        "Android",
        "14",
        "Firefox",
        "125.0",
        "mobile",
        "",
        "",
    ),
    (
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Silk/124.3.1 like Chrome/124.0.6367.118 Safari/537.36",
        "Android",
        "9",
        "Silk",
        "124.3.1",
        "tablet",
        "Amazon",
        "Kindle",
    ),
    (
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "76.0.3809.146/6.0 TV Safari/537.36",
        "Tizen",
        "6.0",
        "Safari",
        "",
        "smarttv",
        "Samsung",
        "SMART-TV",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edge/44.18363.8131",
        "Windows",
        "10",
        "Edge",
        "44.18363.8131",
        "console",
        "",
        "",
    ),
    (
        "MyApp/1.0 CFNetwork/1494.0.7 Darwin/23.4.0",
        "iOS",
        "17.4",
        "MyApp",
        "1.0",
        "mobile",
        "Apple",
        "iOS-Device",
    ),
    (
        "Mozilla/5.0 (linux) AppleWebKit/537.36 (KHTML, like Gecko) jsdom/24.0.0",
        "Linux",
        "",
        "",
        "",
        "desktop",
        "",
        "",
    ),
]

SERVERS = [
    None,
    "",
    "unknown/1.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "curl/8.4.0",
    "okhttp/4.9.2",
    "axios/1.6.8",
    "PostmanRuntime/7.37.3",
    "Java/17.0.2",
    "node",
    "undici",
    "Dart/3.3 (dart:io)",
    "Python/3.11 aiohttp/3.9.5",
    "python-httpx/0.27.0",
    "openpanel-python/0.1.0 (+https://example.test)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]


@pytest.mark.parametrize(
    ("ua", "os", "os_version", "browser", "browser_version", "device", "brand", "model"), CLIENTS
)
def test_client_user_agents(
    ua: str,
    os: str,
    os_version: str,
    browser: str,
    browser_version: str,
    device: str,
    brand: str,
    model: str,
) -> None:
    expected = UserAgentInfo(os, os_version, browser, browser_version, device, brand, model, False)
    assert parse_user_agent(ua) == expected


@pytest.mark.parametrize("ua", SERVERS)
def test_server_user_agents(ua: str | None) -> None:
    info = parse_user_agent(ua)
    assert info is SERVER_USER_AGENT
    assert info.is_server
    assert info.device == "server"
    assert (info.os, info.browser, info.brand, info.model) == ("", "", "", "")


OVERRIDES: dict[str, object] = {
    "__os": "Plan 9",
    "__osVersion": "4",
    "__browser": "Acme",
    "__browserVersion": "1.2",
    "__device": "kiosk",
    "__brand": "Bell Labs",
    "__model": "Terminal",
}


def test_overrides_apply_to_clients() -> None:
    info = parse_user_agent(CHROME_WIN, OVERRIDES)
    assert info == UserAgentInfo("Plan 9", "4", "Acme", "1.2", "kiosk", "Bell Labs", "Terminal")


def test_only_non_empty_string_overrides_apply() -> None:
    info = parse_user_agent(
        IPHONE, {"__os": "", "__model": 15, "__brand": None, "__device": "tablet", "os": "x"}
    )
    assert info.os == "iOS"
    assert info.model == "iPhone"
    assert info.brand == "Apple"
    assert info.device == "tablet"


@pytest.mark.parametrize("ua", ["python-requests/2.32.3", "node", None])
def test_overrides_never_apply_to_servers(ua: str | None) -> None:
    assert parse_user_agent(ua, OVERRIDES) is SERVER_USER_AGENT


def test_results_are_cached_and_overrides_do_not_leak() -> None:
    first = parse_user_agent(CHROME_WIN)
    assert parse_user_agent(CHROME_WIN) is first
    parse_user_agent(CHROME_WIN, OVERRIDES)
    assert parse_user_agent(CHROME_WIN) == first
    assert first.os == "Windows"


def test_very_long_user_agent() -> None:
    info = parse_user_agent(CHROME_WIN + " x" * 50_000)
    assert info.browser == "Chrome"
    assert not info.is_server
