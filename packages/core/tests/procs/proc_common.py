"""Shared by the child-process scripts of ``test_process.py`` (never imports the SDK itself)."""

from __future__ import annotations

import atexit
import sys

CLIENT_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def report_internal_errors_at_exit() -> None:
    """At exit, print the SDK-internal errors this process swallowed to stderr.

    Call it before importing ``openpanel_core``: atexit handlers run last-in first-out, so the
    report runs after the client's own exit drain and sees errors raised during it too.
    """
    atexit.register(print_internal_errors)


def print_internal_errors() -> None:
    """Print the SDK-internal errors recorded so far to stderr, one line each."""
    from openpanel_core import _guard

    for exc in _guard.recorded:
        print(f"openpanel internal error: {exc!r}", file=sys.stderr)
