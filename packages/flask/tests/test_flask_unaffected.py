"""The host app is unaffected: same responses with the SDK failing or the server down."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from flask import Flask
from flask_helpers import BROWSER_UA, CLIENT_ID, build_app, session_identify
from werkzeug.test import TestResponse

from openpanel_core import OpenPanel as OpenPanelClient
from openpanel_core import _guard
from openpanel_core.testing import RecordingTransport
from openpanel_flask import OpenPanel
from openpanel_web_bridge import PathMatcher

ENV = {"REMOTE_ADDR": "203.0.113.5", "HTTP_USER_AGENT": BROWSER_UA}
REQUESTS: list[tuple[str, str]] = [
    ("GET", "/"),
    ("GET", "/items/3"),
    ("POST", "/buy"),
    ("GET", "/boom"),
    ("GET", "/missing"),
    ("GET", "/nowhere"),
    ("GET", "/health"),
]


class FailingClient(OpenPanelClient):
    """A core client whose methods used by the hooks raise."""

    def __init__(self, fail: str) -> None:
        super().__init__(
            CLIENT_ID,
            api_url="http://openpanel.test",
            transport=RecordingTransport(),
            sync_mode=True,
        )
        self.fail = fail

    def context(self, **kwargs: Any) -> Any:
        if self.fail == "context":
            raise RuntimeError("context failed")
        return super().context(**kwargs)

    def identify(self, profile_id: str | int, **kwargs: Any) -> None:
        if self.fail == "identify":
            raise RuntimeError("identify failed")
        super().identify(profile_id, **kwargs)

    def track(self, name: str, properties: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if self.fail == "track" and name == "server_request":
            raise RuntimeError("track failed")
        super().track(name, properties, **kwargs)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("bridge failed")


def _snapshot(response: TestResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, list(response.headers.items()), response.get_data()


def _run(app: Flask, requests: Sequence[tuple[str, str]], *, login: bool = True) -> list[Any]:
    web = app.test_client()
    if login:  # a logged-in visitor: the identify path runs too
        assert web.post("/login", environ_base=ENV).status_code == 200
    out: list[Any] = []
    for method, path in requests:
        try:
            out.append(_snapshot(web.open(path, method=method, environ_base=ENV)))
        except Exception as exc:  # TESTING propagates unhandled errors: compare those too
            out.append((type(exc), str(exc)))
    return out


CONFIG = {
    "OPENPANEL_TRACK_REQUESTS": True,
    "OPENPANEL_EXCLUDE_PATHS": ["/health"],
}


@pytest.mark.tests_internal_errors
@pytest.mark.usefixtures("swallow_internal_errors")
@pytest.mark.parametrize(
    "failure",
    [
        "context",
        "identify",
        "track",
        "client_ip",
        "request_event",
        "matcher",
        "snippet",
        "device_cookie",
    ],
)
@pytest.mark.parametrize("testing", [True, False])
def test_responses_are_identical_when_the_sdk_fails_internally(
    failure: str, testing: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: dict[str, Any] = {**CONFIG, "TESTING": testing}
    requests = list(REQUESTS)
    patches: dict[str, Callable[..., Any]] = {
        "client_ip": lambda: monkeypatch.setattr("openpanel_flask._hooks.client_ip", _boom),
        "request_event": lambda: monkeypatch.setattr("openpanel_flask._hooks.request_event", _boom),
        "matcher": lambda: monkeypatch.setattr(PathMatcher, "__call__", _boom),
        "snippet": lambda: monkeypatch.setattr("openpanel_flask._template.render_snippet", _boom),
        "device_cookie": lambda: monkeypatch.setattr(
            "openpanel_flask._hooks.device_cookie_header", _boom
        ),
    }
    if failure in patches:
        patches[failure]()
    if failure == "snippet":
        requests.append(("GET", "/page"))  # the failed snippet renders as nothing
    if failure == "device_cookie":
        config["OPENPANEL_DEVICE_COOKIE"] = True
    plain = build_app(config, extension=False)
    instrumented = build_app(config, client=FailingClient(failure), identify=session_identify)
    _guard.recorded.clear()
    expected = _run(plain, requests)
    got = _run(instrumented, requests)
    assert got == expected
    assert _guard.recorded, "the failure was not provoked"  # the test exercised the failure
    if not testing:
        assert expected[3][0] == 500  # the app's own handler, in both


def test_responses_are_identical_and_fast_when_the_ingestion_server_is_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {
        **CONFIG,
        "OPENPANEL_API_URL": f"http://127.0.0.1:{port}",
        "OPENPANEL_CLIENT_SECRET": "sec_x",
        "OPENPANEL_CLIENT_OPTIONS": {"flush_at": 1, "max_retries": 1, "timeout": 1.0},
    }
    plain = build_app(config, extension=False)
    instrumented = build_app(config, extension=False)
    ext = OpenPanel(instrumented, identify=session_identify)  # a real client, built from config
    try:
        expected = _run(plain, REQUESTS * 3)
        started = time.perf_counter()
        got = _run(instrumented, REQUESTS * 3)
        elapsed = time.perf_counter() - started
        assert got == expected
        assert elapsed < 2.0  # nothing waited for the unreachable server
        assert ext.state(instrumented).owns_client
    finally:
        ext.shutdown(instrumented, timeout=0.5)
