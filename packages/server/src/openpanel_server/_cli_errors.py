"""One-line errors for ``openpanel-server``: known failures become a message with a hint.

Every command runs through :func:`run_command`. A :class:`CliError` (raised by the commands for
the failures they recognise) and the known exception types below become one line on stderr,
``error: <what>: <why> (hint: <what to do>)``, with exit code 1 (2 for a usage error, 130 for
Ctrl-C). Anything else is still one line (``error: <what>: unexpected error: ...`` with the hint to
rerun with ``--debug``).
With ``--debug`` (or ``OPENPANEL_SERVER_DEBUG=1``) the traceback is printed as well.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CliError",
    "data_folder_in_use",
    "debug_from_env",
    "format_error",
    "require_data_folder",
    "run_command",
]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command line explains in one line.

    Attributes:
        what: What failed (a command, an option, a file).
        why: Why it failed.
        hint: What to do about it (may be empty).
        code: The exit code (1, or 2 for a usage error).
    """

    def __init__(self, what: str, why: str, hint: str = "", *, code: int = EXIT_ERROR) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what
        self.why = why
        self.hint = hint
        self.code = code


def format_error(what: str, why: str, hint: str = "") -> str:
    """``error: <what>: <why> (hint: <hint>)`` on one line."""
    text = f"error: {what}: {why}" if what else f"error: {why}"
    if hint:
        text += f" (hint: {hint})"
    return " ".join(text.split())  # one line, whatever the parts held


def debug_from_env() -> bool:
    """Whether ``OPENPANEL_SERVER_DEBUG`` asks for tracebacks."""
    value = os.environ.get("OPENPANEL_SERVER_DEBUG", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def data_folder_in_use(data_dir: Path) -> bool:
    """Whether a process (a running server) holds the embedded store of ``data_dir``.

    The embedded engine keeps an exclusive ``flock`` on ``<data dir>/ch/status`` while it
    is open; this tries to take it without waiting and lets it go at once.
    """
    status = data_dir / "ch" / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def require_data_folder(data_dir: Path, what: str) -> None:
    """Refuse a command that reads a data folder which does not exist.

    Raises:
        CliError: The folder (or its metadata database) is missing.
    """
    if not data_dir.is_dir():
        raise CliError(
            what,
            f"no data folder at {data_dir}",
            "pass --data-dir (or set OPENPANEL_SERVER_DATA_DIR) to the server's data folder; "
            "'openpanel-server serve' creates a new one",
        )
    if not (data_dir / "meta.db").is_file():
        raise CliError(
            what,
            f"{data_dir} is not a server data folder (no meta.db)",
            "pass --data-dir to the folder the server was started with",
        )


def _explain(exc: BaseException, what: str) -> tuple[str, str, str, int]:
    """``(what, why, hint, exit code)`` for a known exception type, else a generic line."""
    import httpx

    from openpanel_server._store import StoreOpenError

    if isinstance(exc, CliError):
        return exc.what, exc.why, exc.hint, exc.code
    if isinstance(exc, StoreOpenError):
        return (
            what,
            f"cannot open the event store: {_short(str(exc))}",
            "check that the data folder (--data-dir) is writable and no server runs on it",
            EXIT_ERROR,
        )
    if isinstance(exc, PermissionError):
        target = f" {exc.filename}" if exc.filename else ""
        return (
            what,
            f"permission denied:{target}",
            "run as the user that owns the data folder, or fix its permissions",
            EXIT_ERROR,
        )
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc)
        if "locked" in message or "busy" in message:
            hint = "another process holds the metadata database; retry in a moment"
        elif "readonly" in message or "unable to open" in message:
            hint = "check that the data folder is writable by this user"
        else:
            hint = "check the data folder (--data-dir)"
        return what, f"metadata database: {message}", hint, EXIT_ERROR
    if isinstance(exc, httpx.TimeoutException):
        url = _request_url(exc)
        return what, f"{url} timed out", "is the server up and reachable? check --url", EXIT_ERROR
    if isinstance(exc, (httpx.ConnectError, httpx.UnsupportedProtocol)):
        url = _request_url(exc)
        reason = str(exc) or type(exc).__name__
        return (
            what,
            f"cannot reach {url}: {reason}",
            "is the server running? check --url (e.g. http://127.0.0.1:3333)",
            EXIT_ERROR,
        )
    if isinstance(exc, httpx.TransportError):
        url = _request_url(exc)
        reason = str(exc) or type(exc).__name__
        return (
            what,
            f"the connection to {url} broke: {reason}",
            "see the server's log, then run the command again",
            EXIT_ERROR,
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return what, f"no space left on device: {exc.filename or ''}", "free some disk space", 1
    if isinstance(exc, OSError):
        target = f": {exc.filename}" if exc.filename else ""
        return what, f"{exc.strerror or exc}{target}", "check the path (--data-dir, -o)", 1
    return (
        what,
        f"unexpected error: {type(exc).__name__}: {exc}",
        "rerun with --debug for the traceback, and report it",
        EXIT_ERROR,
    )


def _short(text: str, limit: int = 240) -> str:
    """An engine message without its stack trace, on one line, at most ``limit`` long."""
    text = " ".join(text.split("Stack trace")[0].split()).rstrip(" ,.:")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _request_url(exc: BaseException) -> str:
    import httpx

    try:
        request = exc.request if isinstance(exc, httpx.RequestError) else None
    except RuntimeError:  # no request attached
        request = None
    if request is None:
        return "the server"
    return f"{request.url.scheme}://{request.url.netloc.decode()}"


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run_command(
    run: Callable[[], int],
    what: str,
    *,
    debug: bool,
    interrupt_hint: str = "run the command again",
) -> int:
    """Run a command; known failures become one line on stderr and an exit code.

    Args:
        run: The command.
        what: Its name, for messages (``project create``).
        debug: Print tracebacks too.
        interrupt_hint: The hint after Ctrl-C (what was kept, how to go on).

    Returns:
        The exit code.
    """
    try:
        return run()
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        _say(format_error(what, "interrupted", interrupt_hint))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`| head`); say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        if debug:
            traceback.print_exc()
        name, why, hint, code = _explain(exc, what)
        _say(format_error(name, why, hint))
        return code
