"""The host app is unaffected: with the SDK failing internally or the ingestion server down,
every response (status, headers, body, cookies) is what the app alone would send."""

from __future__ import annotations

import time
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
    response_snapshot,
)
from django_test_urls import make_user
from server_helpers import free_port

import openpanel_django._middleware as middleware_module
from openpanel_core import _guard
from openpanel_django._runtime import Runtime

Snapshot = tuple[int, list[tuple[str, str]], bytes, list[str]]

REQUESTS: list[tuple[str, str, bool]] = [
    ("GET", "/", False),
    ("POST", "/", False),
    ("GET", "/items/201/?q=1", False),
    ("GET", "/whoami/", False),
    ("GET", "/whoami/", True),
    ("GET", "/nowhere/", False),
    ("GET", "/boom/", False),
    ("GET", "/static/app.css", False),
]
HEADERS: dict[str, Any] = {"HTTP_USER_AGENT": BROWSER_UA, "REMOTE_ADDR": "203.0.113.5"}


class BrokenClient:
    """A client whose every method raises (an SDK bug everywhere)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"SDK bug in {name}")

        return fail


class BrokenTracking:
    """A real client whose context works but whose calls raise (a bug after the view ran)."""

    def __init__(self, real: Any) -> None:
        self.context = real.context

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"SDK bug in {name}")

        return fail


def broken_bridge(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("SDK bug in the bridge")


FAILURES = {
    # where the SDK fails -> what to break
    "client": [("client", None)],
    "tracking": [("tracking", None)],
    "bridge_begin": [("bridge", "client_ip"), ("bridge", "request_info")],
    "bridge_finish": [("bridge", "request_event")],
    "identify_once": [("bridge", "identify_if_due")],
}


def broken_client(self: Runtime) -> Any:
    return BrokenClient()


def break_sdk(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    original_client = Runtime.client

    def broken_tracking(self: Runtime) -> Any:
        return BrokenTracking(original_client(self))

    for kind, name in FAILURES[how]:
        if kind == "client":
            monkeypatch.setattr(Runtime, "client", broken_client)
        elif kind == "tracking":
            monkeypatch.setattr(Runtime, "client", broken_tracking)
        else:
            assert name is not None and hasattr(middleware_module, name)
            monkeypatch.setattr(middleware_module, name, broken_bridge)


def run_all(middleware: list[str]) -> list[Snapshot]:
    """Every request of REQUESTS through a fresh handler with ``middleware``."""
    user = make_user("unaffected")
    out: list[Snapshot] = []
    with override_settings(MIDDLEWARE=middleware):
        for method, path, logged_in in REQUESTS:
            web = Web(raise_request_exception=False)
            if logged_in:
                web.force_login(user)
            if method == "GET":
                response = web.get(path, **HEADERS)
            else:
                response = web.post(path, "{}", **HEADERS)
            out.append(response_snapshot(response))
    return out


async def run_async(middleware: list[str]) -> list[Snapshot]:
    out: list[Snapshot] = []
    with override_settings(MIDDLEWARE=middleware):
        for path in ("/", "/async/", "/items/3/", "/nowhere/"):
            response = await AsyncWeb().get(path, headers={"user-agent": BROWSER_UA})
            out.append(response_snapshot(response))
    return out


@pytest.fixture
def baseline(op: OpenPanelFixture) -> list[Snapshot]:
    """The app without the middleware, the SDK working."""
    return run_all(MIDDLEWARE_WITHOUT)


def test_the_middleware_itself_changes_no_response(
    baseline: list[Snapshot], op: OpenPanelFixture
) -> None:
    assert run_all(MIDDLEWARE) == baseline
    assert len(op.named("server_request")) == len(REQUESTS) - 1  # /static/* is excluded


@pytest.mark.tests_internal_errors
@pytest.mark.parametrize("how", sorted(FAILURES))
def test_sdk_failing_internally(
    how: str,
    baseline: list[Snapshot],
    op: OpenPanelFixture,
    monkeypatch: pytest.MonkeyPatch,
    swallow_internal_errors: None,
) -> None:
    break_sdk(monkeypatch, how)
    assert run_all(MIDDLEWARE) == baseline
    assert run_all(MIDDLEWARE_WITHOUT) == baseline
    assert any("SDK bug" in str(e) for e in _guard.recorded)


@pytest.mark.tests_internal_errors
@pytest.mark.anyio
async def test_async_stack_with_the_sdk_failing(
    op: OpenPanelFixture, monkeypatch: pytest.MonkeyPatch, swallow_internal_errors: None
) -> None:
    expected = await run_async(MIDDLEWARE_WITHOUT)
    monkeypatch.setattr(Runtime, "client", broken_client)
    assert await run_async(MIDDLEWARE) == expected
    assert await run_async(MIDDLEWARE_WITHOUT) == expected


def test_ingestion_server_down(baseline: list[Snapshot], op: OpenPanelFixture) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    options = {"max_retries": 0, "timeout": 1.0, "flush_interval": 0.05}
    with op.settings(api_url=down, CLIENT_OPTIONS=options):
        started = time.monotonic()
        with_middleware = run_all(MIDDLEWARE)
        without = run_all(MIDDLEWARE_WITHOUT)
        elapsed = time.monotonic() - started
        client = openpanel_django_client()
        assert client.flush(5.0)  # delivery was attempted and given up, off the request path
        assert client.stats.failed > 0
    assert with_middleware == baseline
    assert without == baseline
    assert elapsed < 5.0


def openpanel_django_client() -> Any:
    import openpanel_django

    return openpanel_django.get_client()


@pytest.mark.tests_internal_errors
def test_failing_snippet_renders_nothing_and_the_page_works(
    monkeypatch: pytest.MonkeyPatch, swallow_internal_errors: None
) -> None:
    import openpanel_django._snippet as snippet

    monkeypatch.setattr(snippet, "render_snippet", broken_bridge)
    response = Web().get("/page/")
    assert response.status_code == 200
    assert response.content == b"<head></head>"
