from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest

from openpanel_server._normalize import Referrer, classify_referrer
from openpanel_server._normalize._referrer import lookup_referrer, referrer_table

TYPES = {"search", "social", "email", "paid", "ai", "tech", "content", "unknown"}


def test_table_size_and_types() -> None:
    table = referrer_table()
    assert len(table) > 1800
    counts = Counter(kind for _, kind in table.values())
    assert set(counts) <= TYPES
    assert counts["search"] > 1000
    assert counts["social"] > 100
    assert counts["email"] > 40
    assert counts["paid"] > 50
    assert counts["ai"] >= 30
    for host, (name, _) in table.items():
        assert host == host.strip().lower()
        assert "/" not in host
        assert name


def test_data_file_names_its_source() -> None:
    raw = (resources.files("openpanel_server._normalize") / "data" / "referrers.json").read_text(
        "utf-8"
    )
    data = json.loads(raw)
    assert "MIT" in data["source"]
    assert "referer-parser" in data["source"]
    assert data["generator"] == "scripts/gen_referrers.py"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("google.com", ("Google", "search")),
        ("www.google.com", ("Google", "search")),
        ("WWW.GOOGLE.DE", ("Google", "search")),
        ("www.bing.com", ("Bing", "search")),
        ("duckduckgo.com", ("DuckDuckGo", "search")),
        ("t.co", ("Twitter", "social")),
        ("www.facebook.com", ("Facebook", "social")),
        ("www.youtube.com", ("Youtube", "social")),
        ("news.ycombinator.com", ("Hacker News", "social")),
        ("mail.google.com", ("Gmail", "email")),
        ("chatgpt.com", ("ChatGPT", "ai")),
        ("www.perplexity.ai", ("Perplexity", "ai")),
        ("claude.ai", ("Claude", "ai")),
        ("gemini.google.com", ("Gemini", "ai")),
        ("copilot.microsoft.com", ("Microsoft Copilot", "ai")),
        ("en.wikipedia.org", ("Wikipedia", "content")),
        ("example.com", None),
        ("www.", None),
        ("", None),
    ],
)
def test_lookup(host: str, expected: tuple[str, str] | None) -> None:
    assert lookup_referrer(host) == expected


@pytest.mark.parametrize(
    ("referrer", "page", "query", "expected"),
    [
        (None, None, {}, Referrer("", "", "")),
        ("", "https://shop.test/", {}, Referrer("", "", "")),
        (
            "https://www.google.com/",
            "https://shop.test/pricing",
            {},
            Referrer("https://www.google.com", "Google", "search"),
        ),
        (
            "https://www.google.com/search?q=x",
            "/pricing",
            {},
            Referrer("https://www.google.com/search?q=x", "Google", "search"),
        ),
        # Internal navigation is dropped.
        ("https://shop.test/a", "https://shop.test/b", {}, Referrer("", "", "")),
        ("https://Shop.Test:8443/a", "https://shop.test/b", {}, Referrer("", "", "")),
        # Other subdomain of the same site is not internal.
        (
            "https://blog.shop.test/",
            "https://shop.test/",
            {},
            Referrer("https://blog.shop.test", "https://blog.shop.test", ""),
        ),
        # Unknown hosts keep their URL as name and an empty type.
        (
            "https://some.blog.example/post/",
            "https://shop.test/",
            {},
            Referrer("https://some.blog.example/post", "https://some.blog.example/post", ""),
        ),
        ("not a url", "/x", {}, Referrer("not a url", "not a url", "")),
        (
            "android-app://com.reddit.frontpage/",
            None,
            {},
            Referrer("android-app://com.reddit.frontpage", "Reddit", "social"),
        ),
        (
            "https://chatgpt.com/",
            "https://shop.test/",
            {"utm_source": "chatgpt.com"},
            Referrer("https://chatgpt.com", "ChatGPT", "ai"),
        ),
        # utm_source matches a host, host + ".com", or a name (case-insensitive).
        (None, None, {"utm_source": "Facebook"}, Referrer("", "Facebook", "social")),
        (None, None, {"utm_source": "t.co"}, Referrer("", "Twitter", "social")),
        (None, None, {"utm_source": "reddit"}, Referrer("", "Reddit", "social")),
        (None, None, {"utm_source": "Hacker News"}, Referrer("", "Hacker News", "social")),
        (None, None, {"utm_source": "perplexity"}, Referrer("", "Perplexity", "ai")),
        (None, None, {"utm_source": "Newsletter"}, Referrer("", "newsletter", "")),
        (None, None, {"ref": "producthunt"}, Referrer("", "Product Hunt", "social")),
        (None, None, {"utm_referrer": "bing"}, Referrer("", "Bing", "search")),
        # utm_source wins over ref, which wins over utm_referrer; empty values are skipped.
        (None, None, {"utm_source": "google", "ref": "bing"}, Referrer("", "Google", "search")),
        (None, None, {"utm_source": "", "ref": "bing"}, Referrer("", "Bing", "search")),
        (None, None, {"utm_medium": "email"}, Referrer("", "", "")),
        # The query beats the referrer, an unknown source keeps the referrer's type.
        (
            "https://www.google.com/",
            "https://shop.test/",
            {"utm_source": "twitter"},
            Referrer("https://www.google.com", "Twitter", "social"),
        ),
        (
            "https://www.google.com/",
            "https://shop.test/",
            {"utm_source": "spring-sale"},
            Referrer("https://www.google.com", "spring-sale", "search"),
        ),
        # An internal referrer is dropped but the query still names the source.
        (
            "https://shop.test/a",
            "https://shop.test/b",
            {"utm_source": "google"},
            Referrer("", "Google", "search"),
        ),
    ],
)
def test_classify_referrer(
    referrer: str | None, page: str | None, query: dict[str, str], expected: Referrer
) -> None:
    assert classify_referrer(referrer, page, query) == expected
