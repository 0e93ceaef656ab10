"""The request hooks: context carried into tracks, request events, exclusion, identify, cookie."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, g
from flask_helpers import BROWSER_UA, build_app, recording_client, session_identify, tracks

from openpanel_core import current_context
from openpanel_flask import current_client

PEER = "203.0.113.9"


def _env(**extra: str) -> dict[str, Any]:
    return {"REMOTE_ADDR": PEER, "HTTP_USER_AGENT": BROWSER_UA, **extra}


def test_track_in_a_view_carries_the_visitors_ip_and_user_agent() -> None:
    client, transport = recording_client()
    app = build_app(client=client)
    r = app.test_client().post("/buy", environ_base=_env())
    assert r.status_code == 201
    [event] = tracks(transport, "purchase")
    assert event.ip == PEER
    assert event.user_agent == BROWSER_UA
    assert event.properties["sku"] == "A1"
    assert "profileId" not in event.payload
    assert current_context() is None  # closed after the request


def test_ip_from_a_trusted_forwarding_header() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_IP_HEADER": "x-forwarded-for"}, client=client)
    app.test_client().post("/buy", environ_base=_env(HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1"))
    [event] = tracks(transport, "purchase")
    assert event.ip == "10.0.0.1"  # one trusted hop: the entry our proxy appended
    app2 = build_app(
        {"OPENPANEL_IP_HEADER": "x-forwarded-for", "OPENPANEL_TRUSTED_HOPS": 2}, client=client
    )
    transport.clear()
    app2.test_client().post(
        "/buy", environ_base=_env(HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1")
    )
    assert tracks(transport, "purchase")[0].ip == "198.51.100.7"


def test_logged_in_user_is_the_profile_and_is_identified_once() -> None:
    client, transport = recording_client()
    app = build_app(client=client, identify=session_identify)
    web = app.test_client()
    web.post("/buy", environ_base=_env())
    web.post("/login", environ_base=_env())
    web.post("/buy", environ_base=_env())
    web.post("/buy", environ_base=_env())
    anonymous, *logged_in = tracks(transport, "purchase")
    assert "profileId" not in anonymous.payload
    assert [e.payload["profileId"] for e in logged_in] == ["user-42", "user-42"]
    identifies = [e for e in transport.events if e.type == "identify"]
    assert len(identifies) == 1
    assert identifies[0].payload == {
        "profileId": "user-42",
        "firstName": "Ada",
        "email": "ada@example.com",
    }
    assert identifies[0].ip == PEER  # the identify carries the visitor's context too
    assert identifies[0].user_agent == BROWSER_UA


def test_identify_users_off_keeps_the_profile_but_sends_no_identify() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_IDENTIFY_USERS": False}, client=client, identify=lambda: 7)
    app.test_client().post("/buy", environ_base=_env())
    assert [e.type for e in transport.events] == ["track"]
    assert tracks(transport)[0].payload["profileId"] == 7


def test_a_failing_identify_callable_means_anonymous() -> None:
    def identify() -> str:
        raise KeyError("no user table")

    client, transport = recording_client()
    app = build_app(client=client, identify=identify)
    r = app.test_client().post("/buy", environ_base=_env())
    assert r.status_code == 201
    [event] = tracks(transport)
    assert "profileId" not in event.payload
    assert event.ip == PEER


def test_track_requests_sends_one_event_per_request_with_its_fields() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_TRACK_REQUESTS": True}, client=client)
    r = app.test_client().get(
        "/items/12?ref=mail", environ_base=_env(HTTP_REFERER="https://news.example/a")
    )
    assert r.status_code == 200
    [event] = tracks(transport)
    assert event.name == "server_request"
    props = event.properties
    assert props["method"] == "GET"
    assert props["path"] == "/items/12"
    assert props["route"] == "/items/<int:item_id>"
    assert props["status"] == 200
    assert 0 <= props["duration_ms"] < 5000
    assert props["__path"] == "http://localhost/items/12?ref=mail"
    assert props["__referrer"] == "https://news.example/a"
    assert event.ip == PEER
    assert event.user_agent == BROWSER_UA


def test_request_event_name_and_status_of_a_404() -> None:
    client, transport = recording_client()
    app = build_app(
        {"OPENPANEL_TRACK_REQUESTS": True, "OPENPANEL_REQUEST_EVENT_NAME": "hit"}, client=client
    )
    web = app.test_client()
    assert web.get("/missing").status_code == 404
    assert web.get("/no/such/route").status_code == 404
    first, second = tracks(transport, "hit")
    assert (first.properties["status"], first.properties["route"]) == (404, "/missing")
    assert second.properties["status"] == 404
    assert "route" not in second.properties  # no rule matched


def test_excluded_paths_get_no_event_and_no_context() -> None:
    client, transport = recording_client()
    app = build_app(
        {"OPENPANEL_TRACK_REQUESTS": True, "OPENPANEL_EXCLUDE_PATHS": ["/health", "/b*"]},
        client=client,
    )
    web = app.test_client()
    web.get("/health", environ_base=_env())
    web.post("/buy", environ_base=_env())  # excluded by "/b*": its own track has no context
    web.get("/_op/op.js", environ_base=_env())  # the bridge prefix is always excluded
    web.get("/", environ_base=_env())
    assert [e.name for e in tracks(transport)] == ["purchase", "server_request"]
    purchase, request_event = tracks(transport)
    assert purchase.ip is None
    assert purchase.user_agent != BROWSER_UA  # the SDK's own user agent
    assert request_event.properties["path"] == "/"


def test_static_files_are_excluded(tmp_path: Any) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("body{}")
    client, transport = recording_client()
    app = Flask("static_app", root_path=str(tmp_path))
    app.config.from_mapping(
        OPENPANEL_CLIENT_ID="3f1c2b7e-8d4a-4c55-9e0f-1a2b3c4d5e6f",
        OPENPANEL_TRACK_REQUESTS=True,
    )
    from openpanel_flask import OpenPanel

    OpenPanel(app, client=client)
    r = app.test_client().get("/static/app.css")
    assert r.status_code == 200
    r.close()
    assert tracks(transport) == []


def test_context_opens_before_the_apps_own_hooks() -> None:
    client, transport = recording_client()
    app = build_app(extension=False)

    @app.before_request
    def audit() -> None:
        current_client().track("audit")

    from openpanel_flask import OpenPanel

    OpenPanel(app, client=client)  # installed after the app's hook, yet runs first
    app.test_client().get("/", environ_base=_env())
    [event] = tracks(transport, "audit")
    assert event.ip == PEER


def test_a_view_that_raises_is_handled_by_the_app_and_the_context_closes() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_TRACK_REQUESTS": True}, client=client)
    r = app.test_client().get("/boom", environ_base=_env())
    assert (r.status_code, r.text) == (500, "handled: view failed")
    assert current_context() is None
    [event] = tracks(transport)
    assert event.properties["status"] == 500
    assert event.properties["route"] == "/boom"
    assert event.ip == PEER


def test_an_unhandled_exception_propagates_unchanged_and_the_context_closes() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_TRACK_REQUESTS": True}, client=client)
    app.error_handler_spec.clear()  # no handler: TESTING propagates the exception

    with pytest.raises(RuntimeError, match="view failed"):
        app.test_client().get("/boom", environ_base=_env())
    assert current_context() is None
    [event] = tracks(transport)
    assert event.properties["status"] == 500


def test_an_unhandled_exception_in_production_mode_gives_flasks_500() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_TRACK_REQUESTS": True}, client=client)
    app.config["TESTING"] = False
    app.error_handler_spec.clear()
    r = app.test_client().get("/boom", environ_base=_env())
    assert r.status_code == 500
    assert b"Internal Server Error" in r.data
    assert current_context() is None
    assert tracks(transport)[0].properties["status"] == 500


def test_async_views_see_the_context() -> None:
    client, transport = recording_client()
    app = build_app(client=client)

    @app.get("/async")
    async def async_view() -> str:
        current_client().track("from_async")
        return "ok"

    assert app.test_client().get("/async", environ_base=_env()).text == "ok"
    [event] = tracks(transport, "from_async")
    assert event.ip == PEER


def test_per_request_state_lives_on_g_and_is_removed_at_teardown() -> None:
    client, _ = recording_client()
    app = build_app(client=client)
    seen: list[Any] = []

    @app.get("/peek")
    def peek() -> str:
        seen.append(g.get("_openpanel"))
        seen.append(current_context())
        return "ok"

    app.test_client().get("/peek", environ_base=_env())
    state, ctx = seen
    assert state is not None
    assert ctx is not None and ctx.ip == PEER


# ------------------------------------------------------------------ device cookie


def _cookie_value(set_cookie: str) -> str:
    m = re.match(r"op_did=([^;]+);", set_cookie)
    assert m is not None, set_cookie
    return m.group(1)


def test_device_cookie_is_opt_in() -> None:
    client, _ = recording_client()
    r = build_app(client=client).test_client().get("/", environ_base=_env())
    assert "Set-Cookie" not in r.headers


def test_device_cookie_set_once_and_carried_by_backend_events() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_DEVICE_COOKIE": True}, client=client)
    web = app.test_client()
    first = web.post("/buy", environ_base=_env())
    [set_cookie] = first.headers.getlist("Set-Cookie")
    device_id = _cookie_value(set_cookie)
    assert "Max-Age=63072000" in set_cookie and "SameSite=Lax" in set_cookie
    second = web.post("/buy", environ_base=_env())
    assert second.headers.getlist("Set-Cookie") == []  # the browser sent it back
    a, b = tracks(transport, "purchase")
    assert a.properties["__deviceId"] == b.properties["__deviceId"] == device_id


def test_device_cookie_never_on_publicly_cached_responses() -> None:
    client, _ = recording_client()
    app = build_app({"OPENPANEL_DEVICE_COOKIE": True}, client=client)

    @app.get("/cached")
    def cached() -> Any:
        return "cached", 200, {"Cache-Control": "public, max-age=600"}

    r = app.test_client().get("/cached", environ_base=_env())
    assert r.headers.getlist("Set-Cookie") == []
