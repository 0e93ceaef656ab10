"""The transport seam: one request in, one response out (httpx's ``handle_request`` shape)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["AsyncTransport", "Request", "Response", "Transport"]


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request the client wants sent.

    Attributes:
        method: The HTTP method (``"POST"``).
        url: The absolute URL.
        headers: Request headers (client id and secret, content type and encoding, SDK name).
        content: The body: JSON, gzip-compressed when ``content-encoding`` says so.
        timeout: Seconds the whole request may take.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes = b""
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Response:
    """What came back. ``headers`` keys are lower-case.

    Attributes:
        status_code: The HTTP status code.
        headers: Response headers, lower-case names.
        content: The response body.
    """

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
        """Send one request.

        Args:
            request: What to send.

        Returns:
            The server's answer, whatever its status.

        Raises:
            TransportError: No HTTP answer (connection refused or reset, DNS, timeout).
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The asyncio twin of :class:`Transport`, for :class:`openpanel_core.AsyncOpenPanel`."""

    async def send(self, request: Request) -> Response:
        """Send one request.

        Args:
            request: What to send.

        Returns:
            The server's answer, whatever its status.

        Raises:
            TransportError: No HTTP answer (connection refused or reset, DNS, timeout).
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
