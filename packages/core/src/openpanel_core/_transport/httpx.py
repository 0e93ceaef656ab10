"""The default transport: httpx with keep-alive connection pools."""

from __future__ import annotations

import httpx

from openpanel_core._errors import TransportError
from openpanel_core._transport.base import Request, Response

__all__ = ["AsyncHttpxTransport", "HttpxTransport"]


def _limits(max_connections: int) -> httpx.Limits:
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )


def _request(client: httpx.Client | httpx.AsyncClient, request: Request) -> httpx.Request:
    return client.build_request(
        request.method,
        request.url,
        headers=dict(request.headers),
        content=request.content,
        timeout=request.timeout,
    )


def _response(r: httpx.Response) -> Response:
    return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)


class HttpxTransport:
    """Sync httpx transport, shared by the sender threads (httpx.Client is thread-safe).

    Args:
        max_connections: Size of the keep-alive pool; match the client's ``max_in_flight``.
        client: An ``httpx.Client`` of your own (proxies, certificates, mounts) instead.
    """

    def __init__(self, *, max_connections: int = 8, client: httpx.Client | None = None) -> None:
        self._owns = client is None
        self._max_connections = max_connections
        self._client = client or self._new_client()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(limits=_limits(self._max_connections), follow_redirects=False)

    def send(self, request: Request) -> Response:
        """Send one request; network failures become :class:`TransportError`.

        Args:
            request: What to send.

        Returns:
            The server's answer, whatever its status (redirects are not followed).

        Raises:
            TransportError: No HTTP answer (connection refused or reset, DNS, timeout).
        """
        try:
            return _response(self._client.send(_request(self._client, request)))
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    def after_fork(self) -> None:
        """Forget connections inherited from the parent process."""
        if self._owns:
            self._client = self._new_client()

    def close(self) -> None:
        """Close the pool (only when this transport created it)."""
        if self._owns:
            self._client.close()


class AsyncHttpxTransport:
    """Asyncio httpx transport for :class:`openpanel_core.AsyncOpenPanel`.

    Args:
        max_connections: Size of the keep-alive pool; match the client's ``max_in_flight``.
        client: An ``httpx.AsyncClient`` of your own (proxies, certificates, mounts) instead.
    """

    def __init__(
        self, *, max_connections: int = 8, client: httpx.AsyncClient | None = None
    ) -> None:
        self._owns = client is None
        self._max_connections = max_connections
        self._client = client or self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(limits=_limits(self._max_connections), follow_redirects=False)

    async def send(self, request: Request) -> Response:
        """Send one request; network failures become :class:`TransportError`.

        Args:
            request: What to send.

        Returns:
            The server's answer, whatever its status (redirects are not followed).

        Raises:
            TransportError: No HTTP answer (connection refused or reset, DNS, timeout).
        """
        try:
            return _response(await self._client.send(_request(self._client, request)))
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    def after_fork(self) -> None:
        """Forget connections inherited from the parent process."""
        if self._owns:
            self._client = self._new_client()

    async def aclose(self) -> None:
        """Close the pool (only when this transport created it)."""
        if self._owns:
            await self._client.aclose()
