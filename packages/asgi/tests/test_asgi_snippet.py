from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asgi_helpers import API_URL, CLIENT_ID, Recorder, asgi_client
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from openpanel_asgi import OpenPanelMiddleware, register_jinja2, snippet
from openpanel_web_bridge import BridgeConfig, script_version

pytestmark = pytest.mark.anyio

SECRET = "sec_do_not_leak"


async def page(request: Request) -> Response:
    return HTMLResponse(f"<html><head>{snippet(request)}</head><body>hi</body></html>")


def app_with(middleware: list[Middleware]) -> Starlette:
    return Starlette(routes=[Route("/", page)], middleware=middleware)


async def test_snippet_uses_the_middleware_config_and_never_the_secret() -> None:
    rec = Recorder()
    mw = Middleware(
        OpenPanelMiddleware,
        client=rec.client,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        api_url=API_URL,
        identify=lambda scope: "u-7" if scope["query_string"] == b"me" else None,
    )
    async with asgi_client(app_with([mw])) as http:
        anonymous = (await http.get("/")).text
        logged_in = (await http.get("/?me")).text
    assert f'"clientId":"{CLIENT_ID}"' in anonymous
    assert '"apiUrl":"/_op"' in anonymous
    assert f'src="/_op/op.js?v={script_version()}"' in anonymous
    assert '"identify"' not in anonymous
    assert 'window.op("identify",{"profileId":"u-7"})' in logged_in
    for html in (anonymous, logged_in):
        assert SECRET not in html
    await rec.close()


class QueryAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        user = conn.query_params.get("user")
        return (AuthCredentials(["authenticated"]), SimpleUser(user)) if user else None


async def test_snippet_identifies_starlette_user_set_inside_the_middleware() -> None:
    rec = Recorder()
    stack = [
        Middleware(OpenPanelMiddleware, client=rec.client),
        Middleware(AuthenticationMiddleware, backend=QueryAuth()),
    ]
    async with asgi_client(app_with(stack)) as http:
        html = (await http.get("/?user=linus")).text
    assert '"profileId":"linus"' in html
    await rec.close()


async def test_snippet_without_middleware_needs_a_config() -> None:
    config = BridgeConfig(client_id=CLIENT_ID, proxy=False, api_url="https://api.example.com")
    assert snippet(None) == ""
    html = snippet({"type": "http"}, config, nonce='n"1', profile_id=5)
    assert '"apiUrl":"https://api.example.com"' in html
    assert 'nonce="n&quot;1"' in html
    assert '"profileId":"5"' in html
    assert snippet(None, BridgeConfig(client_id=CLIENT_ID, disabled=True)) == ""


async def test_identify_users_off_keeps_the_user_out_of_the_page() -> None:
    rec = Recorder()
    mw = Middleware(
        OpenPanelMiddleware, client=rec.client, identify=lambda s: "u-1", identify_users=False
    )
    async with asgi_client(app_with([mw])) as http:
        html = (await http.get("/")).text
    assert '"clientId"' in html and "identify" not in html
    await rec.close()


async def test_jinja2_global(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<head>{{ openpanel_snippet(request) }}</head><p>{{ '<b>' }}</p>"
    )
    templates = Jinja2Templates(directory=str(tmp_path))
    register_jinja2(templates)

    async def templated(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    rec = Recorder()
    app = Starlette(
        routes=[Route("/", templated)],
        middleware=[Middleware(OpenPanelMiddleware, client=rec.client, identify=lambda s: "j")],
    )
    async with asgi_client(app) as http:
        html = (await http.get("/")).text
    assert html.startswith("<head><script>window.op=")  # not HTML-escaped by Jinja2
    assert '"profileId":"j"' in html
    assert "<p>&lt;b&gt;</p>" in html  # autoescape still on for everything else
    await rec.close()


async def test_jinja2_global_with_explicit_config_outside_requests(tmp_path: Any) -> None:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    register_jinja2(env, BridgeConfig(client_id=CLIENT_ID), name="op")
    out = env.from_string("{{ op() }}").render()
    assert out.startswith("<script>") and CLIENT_ID in out
