"""Forward the browser's events through the app to the ingestion server (not an open proxy).

Only three routes exist (:data:`PROXY_ROUTES`), only to ``config.api_url``, and only an
allow-list of request headers goes upstream. The browser's own ``openpanel-client-id`` is
replaced, a secret or an ``openpanel-client-ip`` it sends is dropped, and the end user's IP
(as the app sees it) is sent as ``openpanel-client-ip``, so the server derives the same
device and session as for the backend's events about that user.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx

from openpanel_core._constants import HEADER_CLIENT_ID, HEADER_CLIENT_IP
from openpanel_core._guard import acall_reporting, call_reporting, reraising
from openpanel_web_bridge._config import BridgeConfig
from openpanel_web_bridge._cookie import valid_device_id

__all__ = ["PROXY_ROUTES", "Proxy", "ProxyResponse"]

PROXY_ROUTES: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "track": ("POST",),
        "track/batch": ("POST",),
        "track/device-id": ("GET",),
    }
)
"""The only paths (after ``prefix + "/"``) the proxy forwards, with their methods."""

#: Request headers copied from the browser's request (lower-case names).
FORWARDED_REQUEST_HEADERS = (
    "content-type",
    "content-encoding",
    "user-agent",
    "origin",
    "referer",
    "openpanel-sdk-name",
    "openpanel-sdk-version",
    "openpanel-event-id",
    # The browser's own signals, which the ingestion server's bot heuristics read (OpenPanel
    # marks events without them): forwarded so proxied events look like the browser's.
    "accept-language",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-dest",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
)
_PASSED_RESPONSE_HEADERS = ("content-type", "retry-after")


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    """The proxy's answer for the framework to send as is.

    Attributes:
        status: The HTTP status.
        headers: Header (name, value) pairs, names in lower case.
        body: The body.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _error(status: int, message: str, *extra: tuple[str, str]) -> ProxyResponse:
    body = json.dumps({"error": message}, separators=(",", ":")).encode()
    return ProxyResponse(
        status,
        (("content-type", "application/json"), ("cache-control", "no-store"), *extra),
        body,
    )


