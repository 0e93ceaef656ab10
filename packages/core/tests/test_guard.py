"""The host application is never affected by SDK failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from core_helpers import CLIENT_ID, Sink

from openpanel_core import OpenPanel, _guard
from openpanel_core._retry import RetryPolicy


class ExplodingTransport:
    def send(self, request: Any) -> Any:
        raise RuntimeError("bug inside a transport")

    def close(self) -> None:
        raise RuntimeError("close bug")


@pytest.mark.tests_internal_errors
def test_a_broken_transport_never_reaches_the_app(caplog: pytest.LogCaptureFixture) -> None:
    _guard.set_reraise(False)  # production behaviour
    try:
        reported: list[Exception] = []
        client = OpenPanel(
            CLIENT_ID,
            api_url="http://127.0.0.1:9",
            transport=ExplodingTransport(),
            flush_interval=0.02,
            on_error=lambda exc, items: reported.append(exc),
        )
        client.delivery.retry = RetryPolicy(max_retries=1, initial_delay=0.01, max_delay=0.01)
        for i in range(5):
            client.track("e", {"i": i})
        assert client.flush(5), "items are settled (failed), not stuck"
        assert client.stats.failed == 5
        assert reported
        assert client.shutdown(1) is True  # close() raising is swallowed too
        internal = [r for r in caplog.records if "internal error" in r.getMessage()]
        assert 1 <= len(internal) <= 2, "logged once per error type, not per event"
        assert _guard.recorded
    finally:
        _guard.set_reraise(None)


@pytest.mark.tests_internal_errors
def test_guard_reraises_under_tests_and_swallows_in_production() -> None:
    @_guard.guarded("demo", default="fallback")
    def boom() -> str:
        raise ValueError("x")

    assert _guard.reraising()
    with pytest.raises(ValueError, match="x"):
        boom()
    _guard.set_reraise(False)
    try:
        assert boom() == "fallback"
        with _guard.suppress_internal_errors("block"):
            raise KeyError("swallowed")
    finally:
        _guard.set_reraise(None)


def test_no_handlers_installed_on_import() -> None:
    import subprocess
    import sys

    code = (
        "import logging, openpanel_core, openpanel_core.webhooks;"
        "print(len(logging.getLogger('openpanel_core').handlers))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_debug_adds_exactly_one_stderr_handler(sink: Sink) -> None:
    logger = logging.getLogger("openpanel_core")
    before = list(logger.handlers)
    a = OpenPanel(CLIENT_ID, api_url=sink.url, debug=True)
    b = OpenPanel(CLIENT_ID, api_url=sink.url, debug=True)
    added = [h for h in logger.handlers if h not in before]
    assert len(added) <= 1
    a.shutdown(1)
    b.shutdown(1)
