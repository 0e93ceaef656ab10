"""The Jinja global ``openpanel_script()``."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, g, render_template_string
from flask_helpers import CLIENT_ID, build_app, recording_client, session_identify
from markupsafe import Markup

from openpanel_flask import OpenPanel


def _init_options(html: str) -> dict[str, Any]:
    m = re.search(r'window\.op\("init",(\{.*?\})\);', html)
    assert m is not None, html
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def test_snippet_in_a_page_has_the_client_id_the_proxy_and_no_secret() -> None:
    client, _ = recording_client()
    app = build_app({"OPENPANEL_CLIENT_SECRET": "sec_never_in_html"}, client=client)
    html = app.test_client().get("/page").text
    assert "sec_never_in_html" not in html
    assert "secret" not in html.lower()
    options = _init_options(html)
    assert options["clientId"] == CLIENT_ID
    assert options["apiUrl"] == "/_op"
    assert '<script src="/_op/op.js?v=' in html
    assert "&lt;script" not in html  # rendered as markup, not escaped text


def test_the_global_returns_markup() -> None:
    client, _ = recording_client()
    app = build_app(client=client)
    with app.test_request_context("/"):
        script: Any = app.jinja_env.globals["openpanel_script"]
        out = script()
    assert isinstance(out, Markup)
    assert out.startswith("<script>")


def test_nonce_from_g_and_from_the_argument() -> None:
    client, _ = recording_client()
    app = build_app(client=client)

    @app.before_request
    def set_nonce() -> None:
        g.csp_nonce = "r4nd0m"

    html = app.test_client().get("/page").text
    assert html.count('nonce="r4nd0m"') == 2  # the inline script and the script tag
    with app.test_request_context("/"):
        g.csp_nonce = "from-g"
        out = render_template_string('{{ openpanel_script(nonce="explicit") }}')
    assert out.count('nonce="explicit"') == 2 and "from-g" not in out


def test_hostile_values_are_escaped() -> None:
    client, _ = recording_client()
    app = build_app(
        {"OPENPANEL_BROWSER": {"note": "</script><script>alert(1)</script>"}}, client=client
    )
    with app.test_request_context("/"):
        out = render_template_string(
            "{{ openpanel_script(nonce=n) }}", n='"><script>alert(2)</script>'
        )
    assert "<script>alert" not in out
    assert "\\u003c/script\\u003e" in out
    assert 'nonce="&#34;&gt;&lt;script&gt;' in out or 'nonce="&quot;&gt;&lt;script&gt;' in out
    assert out.count("<script") == 2


def test_logged_in_user_is_identified_in_the_browser() -> None:
    client, _ = recording_client()
    app = build_app(client=client, identify=session_identify)
    web = app.test_client()
    assert 'window.op("identify"' not in web.get("/page").text
    web.post("/login")
    html = web.get("/page").text
    assert 'window.op("identify",{"profileId":"user-42"});' in html


def test_explicit_options_and_profile_argument() -> None:
    client, _ = recording_client()
    app = build_app(client=client, identify=session_identify)
    with app.test_request_context("/"):
        out = render_template_string(
            '{{ openpanel_script(options={"trackOutgoingLinks": True}, profile_id=None) }}'
        )
        pinned = render_template_string('{{ openpanel_script(profile_id="u-9") }}')
    assert _init_options(out)["trackOutgoingLinks"] is True
    assert "identify" not in out
    assert '"profileId":"u-9"' in pinned


def test_mounted_below_a_path_uses_the_script_root() -> None:
    client, _ = recording_client()
    app = build_app(client=client)
    html = app.test_client().get("/page", environ_overrides={"SCRIPT_NAME": "/shop"}).text
    assert _init_options(html)["apiUrl"] == "/shop/_op"
    assert '<script src="/shop/_op/op.js?v=' in html


def test_disabled_renders_nothing_and_works_outside_requests() -> None:
    app = build_app({"OPENPANEL_DISABLED": True})
    assert app.test_client().get("/page").text == "<html><head></head><body>None</body></html>"
    client, _ = recording_client()
    live = build_app(client=client)
    with live.app_context():  # e.g. rendering an email in a worker
        out = render_template_string("{{ openpanel_script() }}")
    assert out.startswith("<script>")


def test_two_apps_render_their_own_config() -> None:
    client, _ = recording_client()
    ext = OpenPanel(client=client)
    a, b = Flask("a"), Flask("b")
    a.config.from_mapping(OPENPANEL_CLIENT_ID=CLIENT_ID, OPENPANEL_PREFIX="/a-op")
    b.config.from_mapping(OPENPANEL_CLIENT_ID="0e6e4b4c-1111-4222-8333-944455556666")
    ext.init_app(a)
    ext.init_app(b)
    with a.test_request_context("/"):
        out_a = render_template_string("{{ openpanel_script() }}")
    with b.test_request_context("/"):
        out_b = render_template_string("{{ openpanel_script() }}")
    assert _init_options(out_a)["apiUrl"] == "/a-op"
    assert _init_options(out_b)["clientId"] == "0e6e4b4c-1111-4222-8333-944455556666"
