"""The one place where SDK-internal errors are swallowed.

Production: an unexpected error inside the SDK is logged once per exception type (at WARNING,
without payloads) and swallowed, so the host application never sees it. Under pytest (the
``PYTEST_CURRENT_TEST`` variable is set) or after :func:`set_reraise` the error is re-raised on
caller paths, so SDK bugs fail tests instead of hiding. Errors caught on background threads
cannot be re-raised anywhere useful; they are recorded in :data:`recorded` for test fixtures to
check.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "acall_reporting",
    "call_reporting",
    "call_user_hook",
    "guarded",
    "recorded",
    "reraising",
    "reset",
    "set_reraise",
    "suppress_internal_errors",
]

logger = logging.getLogger("openpanel_core")

_P = ParamSpec("_P")
_R = TypeVar("_R")

_seen_types: set[type[BaseException]] = set()
_lock = threading.Lock()
_reraise_override: bool | None = None
#: Internal errors swallowed since the last reset (test fixtures read and clear it).
recorded: list[BaseException] = []


def reset() -> None:
    """Forget the recorded errors and which types were logged (test fixtures call it)."""
    with _lock:
        recorded.clear()
        _seen_types.clear()


def set_reraise(value: bool | None) -> None:
    """Force re-raising on (True) or off (False); None goes back to detecting pytest."""
    global _reraise_override
    _reraise_override = value


def reraising() -> bool:
    """Whether internal errors are re-raised on caller paths right now."""
    if _reraise_override is not None:
        return _reraise_override
    return "PYTEST_CURRENT_TEST" in os.environ


def _report(exc: BaseException, where: str) -> None:
    with _lock:
        recorded.append(exc)
        del recorded[:-100]
        first = type(exc) not in _seen_types
        _seen_types.add(type(exc))
    if first:
        logger.warning(
            "openpanel: internal error in %s (%s); your application is unaffected. "
            "Further errors of this type are not logged.",
            where,
            type(exc).__name__,
            exc_info=exc,
        )


@contextmanager
def suppress_internal_errors(where: str, *, background: bool = False) -> Generator[None]:
    """Swallow and log any exception raised in the block (re-raise under tests).

    Args:
        where: What the block does, for the log line.
        background: The block runs on an SDK thread: record, never re-raise.
    """
    try:
        yield
    except Exception as exc:
        _report(exc, where)
        if not background and reraising():
            raise


def guarded(where: str, default: Any = None) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a public entry point so that it never raises into the caller."""

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                _report(exc, where)
                if reraising():
                    raise
                return default

        return wrapper

    return decorate


def call_reporting(
    where: str,
    fn: Callable[..., _R],
    *args: Any,
    expected: type[Exception] | tuple[type[Exception], ...] = (),
) -> _R | Exception:
    """Call a plug-in (such as a transport) and return its result or the exception it raised.

    Never raises. Exceptions of the ``expected`` types are returned quietly; any other is an
    internal error: recorded and logged once per type.
    """
    try:
        return fn(*args)
    except expected as exc:
        return exc
    except Exception as exc:  # noqa: BLE001
        _report(exc, where)
        return exc


async def acall_reporting(
    where: str,
    fn: Callable[..., Awaitable[_R]],
    *args: Any,
    expected: type[Exception] | tuple[type[Exception], ...] = (),
) -> _R | Exception:
    """The asyncio twin of :func:`call_reporting`."""
    try:
        return await fn(*args)
    except expected as exc:
        return exc
    except Exception as exc:  # noqa: BLE001
        _report(exc, where)
        return exc


def call_user_hook(where: str, fn: Callable[..., _R], *args: Any) -> tuple[bool, _R | None]:
    """Call a user-supplied hook; its errors are logged once and never propagate.

    Returns:
        (True, result) when the hook returned, (False, None) when it raised.
    """
    try:
        return True, fn(*args)
    except Exception as exc:  # noqa: BLE001
        with _lock:
            first = ("hook", where) not in _hook_seen
            _hook_seen.add(("hook", where))
        if first:
            logger.warning("openpanel: your %s hook raised %s", where, type(exc).__name__)
        return False, None


_hook_seen: set[tuple[str, str]] = set()
