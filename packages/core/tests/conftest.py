from __future__ import annotations

from collections.abc import Iterator

import pytest
from core_helpers import Sink
from pytest_httpserver import HTTPServer

from openpanel_core import _guard


@pytest.fixture(autouse=True)
def _no_internal_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """SDK-internal errors swallowed on background threads fail the test (sentry's pattern)."""
    _guard.recorded.clear()
    yield
    if request.node.get_closest_marker("tests_internal_errors") is None:
        errors = list(_guard.recorded)
        _guard.recorded.clear()
        assert not errors, f"internal SDK errors: {errors!r}"


@pytest.fixture
def sink(httpserver: HTTPServer) -> Sink:
    s = Sink(httpserver)
    httpserver.expect_request("/track/batch", method="POST").respond_with_handler(s.handle)
    httpserver.expect_request("/track", method="POST").respond_with_handler(s.handle)
    return s
