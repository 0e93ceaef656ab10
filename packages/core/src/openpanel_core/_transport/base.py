"""The transport seam: one request in, one response out (httpx's ``handle_request`` shape)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["AsyncTransport", "Request", "Response", "Transport"]


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request the client wants sent."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes = b""
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Response:
    """What came back. ``headers`` keys are lower-case."""

    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    content: bytes = b""


@runtime_checkable
class Transport(Protocol):
    """Sends requests for the threaded client.

    ``send`` raises :class:`openpanel_core.TransportError` for network failures (connect,
    timeout, reset) and returns a :class:`Response` for any HTTP answer, whatever its status.
    It is called from several sender threads at once.
    """

    def send(self, request: Request) -> Response:
        """Send one request."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The asyncio twin of :class:`Transport`, for :class:`openpanel_core.AsyncOpenPanel`."""

    async def send(self, request: Request) -> Response:
        """Send one request."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
