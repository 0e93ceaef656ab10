"""User-agent parsing (OpenPanel ``parser-user-agent.ts``) on top of ``ua-parser`` (uap-core).

uap-core's names are translated to the ones ua-parser-js 1.x gives, which upstream stores
(``Mac OS``, not ``Mac OS X``; ``Chrome`` for Chrome on Android and iOS; ``Chromium OS``), so
breakdowns match a stock OpenPanel server; ``tests/test_npm_compat.py`` checks a corpus against
the real ua-parser-js. ``device`` is derived with heuristics because uap-core has no device
type. Versions keep uap-core's precision (at most four parts).

A user agent is a **server** when it is missing, when it is a single ``name/version`` token
(``python-requests/2.32.3``, ``Go-http-client/1.1``, ``unknown/1.0``), or when no OS and no
device are recognised and it does not claim to be a browser (``node``, ``Dart/3.3 (dart:io)``,
``Python/3.11 aiohttp/3.9.5``) or is a crawler uap-core knows without an OS (``Mozilla/5.0
(compatible; Googlebot/2.1; ...)``). Server user agents give the fixed server result, before any
override is applied (upstream issue #466).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import ua_parser

from ._bots import Bot, detect_bot

__all__ = ["SERVER_USER_AGENT", "Bot", "UserAgentInfo", "detect_bot", "parse_user_agent"]

_SINGLE_TOKEN = re.compile(r"[^/]+/[\d.]+")
_MAX_PARSED_LENGTH = 1024
_OVERRIDES = (
    ("__os", "os"),
    ("__osVersion", "os_version"),
    ("__browser", "browser"),
    ("__browserVersion", "browser_version"),
    ("__device", "device"),
    ("__brand", "brand"),
    ("__model", "model"),
)
# uap-core brand spellings: placeholders become '', a few are normalised.
_BRANDS = {
    "Generic": "",
    "Generic_Android": "",
    "Generic_Android_Tablet": "",
    "Generic_Inettv": "",
    "Spider": "",
    "XiaoMi": "Xiaomi",
}
# uap-core family -> ua-parser-js 1.x name (what OpenPanel stores).
_OS_NAMES = {
    "Mac OS X": "Mac OS",
    "Chrome OS": "Chromium OS",
    "Web0S": "webOS",
}
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "HeadlessChrome": "Chrome Headless",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "UC Browser": "UCBrowser",
    "Yandex Browser": "Yandex",
    "DuckDuckGo Mobile": "DuckDuckGo",
    "Amazon Silk": "Silk",
}
_PLACEHOLDER_MODELS = frozenset({"Smartphone", "Feature Phone", "Tablet", "Desktop", "Other"})
_TV = re.compile(
    r"smart-?tv|smarttv|hbbtv|\bgoogle ?tv\b|appletv|apple tv|bravia|netcast|web0s|\bwebos\b"
    r"|\btv safari\b|\bcrkey\b|\broku\b|\baft[a-z]{1,3}\b|\bandroid tv\b|; tv\b|\btizen\b.*\btv\b",
    re.IGNORECASE,
)
_CONSOLE = re.compile(r"xbox|playstation|nintendo", re.IGNORECASE)
_WEARABLE = re.compile(r"\bwatch\b|wearable|\bsm-r\d", re.IGNORECASE)
_TABLET = re.compile(
    r"ipad|tablet|kindle|\bkf[a-z]{2,6}\b|silk/|playbook|nexus (?:7|9|10)\b|\bsm-[tpx]\d",
    re.IGNORECASE,
)
_MOBILE = re.compile(
    r"iphone|ipod|mobile|opera mini|windows phone|iemobile|blackberry|bb10|symbian|midp"
    r"|j2me|kaios|\bfeature phone\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class UserAgentInfo:
    """Device, OS and browser fields stored with each event.

    Attributes:
        os: OS family, for example ``iOS`` or ``Windows``.
        os_version: Dotted OS version.
        browser: Browser family, for example ``Chrome`` or ``Mobile Safari``.
        browser_version: Dotted browser version.
        device: ``desktop``, ``mobile``, ``tablet``, ``smarttv``, ``console``, ``wearable`` or
            ``server``.
        brand: Device vendor (``Apple``, ``Samsung``, ...).
        model: Device model (``iPhone``, ``SM-S918B``, ...).
        is_server: Whether the user agent is a server/library one.
    """

    os: str = ""
    os_version: str = ""
    browser: str = ""
    browser_version: str = ""
    device: str = ""
    brand: str = ""
    model: str = ""
    is_server: bool = False


SERVER_USER_AGENT = UserAgentInfo(device="server", is_server=True)
"""The fixed result for server user agents."""


def _version(*parts: str | None) -> str:
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out)


def _device_type(ua: str, os_family: str, brand_raw: str, model: str) -> str:
    if _CONSOLE.search(ua):
        return "console"
    if _TV.search(ua):
        return "smarttv"
    if _WEARABLE.search(ua):
        return "wearable"
    if brand_raw == "Generic_Android_Tablet" or _TABLET.search(ua):
        return "tablet"
    if _MOBILE.search(ua) or model in ("Smartphone", "Feature Phone"):
        return "mobile"
    if os_family == "Android":
        # Android browsers without "Mobile" are tablets (Chrome's own convention).
        return "tablet"
    if os_family in ("iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS"):
        return "mobile"
    return "desktop"


@functools.lru_cache(maxsize=4096)
def _parse(ua: str) -> UserAgentInfo:
    if _SINGLE_TOKEN.fullmatch(ua):
        return SERVER_USER_AGENT
    text = ua[:_MAX_PARSED_LENGTH]
    result = ua_parser.parse(text)
    agent, os, device = result.user_agent, result.os, result.device
    spider = device is not None and device.brand == "Spider"
    if spider:
        device = None
    if os is None and device is None and (spider or not text.startswith(("Mozilla/", "Opera/"))):
        return SERVER_USER_AGENT
    if agent is None and os is None and device is None:
        return SERVER_USER_AGENT
    brand_raw = (device.brand or "") if device is not None else ""
    model = (device.model or "") if device is not None else ""
    os_family = os.family if os is not None else ""
    browser = agent.family if agent is not None else ""
    return UserAgentInfo(
        os=_OS_NAMES.get(os_family, os_family),
        os_version=_version(os.major, os.minor, os.patch, os.patch_minor) if os else "",
        browser=_BROWSER_NAMES.get(browser, browser),
        browser_version=(
            _version(agent.major, agent.minor, agent.patch, agent.patch_minor) if agent else ""
        ),
        device=_device_type(text, os_family, brand_raw, model),
        brand=_BRANDS.get(brand_raw, brand_raw),
        model="" if model in _PLACEHOLDER_MODELS else model,
        is_server=False,
    )


def parse_user_agent(
    ua: str | None,
    overrides: Mapping[str, object] | None = None,
) -> UserAgentInfo:
    """Parse a user agent into the fields stored with events and sessions.

    Results are cached per user-agent string (LRU, 4096 entries).

    Args:
        ua: The ``User-Agent`` header; ``None`` or ``''`` is a server user agent.
        overrides: Event properties; non-empty strings under ``__os``, ``__osVersion``,
            ``__browser``, ``__browserVersion``, ``__device``, ``__brand`` and ``__model``
            replace the parsed values, for client (non-server) user agents only.

    Returns:
        The parsed fields, or `SERVER_USER_AGENT`.
    """
    if not ua:
        return SERVER_USER_AGENT
    info = _parse(ua)
    if info.is_server or not overrides:
        return info
    changes: dict[str, str] = {}
    for key, attribute in _OVERRIDES:
        value = overrides.get(key)
        if isinstance(value, str) and value:
            changes[attribute] = value
    return dataclasses.replace(info, **changes) if changes else info
