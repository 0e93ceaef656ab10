"""Fixtures every test of the suite shares (packages/*/tests and tests/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openpanel_core import _guard


@pytest.fixture(autouse=True)
def _no_internal_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """SDK-internal errors swallowed anywhere (even on background threads) fail the test.

    Sentry's pattern: the guard re-raises on caller paths under pytest, and records what it
    swallows on SDK threads and tasks; this fixture turns those records into failures. Tests
    that provoke internal errors on purpose carry ``@pytest.mark.tests_internal_errors``.
    """
    _guard.reset()  # each test starts with nothing recorded and every error type unlogged
    yield
    if request.node.get_closest_marker("tests_internal_errors") is None:
        errors = list(_guard.recorded)
        _guard.recorded.clear()
        assert not errors, f"internal SDK errors: {errors!r}"


@pytest.fixture
def swallow_internal_errors() -> Iterator[None]:
    """Production behaviour of the guard: internal errors are swallowed, not re-raised."""
    _guard.set_reraise(False)
    try:
        yield
    finally:
        _guard.set_reraise(None)
        _guard.recorded.clear()
