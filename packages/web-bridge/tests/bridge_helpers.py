"""Test helpers for openpanel-web-bridge (a unique module name: one flat import namespace)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from openpanel_web_bridge import BridgeConfig

__all__ = ["BROWSER_UA", "CLIENT_ID", "SECRET", "closed_port", "config", "header_getter"]

CLIENT_ID = "3f1c2a9e-1b2c-4d5e-8f90-123456789abc"
SECRET = "sec_9f2b7c1d4e5a6b7c8d9e0f1a2b3c4d5e"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def config(**overrides: Any) -> BridgeConfig:
    """A valid config with the test client id and secret, overridable."""
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "api_url": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return BridgeConfig(**values)


def header_getter(headers: dict[str, str]) -> Callable[[str], str | None]:
    """A ``get_header`` over a dict, the way frameworks pass one (lower-case names)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
