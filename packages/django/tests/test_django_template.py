from __future__ import annotations

import json
import re

from django.test import override_settings
from django.utils.safestring import SafeString
from django_helpers import CLIENT_ID, SECRET, OpenPanelFixture, Web
from django_test_urls import make_user

import openpanel_django
from openpanel_web_bridge import script_version


def init_options(html: str) -> dict[str, object]:
    match = re.search(r'window\.op\("init",(\{.*?\})\);', html)
    assert match is not None, html
    options: dict[str, object] = json.loads(match.group(1))
    return options


def test_tag_renders_the_snippet_for_the_first_party_script_and_proxy() -> None:
    html = Web().get("/page/").content.decode()
    assert html.startswith("<head><script>window.op=window.op||function(){")
    assert init_options(html) == {"clientId": CLIENT_ID, "apiUrl": "/_op", "trackScreenViews": True}
    assert f'<script src="/_op/op.js?v={script_version()}" async defer></script></head>' in html
    assert SECRET not in html
    assert "nonce" not in html
    assert "identify" not in html


def test_nonce_from_the_request_is_escaped_onto_both_tags() -> None:
    html = Web().get("/page/", {"nonce": 'n0nce"><script>'}).content.decode()
    assert html.count('nonce="n0nce&quot;&gt;&lt;script&gt;"') == 2
    assert '"><script>' not in html


def test_nonce_from_the_context_and_per_page_options() -> None:
    html = Web().get("/page-options/").content.decode()
    assert html.count('nonce="ctx-nonce"') == 2
    assert init_options(html)["trackOutgoingLinks"] is True


def test_values_cannot_break_out_of_the_script_element(op: OpenPanelFixture) -> None:
    evil = "</script><script>alert(1)</script>\u2028"
    with op.settings(browser={"note": evil}):
        html = Web().get("/page/").content.decode()
    assert "alert(1)</script>" not in html
    assert "\\u003c/script\\u003e" in html
    assert init_options(html)["note"] == evil


def test_logged_in_user_is_identified_in_the_browser(op: OpenPanelFixture) -> None:
    user = make_user("ada")
    web = Web()
    web.force_login(user)
    html = web.get("/page/").content.decode()
    assert f'window.op("identify",{{"profileId":"{user.pk}"}});' in html
    with op.settings(identify_users=False):
        assert "identify" not in web.get("/page/").content.decode()


def test_no_proxy_points_the_browser_at_the_api(op: OpenPanelFixture) -> None:
    with op.settings(proxy=False, api_url="https://api.example.com"):
        html = Web().get("/page/").content.decode()
    assert init_options(html)["apiUrl"] == "https://api.example.com"
    with op.settings(script=False):
        html = Web().get("/page/").content.decode()
    assert "op.js" not in html


def test_disabled_or_misconfigured_renders_nothing(op: OpenPanelFixture) -> None:
    with op.settings(disabled=True):
        assert Web().get("/page/").content == b"<head></head>"
    with override_settings(OPENPANEL={"client_secret": SECRET}):
        assert Web().get("/page/").content == b"<head></head>"


def test_script_tag_without_a_request() -> None:
    html = openpanel_django.script_tag(nonce="abc")
    assert isinstance(html, SafeString)
    assert html.count('nonce="abc"') == 2
    assert SECRET not in html
