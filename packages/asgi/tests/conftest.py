from __future__ import annotations

from collections.abc import Iterator

import pytest

from openpanel_core import _guard


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_internal_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """SDK-internal errors swallowed anywhere (even on background tasks) fail the test."""
    _guard.recorded.clear()
    yield
    if request.node.get_closest_marker("tests_internal_errors") is None:
        errors = list(_guard.recorded)
        _guard.recorded.clear()
        assert not errors, f"internal SDK errors: {errors!r}"


@pytest.fixture
def swallow_internal_errors() -> Iterator[None]:
    """Production behaviour: the guard swallows SDK errors instead of re-raising them."""
    _guard.set_reraise(False)
    try:
        yield
    finally:
        _guard.set_reraise(None)
        _guard.recorded.clear()