@dataclass(frozen=True, slots=True)
class _Upstream:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _with_device_id(body: bytes, device_id: str) -> bytes:
    """A ``/track`` body of type track with ``payload.properties.__deviceId`` set (when absent).

    Bodies that are not such JSON go through unchanged (the upstream judges them).
    """
    try:
        data: object = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    if not isinstance(data, dict):
        return body
    event = cast("dict[str, Any]", data)
    payload: object = event.get("payload")
    if event.get("type") != "track" or not isinstance(payload, dict):
        return body
    fields = cast("dict[str, Any]", payload)
    props: object = fields.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        return body
    properties = cast("dict[str, Any]", props)
    if "__deviceId" in properties:
        return body
    properties["__deviceId"] = device_id
    fields["properties"] = properties
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class Proxy:
    """Forwards ``{prefix}/track``, ``/track/batch`` and ``/track/device-id`` upstream.

    One pooled httpx client per Proxy (sync and async, created on first use), no redirects
    followed, ``config.proxy_timeout`` for every request. Create one per app and close it at
    shutdown. Never raises into the caller: every failure is an HTTP answer.

    Args:
        config: The bridge config (``api_url``, ``client_id``, limits).
        transport: An httpx transport for the sync client (tests, custom TLS).
        async_transport: An httpx transport for the async client.
    """

    def __init__(
        self,
        config: BridgeConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._transport = transport
        self._async_transport = async_transport
        self._timeout = httpx.Timeout(config.proxy_timeout)
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"Proxy(upstream={self.config.api_url!r})"

    # ------------------------------------------------------------------ clients

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30)

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours
                self._client = self._aclient = None
                self._pid = os.getpid()
            if self._client is None:
                client = httpx.Client(
                    transport=self._transport,
                    limits=self._limits(),
                    timeout=self._timeout,
                    follow_redirects=False,
                )
                del client.headers["user-agent"]  # only the browser's user agent goes upstream
                self._client = client
            return self._client

    def _new_async_client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=self._async_transport,
            limits=self._limits(),
            timeout=self._timeout,
            follow_redirects=False,
        )
        del client.headers["user-agent"]
        return client

    def _async_client(self) -> tuple[httpx.AsyncClient, bool]:
        """The pooled async client, or a one-shot one (True) when called from another loop.

        Pooled connections belong to the event loop that opened them. The pool lives on the
        first loop that uses it (the ASGI server's); a call from another loop (``async_to_sync``
        in a thread, a test's own loop) gets a client of its own, closed after the call.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._pid != os.getpid():
                self._client = self._aclient = None
                self._aclient_loop = None
                self._pid = os.getpid()
            if self._aclient is None:
                self._aclient = self._new_async_client()
                self._aclient_loop = loop
            elif self._aclient_loop is not loop:
                return self._new_async_client(), True
            return self._aclient, False

    def close(self) -> None:
        """Close the sync connection pool (safe to call more than once)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both connection pools (safe to call more than once).

        Call it on the loop that used the proxy (an ASGI lifespan's shutdown).
        """
        with self._lock:
            aclient, self._aclient = self._aclient, None
            home, self._aclient_loop = self._aclient_loop, None
        if aclient is not None and home is asyncio.get_running_loop():
            await aclient.aclose()
        self.close()

    # ------------------------------------------------------------------ checks

    def too_large(self, content_length: str | None) -> bool:
        """Whether a request announcing this ``Content-Length`` is over the body limit.

        Frameworks call it before reading the body; a missing or unreadable value is not
        "too large" (the body itself is checked again in :meth:`forward`).

        Args:
            content_length: The request's ``Content-Length`` header, or None.

        Returns:
            True when the announced size is over ``config.max_proxy_body_bytes``.
        """
        if not content_length:
            return False
        try:
            return int(content_length.strip()) > self.config.max_proxy_body_bytes
        except ValueError:
            return False

    def _prepare(
        self,
        method: str,
        subpath: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str | None,
        device_id: str | None,
    ) -> ProxyResponse | _Upstream:
        config = self.config
        route = subpath.strip("/")
        allowed = PROXY_ROUTES.get(route)
        if allowed is None or config.disabled:
            return _error(404, "not found")
        method = method.upper()
        if method not in allowed:
            return _error(405, "method not allowed", ("allow", ", ".join(allowed)))
        if self.too_large(headers.get("content-length")) or (
            len(body) > config.max_proxy_body_bytes
        ):
            return _error(413, "payload too large")
        out = {name: headers[name] for name in FORWARDED_REQUEST_HEADERS if headers.get(name)}
        out[HEADER_CLIENT_ID] = config.client_id
        if client_ip:
            out[HEADER_CLIENT_IP] = client_ip
        if method == "GET":
            body = b""
            out.pop("content-type", None)
            out.pop("content-encoding", None)
        elif (
            route == "track"
            and device_id
            and valid_device_id(device_id)
            and not out.get("content-encoding")
        ):
            body = _with_device_id(body, device_id)
        return _Upstream(method, f"{config.api_url}/{route}", out, body)

    @staticmethod
    def _answer(response: httpx.Response) -> ProxyResponse:
        if 300 <= response.status_code < 400:
            return _error(502, "unexpected redirect from the ingestion server")
        passed = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name in _PASSED_RESPONSE_HEADERS or name.startswith("openpanel-")
        )
        return ProxyResponse(response.status_code, passed, response.content)

    # ------------------------------------------------------------------ forwarding

    def _forward(self, *args: Any) -> ProxyResponse:
        prepared = self._prepare(*args)
        if isinstance(prepared, ProxyResponse):
            return prepared
        client = self._sync_client()
        try:
            response = client.request(
                prepared.method, prepared.url, headers=prepared.headers, content=prepared.body
            )
        except httpx.TimeoutException:
            return _error(504, "the ingestion server did not answer in time")
        except httpx.HTTPError:
            return _error(502, "the ingestion server cannot be reached")
        return self._answer(response)

    async def _aforward(self, *args: Any) -> ProxyResponse:
        prepared = self._prepare(*args)
        if isinstance(prepared, ProxyResponse):
            return prepared
        client, one_shot = self._async_client()
        try:
            response = await client.request(
                prepared.method, prepared.url, headers=prepared.headers, content=prepared.body
            )
        except httpx.TimeoutException:
            return _error(504, "the ingestion server did not answer in time")
        except httpx.HTTPError:
            return _error(502, "the ingestion server cannot be reached")
        finally:
            if one_shot:
                await client.aclose()
        return self._answer(response)

    def forward(
        self,
        method: str,
        subpath: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str | None,
        *,
        device_id: str | None = None,
    ) -> ProxyResponse:
        """Forward one browser request and return the answer to send back.

        Args:
            method: The request method.
            subpath: The path after ``prefix + "/"`` (``"track"``, ``"track/batch"``,
                ``"track/device-id"``); anything else is a 404.
            headers: The browser's request headers, lower-case names.
            body: The request body.
            client_ip: The end user's IP (see :func:`client_ip`), sent as
                ``openpanel-client-ip``.
            device_id: The first-party device id, added to ``/track`` events as
                ``__deviceId`` when they carry none.

        Returns:
            The upstream answer (status, body, ``content-type``, ``retry-after``,
            ``openpanel-*`` headers), or 404/405/413 from the proxy itself, 502 when the
            ingestion server cannot be reached (or redirects), 504 when it is too slow.
        """
        result = call_reporting(
            "proxy", self._forward, method, subpath, headers, body, client_ip, device_id
        )
        if isinstance(result, Exception):
            if reraising():
                raise result
            return _error(502, "proxy error")
        return result

    async def aforward(
        self,
        method: str,
        subpath: str,
        headers: Mapping[str, str],
        body: bytes,
        client_ip: str | None,
        *,
        device_id: str | None = None,
    ) -> ProxyResponse:
        """The asyncio twin of :meth:`forward` (same arguments, same answers).

        Args:
            method: The request method.
            subpath: The path after ``prefix + "/"`` (``"track"``, ``"track/batch"``,
                ``"track/device-id"``); anything else is a 404.
            headers: The browser's request headers, lower-case names.
            body: The request body.
            client_ip: The end user's IP (see :func:`client_ip`), sent as
                ``openpanel-client-ip``.
            device_id: The first-party device id, added to ``/track`` events as
                ``__deviceId`` when they carry none.

        Returns:
            The answer to send back, as for :meth:`forward`.
        """
        result = await acall_reporting(
            "proxy", self._aforward, method, subpath, headers, body, client_ip, device_id
        )
        if isinstance(result, Exception):
            if reraising():
                raise result
            return _error(502, "proxy error")
        return result
