from __future__ import annotations

import pytest
from core_helpers import Sink
from pytest_httpserver import HTTPServer


@pytest.fixture
def sink(httpserver: HTTPServer) -> Sink:
    s = Sink(httpserver)
    httpserver.expect_request("/track/batch", method="POST").respond_with_handler(s.handle)
    httpserver.expect_request("/track", method="POST").respond_with_handler(s.handle)
    return s
