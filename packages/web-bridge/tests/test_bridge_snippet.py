"""render_snippet / json_for_html: the HTML cannot be broken out of, and holds no secret."""

from __future__ import annotations

import html.parser
import json
import re
from typing import Any

import pytest
from bridge_helpers import CLIENT_ID, SECRET, config

from openpanel_web_bridge import json_for_html, render_snippet, script_version


class Tags(html.parser.HTMLParser):
    """Collect the <script> elements of some HTML: attributes and raw text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.other_tags: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
            self._in_script = True
        else:
            self.other_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def parse(markup: str) -> Tags:
    tags = Tags()
    tags.feed(markup)
    tags.close()
    return tags


def init_options(script_text: str) -> dict[str, Any]:
    match = re.search(r'window\.op\("init",(\{.*?\})\);', script_text)
    assert match, script_text
    options: dict[str, Any] = json.loads(match.group(1))
    return options


def test_snippet_shape_with_proxy() -> None:
    out = render_snippet(config(browser={"trackOutgoingLinks": True}))
    tags = parse(out)
    assert len(tags.scripts) == 2
    assert tags.other_tags == []
    (inline_attrs, inline), (src_attrs, src_text) = tags.scripts
    assert inline_attrs == {}
    assert inline.startswith(
        "window.op=window.op||function(){(window.op.q=window.op.q||[]).push(arguments)};"
    )
    assert init_options(inline) == {
        "clientId": CLIENT_ID,
        "apiUrl": "/_op",
        "trackScreenViews": True,
        "trackOutgoingLinks": True,
    }
    assert src_attrs == {"src": f"/_op/op.js?v={script_version()}", "async": None, "defer": None}
    assert src_text == ""


def test_snippet_without_proxy_points_at_the_api() -> None:
    out = render_snippet(config(proxy=False, api_url="https://ingest.example.com/"))
    assert init_options(parse(out).scripts[0][1])["apiUrl"] == "https://ingest.example.com"


def test_snippet_without_script_has_only_the_inline_part() -> None:
    out = render_snippet(config(script=False))
    assert len(parse(out).scripts) == 1
    assert "op.js" not in out


def test_options_override_config_and_none_is_dropped() -> None:
    out = render_snippet(
        config(browser={"trackAttributes": True, "trackScreenViews": True}),
        options={"trackScreenViews": False, "trackHashChanges": None},
    )
    options = init_options(parse(out).scripts[0][1])
    assert options["trackScreenViews"] is False
    assert options["trackAttributes"] is True
    assert "trackHashChanges" not in options


HOSTILE = "</script><script>alert(1)</script>\u2028\u2029<!-- & >"


def test_hostile_values_cannot_break_out() -> None:
    out = render_snippet(
        config(browser={"label": HOSTILE}), options={HOSTILE: 1}, profile_id=HOSTILE
    )
    tags = parse(out)
    assert len(tags.scripts) == 2, out
    assert tags.other_tags == []
    inline = tags.scripts[0][1]
    for raw in ("</", "<!--", "\u2028", "\u2029", "<script", "&", ">"):
        assert raw not in inline, raw
    # The escapes decode back to the exact values (JSON and JS agree on \uXXXX).
    options = init_options(inline)
    assert options["label"] == HOSTILE
    assert options[HOSTILE] == 1
    identify = re.search(r'window\.op\("identify",(\{.*?\})\);', inline)
    assert identify
    assert json.loads(identify.group(1)) == {"profileId": HOSTILE}


def test_json_for_html() -> None:
    assert json_for_html({"a": "</script>"}) == '{"a":"\\u003c/script\\u003e"}'
    assert json_for_html("\u2028\u2029&") == '"\\u2028\\u2029\\u0026"'
    assert json_for_html({"é": [1, 2.5, None, True]}) == '{"é":[1,2.5,null,true]}'
    with pytest.raises(TypeError):
        json_for_html({"x": object()})
    with pytest.raises(ValueError, match="JSON"):
        json_for_html(float("nan"))


def test_nonce_is_escaped_and_on_both_tags() -> None:
    nonce = 'abc" onload="alert(1)'
    out = render_snippet(config(), nonce=nonce)
    tags = parse(out)
    assert [attrs.get("nonce") for attrs, _ in tags.scripts] == [nonce, nonce]
    assert 'onload="alert' not in out
    assert "onload" not in {k for attrs, _ in tags.scripts for k in attrs}


def test_secret_never_in_the_snippet() -> None:
    c = config(webhook_secrets=("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",))
    out = render_snippet(c, options={"clientSecret": SECRET, "secret": SECRET}, profile_id="u1")
    assert SECRET not in out
    assert "secret" not in out.lower()
    assert "whsec_" not in out


def test_profile_id_adds_identify() -> None:
    out = render_snippet(config(), profile_id="user-42")
    assert 'window.op("identify",{"profileId":"user-42"});' in out
    assert "identify" not in render_snippet(config(), profile_id="")


def test_disabled_or_unconfigured_renders_nothing() -> None:
    assert render_snippet(config(disabled=True)) == ""
    assert render_snippet(config(client_id="")) == ""


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("swallow_internal_errors")
def test_unrenderable_options_give_empty_string_in_production() -> None:
    assert render_snippet(config(), options={"bad": object()}) == ""


def test_unrenderable_options_raise_under_tests() -> None:
    from openpanel_core import _guard

    with pytest.raises(TypeError):
        render_snippet(config(), options={"bad": object()})
    _guard.recorded.clear()
