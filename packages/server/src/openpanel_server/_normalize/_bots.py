"""Bot detection from the ``crawler-user-agents`` pattern list (monperrus, MIT).

Upstream OpenPanel matches Matomo's ``bots.yml``; we use the crawler-user-agents package the
server depends on, minus entries that would drop legitimate traffic:

* generic HTTP client libraries (tag ``http-library``: curl, python-requests, Go-http-client,
  okhttp, axios, node-fetch, ...) because server-side SDK events must still be stored, as with
  Matomo's list; crawler frameworks tagged the same way (Scrapy, HTTrack, ...) stay bots;
* headless and automated browsers (HeadlessChrome, Playwright, Puppeteer, Selenium, PhantomJS),
  which Matomo also treats as browsers and which end-to-end tests use;
* patterns that match ordinary devices or apps (an Android build id, VS Code's and Trae's
  Electron shells, the Fluid site-specific browser).

All patterns are matched case-sensitively, as the list intends, in one pass: through the Rust
``regex`` engine of ``ua-parser-rs`` (the accelerator ``ua-parser[regex]`` installs) when it is
importable, else through Python's ``re``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import cast

__all__ = ["Bot", "bot_patterns", "detect_bot"]

# Crawler frameworks among the "http-library" entries: these still count as bots.
_KEEP_LIBRARIES = frozenset(
    {
        "Scrapy",
        "HTTrack",
        "crawler4j",
        "SimpleCrawler",
        "phpcrawl",
        "colly",
        "larbin",
        "GoParserBot",
        "rawweb-bot",
        "python-opengraph",
    }
)
_EXCLUDED = frozenset(
    {
        "HeadlessChrome",
        "Playwright",
        "Puppeteer",
        "Selenium",
        "PhantomJS",
        r"AP3A\.240617\.008",
        r"Code\/1\.",
        r"Trae\/",
        "Fluid",
    }
)
# The first tag found in this order becomes the bot's type; untagged entries are "crawler".
_TYPE_ORDER = (
    "ai-crawler",
    "search-engine",
    "social-preview",
    "feed-reader",
    "monitoring",
    "scanner",
    "seo",
    "advertising",
    "archiver",
    "academic",
    "browser-automation",
    "http-library",
)
_NAME_TRIM = " \t/;:,()[]+-_"
# A product token such as "YandexBot" when the matched text is a URL ("yandex.com/bots").
_PRODUCT = re.compile(r"[A-Za-z][\w-]*(?:bot|Bot|BOT|spider|Spider|crawler|Crawler)\b")


@dataclass(frozen=True)
class Bot:
    """A detected bot.

    Attributes:
        name: The matched product token, for example ``Googlebot`` or ``GPTBot``.
        type: The category, for example ``search-engine``, ``ai-crawler`` or ``seo``.
    """

    name: str
    type: str


@dataclass(frozen=True)
class _Pattern:
    regex: str
    type: str
    description: str


@functools.cache
def bot_patterns() -> tuple[tuple[str, str], ...]:
    """Return the patterns in use, in match order, as ``(regex, type)`` pairs.

    Returns:
        The filtered crawler-user-agents patterns.
    """
    return tuple((p.regex, p.type) for p in _patterns())


@functools.cache
def _patterns() -> tuple[_Pattern, ...]:
    text = (resources.files("crawleruseragents") / "crawler-user-agents.json").read_text("utf-8")
    entries = cast("list[dict[str, object]]", json.loads(text))
    out: list[_Pattern] = []
    for entry in entries:
        regex = str(entry["pattern"])
        tags = [str(tag) for tag in cast("list[object]", entry.get("tags") or [])]
        if regex in _EXCLUDED or ("http-library" in tags and regex not in _KEEP_LIBRARIES):
            continue
        kind = (
            "crawler"
            if regex in _KEEP_LIBRARIES
            else next((tag for tag in _TYPE_ORDER if tag in tags), "crawler")
        )
        out.append(_Pattern(regex, kind, str(entry.get("description") or "")))
    return tuple(out)


def _rust_matcher(patterns: tuple[_Pattern, ...]) -> Callable[[str], int] | None:
    try:
        import ua_parser_rs
    except ImportError:  # pragma: no cover - the accelerator is a declared dependency
        return None
    try:
        extractor = ua_parser_rs.DeviceExtractor(
            (p.regex, None, str(index), None, None) for index, p in enumerate(patterns)
        )
    except ValueError:  # pragma: no cover - a pattern the Rust engine refuses
        return None

    def match(ua: str) -> int:
        found = extractor.extract(ua)
        return -1 if found is None else int(found.family)

    return match


def _python_matcher(patterns: tuple[_Pattern, ...]) -> Callable[[str], int]:
    combined = re.compile("|".join(f"(?:{p.regex})" for p in patterns))
    singles = [re.compile(p.regex) for p in patterns]

    def match(ua: str) -> int:
        if combined.search(ua) is None:
            return -1
        return next(i for i, regex in enumerate(singles) if regex.search(ua))

    return match


@functools.cache
def _matcher() -> Callable[[str], int]:
    patterns = _patterns()
    return _rust_matcher(patterns) or _python_matcher(patterns)


@functools.lru_cache(maxsize=4096)
def detect_bot(ua: str | None) -> Bot | None:
    """Tell whether a user agent belongs to a known bot.

    Args:
        ua: The ``User-Agent`` header; ``None`` or ``''`` is not a bot.

    Returns:
        The bot, or ``None`` for browsers, apps and HTTP client libraries.
    """
    if not ua:
        return None
    index = _matcher()(ua)
    if index < 0:
        return None
    pattern = _patterns()[index]
    found = re.search(pattern.regex, ua)
    name = found.group(0).strip(_NAME_TRIM) if found is not None else ""
    if "/" in name or "." in name:
        product = _PRODUCT.search(ua)
        if product is not None:
            name = product.group(0)
    return Bot(name[:64] or pattern.description or pattern.regex, pattern.type)
