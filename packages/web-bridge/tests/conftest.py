from __future__ import annotations

from collections.abc import Iterator

import pytest

from openpanel_core import _guard


@pytest.fixture(autouse=True)
def _no_internal_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """SDK-internal errors swallowed anywhere fail the test (sentry's pattern)."""
    _guard.recorded.clear()
    yield
    if request.node.get_closest_marker("tests_internal_errors") is None:
        errors = list(_guard.recorded)
        _guard.recorded.clear()
        assert not errors, f"internal SDK errors: {errors!r}"


@pytest.fixture
def no_reraise() -> Iterator[None]:
    """Production behaviour of the guard: internal errors are swallowed, not re-raised."""
    _guard.set_reraise(False)
    try:
        yield
    finally:
        _guard.set_reraise(None)
