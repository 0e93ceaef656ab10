"""Device ids and the client-side session for events sent outside a web request.

Inside a request the server derives device and session from the end user's IP and user agent.
Workers, command-line tools and desktop apps have no end user request; for them the client can
keep a device id of its own (optionally persisted in a file) and a session that ends after 30
minutes without events, like the server's.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from openpanel_core._constants import SESSION_TIMEOUT_SECONDS

__all__ = ["SessionManager", "load_or_create_device_id", "new_device_id"]


def new_device_id() -> str:
    """A random device id (uuid4, 36 characters; OpenPanel allows up to 64).

    Returns:
        A new random device id.
    """
    return str(uuid.uuid4())


def load_or_create_device_id(path: str | os.PathLike[str]) -> str:
    """Read the device id stored at ``path``, creating the file with a new id when missing.

    The file is written atomically (temporary file + rename) so concurrent first runs agree on
    one id as far as the filesystem allows.

    Args:
        path: The file that keeps the id; it is created, with its folder, when missing.

    Returns:
        The stored device id, or the new one just written.

    Raises:
        OSError: The file cannot be read or written (permissions, read-only filesystem).
    """
    p = Path(path)
    try:
        value = p.read_text(encoding="utf-8").strip()
        if 0 < len(value) <= 64:
            return value
    except FileNotFoundError:
        pass
    value = new_device_id()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(value + "\n", encoding="utf-8")
    try:
        os.link(tmp, p)  # fails if another process created it meanwhile
    except FileExistsError:
        value = p.read_text(encoding="utf-8").strip() or value
    except OSError:
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return value


class SessionManager:
    """A session id that survives activity and rotates after ``timeout`` seconds of silence.

    Args:
        timeout: Inactivity, in seconds, that ends a session (30 minutes by default).
        clock: Monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        timeout: float = SESSION_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._id: str | None = None
        self._last = 0.0

    def touch(self, now: float | None = None) -> str:
        """Record activity and return the current session id (a new one after a timeout).

        Args:
            now: The time of the activity, in the clock's unit (seconds); defaults to the
                clock's current time.

        Returns:
            The session id in effect after this activity.
        """
        t = self._clock() if now is None else now
        with self._lock:
            if self._id is None or t - self._last > self.timeout:
                self._id = str(uuid.uuid4())
            self._last = max(self._last, t)
            return self._id

    @property
    def session_id(self) -> str | None:
        """The current session id without recording activity (None before the first event)."""
        with self._lock:
            if self._id is not None and self._clock() - self._last > self.timeout:
                return None
            return self._id

    def reset(self) -> None:
        """End the current session now."""
        with self._lock:
            self._id = None
