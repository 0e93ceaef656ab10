from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django_helpers import (
    BROWSER_UA,
    MIDDLEWARE,
    MIDDLEWARE_WITHOUT,
    AsyncWeb,
    OpenPanelFixture,
    Web,
)
from django_test_urls import make_user

import openpanel_django
from openpanel_django.middleware import OpenPanelMiddleware

IP = "203.0.113.9"


def browser(**extra: Any) -> dict[str, Any]:
    return {"HTTP_USER_AGENT": BROWSER_UA, "REMOTE_ADDR": IP, **extra}


def async_browser() -> dict[str, Any]:
    """The same visitor through ``AsyncClient`` behind a proxy (its peer is 127.0.0.1)."""
    return {"headers": {"user-agent": BROWSER_UA, "x-forwarded-for": IP}}


@pytest.fixture
def user_client() -> Web:
    user = make_user("ada", first_name="Ada", last_name="Lovelace", email="ada@example.com")
    client = Web()
    client.force_login(user)
    return client


@pytest.fixture
def get_user_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts how often the lazy ``request.user`` is evaluated."""
    import django.contrib.auth.middleware as auth_mw

    calls: list[int] = []
    original = auth_mw.get_user

    def counting(request: Any) -> Any:
        calls.append(1)
        return original(request)

    monkeypatch.setattr(auth_mw, "get_user", counting)
    return calls


# ---------------------------------------------------------------- context in views


def test_sync_view_event_carries_the_visitors_ip_and_user_agent(op: OpenPanelFixture) -> None:
    response = Web().get("/", **browser())
    assert response.status_code == 200
    [event] = op.named("home_viewed")
    assert event.ip == IP
    assert event.user_agent == BROWSER_UA
    assert event.properties["section"] == "top"
    assert "profileId" not in event.payload


@pytest.mark.anyio
async def test_async_view_event_carries_the_visitors_context(op: OpenPanelFixture) -> None:
    with op.settings(ip_header="x-forwarded-for"):
        response = await AsyncWeb().get("/async/", **async_browser())
    assert response.status_code == 200
    assert response.content == b"async page"
    [event] = op.named("async_viewed")
    assert (event.ip, event.user_agent) == (IP, BROWSER_UA)
    [request_event] = op.named("server_request")
    assert request_event.properties["route"] == "/async/"
    assert request_event.ip == IP


def test_middleware_is_sync_and_async_capable() -> None:
    import asyncio

    assert OpenPanelMiddleware.sync_capable and OpenPanelMiddleware.async_capable

    async def get_response(request: Any) -> Any:
        return None

    def get_response_sync(request: Any) -> Any:
        return None

    sync = OpenPanelMiddleware(get_response_sync)
    async_ = OpenPanelMiddleware(get_response)
    assert not asyncio.iscoroutinefunction(sync)
    from asgiref.sync import iscoroutinefunction

    assert iscoroutinefunction(async_)
    assert not iscoroutinefunction(sync)


def test_events_outside_requests_carry_no_request_context(op: OpenPanelFixture) -> None:
    Web().get("/", **browser())
    openpanel_django.track("after_request")
    [event] = op.named("after_request")
    assert event.ip is None
    assert event.user_agent != BROWSER_UA


# ---------------------------------------------------------------- request events


def test_request_event_fields(op: OpenPanelFixture) -> None:
    response = Web().get(
        "/items/201/", {"q": "1"}, **browser(HTTP_REFERER="https://search.example/?q=x")
    )
    assert response.status_code == 201
    [event] = op.named("server_request")
    props = event.properties
    assert props["method"] == "GET"
    assert props["path"] == "/items/201/"
    assert props["route"] == "/items/<int:pk>/"
    assert props["status"] == 201
    assert isinstance(props["duration_ms"], (int, float)) and props["duration_ms"] >= 0
    assert props["__path"] == "http://testserver/items/201/?q=1"
    assert props["__referrer"] == "https://search.example/?q=x"
    assert (event.ip, event.user_agent) == (IP, BROWSER_UA)


def test_request_event_for_404_and_500(op: OpenPanelFixture) -> None:
    client = Web(raise_request_exception=False)
    assert client.get("/nowhere/", **browser()).status_code == 404
    assert client.get("/boom/", **browser()).status_code == 500
    missing, failed = op.named("server_request")
    assert missing.properties["status"] == 404
    assert "route" not in missing.properties
    assert failed.properties["status"] == 500
    assert failed.properties["route"] == "/boom/"


def test_request_events_off_by_setting_and_custom_name(op: OpenPanelFixture) -> None:
    with op.settings(track_requests=False):
        Web().get("/", **browser())
    assert op.named("server_request") == []
    assert len(op.named("home_viewed")) == 1  # the context is still set
    with op.settings(request_event_name="http_request"):
        Web().get("/items/1/", **browser())
    assert [e.properties["path"] for e in op.named("http_request")] == ["/items/1/"]


def test_excluded_paths_get_no_event_and_no_context(op: OpenPanelFixture) -> None:
    client = Web()
    for path in ("/static/app.css", "/health", "/_op/op.js"):
        assert client.get(path, **browser()).status_code == 200
    assert op.events == []
    with op.settings(exclude_paths=["re:^/items/\\d+/$"]):
        client.get("/items/5/", **browser())
        client.get("/health", **browser())  # no longer excluded
    assert [e.properties["path"] for e in op.named("server_request")] == ["/health"]


def test_forwarded_ip_is_used_only_when_configured(op: OpenPanelFixture) -> None:
    headers = browser(HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1", REMOTE_ADDR="10.0.0.2")
    Web().get("/", **headers)
    assert op.named("home_viewed")[0].ip == "10.0.0.2"
    with op.settings(ip_header="x-forwarded-for", trusted_hops=2):
        Web().get("/", **headers)
    assert op.named("home_viewed")[1].ip == "198.51.100.7"


def test_installed_twice_records_once(op: OpenPanelFixture) -> None:
    twice = [*MIDDLEWARE, "openpanel_django.middleware.OpenPanelMiddleware"]
    with override_settings(MIDDLEWARE=twice):
        Web().get("/", **browser())
    assert len(op.named("server_request")) == 1
    assert len(op.named("home_viewed")) == 1


def test_disabled_passes_requests_through(op: OpenPanelFixture) -> None:
    with op.settings(disabled=True):
        response = Web().get("/", **browser())
        openpanel_django.track("direct")
    assert response.status_code == 200
    assert op.events == []


def test_missing_setting_leaves_the_app_alone(
    op: OpenPanelFixture, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(OPENPANEL={"api_url": "not a url"}):
        response = Web().get("/", **browser())
        openpanel_django.track("direct")  # a disabled client: accepted, not sent
    assert response.status_code == 200
    assert response.content == b"home page"
    assert op.events == []
    assert "OpenPanel is off" in caplog.text
    assert "api_url" in caplog.text


# ---------------------------------------------------------------- users


def test_logged_in_user_is_the_profile_and_identified_once(
    op: OpenPanelFixture, user_client: Web
) -> None:
    for _ in range(3):
        assert user_client.get("/whoami/", **browser()).content == b"ada"
    events = op.named("whoami")
    assert len(events) == 3
    pk = str(make_user("ada").pk)
    assert {e.payload.get("profileId") for e in events} == {pk}
    assert {e.payload.get("profileId") for e in op.named("server_request")} == {pk}
    [identify] = op.of_type("identify")
    assert identify.payload == {
        "profileId": pk,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
    }


def test_changed_identify_fields_identify_again(
    op: OpenPanelFixture, user_client: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpanel_django._users as users

    user_client.get("/whoami/", **browser())
    make_user("ada", email="ada@changed.example")
    user_client.get("/whoami/", **browser())  # within RECHECK_SECONDS: the hook is not re-run
    assert len(op.of_type("identify")) == 1
    make_user("ada", email="ada@example.com")
    monkeypatch.setattr(users, "RECHECK_SECONDS", 0.0)
    user_client.get("/whoami/", **browser())  # same fields as sent: nothing new
    make_user("ada", email="ada@new.example")
    user_client.get("/whoami/", **browser())
    emails = [e.payload.get("email") for e in op.of_type("identify")]
    assert emails == ["ada@example.com", "ada@new.example"]


def profile_hook(user: Any) -> str:
    return f"user-{user.pk}"


def identify_hook(user: Any) -> dict[str, Any]:
    return {"email": user.email, "plan": "pro", "properties": {"staff": user.is_staff}}


def test_profile_and_identify_hooks_from_dotted_paths(op: OpenPanelFixture) -> None:
    user = make_user("grace", email="grace@example.com")
    client = Web()
    client.force_login(user)
    with op.settings(
        PROFILE_ID="test_django_middleware.profile_hook",
        IDENTIFY=identify_hook,
    ):
        client.get("/whoami/", **browser())
    [event] = op.named("whoami")
    assert event.payload["profileId"] == f"user-{user.pk}"
    [identify] = op.of_type("identify")
    assert identify.payload["profileId"] == f"user-{user.pk}"
    assert identify.payload["email"] == "grace@example.com"
    assert identify.payload["properties"] == {"staff": False, "plan": "pro"}


def test_identify_hook_returning_none_skips_identify_but_keeps_profile(
    op: OpenPanelFixture, user_client: Web
) -> None:
    def no_identify(user: Any) -> None:
        return None

    with op.settings(IDENTIFY=no_identify):
        user_client.get("/whoami/", **browser())
    assert op.of_type("identify") == []
    assert op.named("whoami")[0].payload["profileId"]


def test_failing_user_hook_is_logged_and_the_request_goes_on(
    op: OpenPanelFixture, user_client: Web, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: Any) -> str:
        raise ValueError("hook bug")

    with op.settings(PROFILE_ID=broken):
        response = user_client.get("/whoami/", **browser())
    assert response.content == b"ada"
    assert "profileId" not in op.named("whoami")[0].payload
    assert "PROFILE_ID hook raised ValueError" in caplog.text


def test_identify_users_off_never_reads_the_user(
    op: OpenPanelFixture, user_client: Web, get_user_calls: list[int]
) -> None:
    with op.settings(identify_users=False):
        user_client.get("/", **browser())
    assert get_user_calls == []
    assert "profileId" not in op.named("home_viewed")[0].payload
    assert op.of_type("identify") == []


def test_user_is_not_loaded_without_a_session_cookie(
    op: OpenPanelFixture, get_user_calls: list[int]
) -> None:
    Web().get("/", **browser())
    assert get_user_calls == []
    assert len(op.named("server_request")) == 1


def test_session_access_leaves_vary_as_without_the_sdk(user_client: Web) -> None:
    # "/" never touches the session: no "Vary: Cookie" with or without the middleware; "/whoami/"
    # reads request.user: "Vary: Cookie" in both.
    def vary(path: str, middleware: list[str]) -> str | None:
        with override_settings(MIDDLEWARE=middleware):
            client = Web()  # a handler loads MIDDLEWARE once
            client.cookies = user_client.cookies
            return client.get(path, **browser()).headers.get("Vary")

    assert vary("/", MIDDLEWARE_WITHOUT) == vary("/", MIDDLEWARE)
    assert "Cookie" not in (vary("/", MIDDLEWARE) or "")
    assert vary("/whoami/", MIDDLEWARE_WITHOUT) == vary("/whoami/", MIDDLEWARE)
    assert "Cookie" in (vary("/whoami/", MIDDLEWARE) or "")


@pytest.mark.anyio
async def test_async_stack_identifies_the_logged_in_user(
    op: OpenPanelFixture, user_client: Web
) -> None:
    client = AsyncWeb()
    client.cookies = user_client.cookies
    with op.settings(ip_header="x-forwarded-for"):
        response = await client.get("/async/", **async_browser())
    assert response.status_code == 200
    [event] = op.named("async_viewed")
    assert event.payload["profileId"]
    [identify] = op.of_type("identify")
    assert identify.payload["email"] == "ada@example.com"


# ---------------------------------------------------------------- device cookie


def test_device_cookie_is_created_then_reused(op: OpenPanelFixture) -> None:
    client = Web()
    with op.settings(device_cookie=True):
        first = client.get("/", **browser())
        morsel = first.cookies["op_did"]
        device_id = morsel.value
        assert morsel["httponly"] is True
        assert morsel["path"] == "/"
        assert morsel["samesite"] == "Lax"
        assert morsel["max-age"] == "63072000"
        assert not morsel["secure"]
        assert first.cookies["app_cookie"].value == "1"  # the app's own cookie is kept
        second = client.get("/", **browser())
        assert "op_did" not in second.cookies
        https = Web().get("/", secure=True, **browser())
        assert https.cookies["op_did"]["secure"] is True
    first_event, second_event, _ = op.named("home_viewed")
    assert first_event.properties["__deviceId"] == device_id
    assert second_event.properties["__deviceId"] == device_id


def test_invalid_device_cookie_is_replaced(op: OpenPanelFixture) -> None:
    client = Web()
    client.cookies["op_did"] = "<bad value>"
    with op.settings(device_cookie=True):
        response = client.get("/", **browser())
    new_id = response.cookies["op_did"].value
    assert new_id != "<bad value>" and len(new_id) >= 8
    assert op.named("home_viewed")[0].properties["__deviceId"] == new_id


def test_no_device_cookie_unless_opted_in(op: OpenPanelFixture) -> None:
    response = Web().get("/", **browser())
    assert "op_did" not in response.cookies
    assert "__deviceId" not in op.named("home_viewed")[0].properties
