"""Deterministic device and session ids, byte-compatible with OpenPanel.

* ``device_id`` is ``shake256("<ua>:<ip>:<projectId>:<salt>")`` with 16 bytes of output, as 32
  lowercase hex characters (``packages/common/server/profileId.ts``).
* ``session_id`` is ``base64url(sha256("sess:v1:<projectId>:<deviceId>:<bucket>")[:16])``
  without padding, 22 characters (``getSessionId`` in ``apps/api/src/utils/ids.ts``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets

__all__ = ["DEFAULT_SESSION_WINDOW_MS", "device_id", "new_salt", "session_bucket", "session_id"]

DEFAULT_SESSION_WINDOW_MS = 1_800_000
"""``SESSION_TIMEOUT_MS`` default: 30 minutes."""


def _utf8(text: str) -> bytes:
    """UTF-8 as JavaScript's ``hash.update(string)`` makes it (lone surrogates become U+FFFD)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        units = text.encode("utf-16-le", "surrogatepass")
        return units.decode("utf-16-le", "replace").encode("utf-8")


@functools.lru_cache(maxsize=8192)  # a batch's items mostly share their end user
def device_id(user_agent: str, ip: str, project_id: str, salt: str) -> str:
    """Return OpenPanel's device id for a visitor.

    Args:
        user_agent: The request's ``User-Agent``.
        ip: The client IP (``''`` when none was found).
        project_id: The project (client) id.
        salt: The daily salt (`new_salt`).

    Returns:
        32 lowercase hex characters, or ``''`` when ``user_agent`` is empty (as upstream).
    """
    if not user_agent:
        return ""
    data = _utf8(f"{user_agent}:{ip}:{project_id}:{salt}")
    return hashlib.shake_256(data).hexdigest(16)


def session_bucket(event_ms: int, window_ms: int = DEFAULT_SESSION_WINDOW_MS) -> int:
    """Return the time bucket a session id is derived from.

    ``bucket = floor(event_ms / window)``, minus one while the event is within the grace period
    ``min(5000, floor(window / 6))`` after the bucket start.

    Args:
        event_ms: The event time in epoch milliseconds.
        window_ms: The session timeout in milliseconds (positive).

    Returns:
        The bucket number.

    Raises:
        ValueError: If ``window_ms`` is not positive.
    """
    if window_ms <= 0:
        raise ValueError(f"window_ms must be positive, got {window_ms!r}")
    grace = min(5000, window_ms // 6)
    bucket = event_ms // window_ms
    if event_ms - bucket * window_ms < grace:
        bucket -= 1
    return bucket


def session_id(
    project_id: str,
    device_id: str,
    event_ms: int,
    window_ms: int = DEFAULT_SESSION_WINDOW_MS,
) -> str:
    """Return the deterministic session id used when no live session exists.

    Args:
        project_id: The project (client) id.
        device_id: The device id (`device_id`).
        event_ms: The event time in epoch milliseconds.
        window_ms: The session timeout in milliseconds.

    Returns:
        22 base64url characters (16 bytes, unpadded).

    Raises:
        ValueError: If ``window_ms`` is not positive.
    """
    bucket = session_bucket(event_ms, window_ms)
    data = _utf8(f"sess:v1:{project_id}:{device_id}:{bucket}")
    digest = hashlib.sha256(data).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_salt() -> str:
    """Return a fresh salt: 16 random bytes as 32 hex characters.

    Returns:
        The salt.
    """
    return secrets.token_hex(16)
