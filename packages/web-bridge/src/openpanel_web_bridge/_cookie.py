"""The opt-in first-party device cookie, shared by browser events (via the proxy) and backend events."""

from __future__ import annotations

import re

from openpanel_core import new_device_id
from openpanel_web_bridge._config import BridgeConfig

__all__ = ["device_cookie_header", "new_device_id", "read_device_cookie", "valid_device_id"]

# uuid4 (new_device_id), server-derived hex ids and base64url ids all fit; OpenPanel's limit is 64.
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def valid_device_id(value: str) -> bool:
    """Whether ``value`` is a device id the bridge accepts (8-64 of ``A-Z a-z 0-9 _ -``)."""
    return isinstance(value, str) and _DEVICE_ID.match(value) is not None


def read_device_cookie(cookie_header: str | None, config: BridgeConfig) -> str | None:
    """The device id in the request's ``Cookie`` header, validated.

    Args:
        cookie_header: The raw ``Cookie`` header.
        config: The bridge config.

    Returns:
        The id, or None when the cookie is off, absent or not a valid id.
    """
    if not config.device_cookie or not cookie_header:
        return None
    name = config.cookie_name
    for part in cookie_header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value if _DEVICE_ID.match(value) else None
    return None


def device_cookie_header(device_id: str, config: BridgeConfig, *, https: bool) -> str:
    """A ``Set-Cookie`` value that stores ``device_id``.

    ``HttpOnly`` (the proxy, not the page, reads it), ``Path=/``, ``Max-Age`` and
    ``SameSite`` from the config; ``Secure`` per ``config.cookie_secure`` (None: when the
    request is https).

    Args:
        device_id: A valid device id (see :func:`new_device_id`).
        config: The bridge config.
        https: Whether the current request came over https.

    Returns:
        The header value, such as ``op_did=...; Max-Age=...; Path=/; HttpOnly; SameSite=Lax``.

    Raises:
        ValueError: ``device_id`` is not a valid device id.
    """
    if not valid_device_id(device_id):
        raise ValueError("device_id must be 8-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    parts = [
        f"{config.cookie_name}={device_id}",
        f"Max-Age={config.cookie_max_age}",
        "Path=/",
    ]
    if config.cookie_domain:
        parts.append(f"Domain={config.cookie_domain}")
    secure = https if config.cookie_secure is None else config.cookie_secure
    if secure:
        parts.append("Secure")
    parts.append("HttpOnly")
    parts.append(f"SameSite={config.cookie_samesite}")
    return "; ".join(parts)
