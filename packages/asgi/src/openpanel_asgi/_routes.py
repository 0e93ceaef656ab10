"""The first-party script and the ingestion proxy, as a pure ASGI app (or served by the middleware).

Mounted at the configured prefix (``Mount("/_op", app=routes(config))``) it answers:

- ``GET|HEAD {prefix}/op.js``: the packaged browser script (ETag, 304, gzip when accepted);
- ``POST {prefix}/track`` and ``{prefix}/track/batch``, ``GET {prefix}/track/device-id``:
  forwarded to the configured ingestion server only (never an open proxy), with the end user's
  IP and the first-party device id; bodies over ``max_proxy_body_bytes`` get 413, judged by
  ``Content-Length`` first and then while the body streams in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from openpanel_asgi._scope import HeaderGetter, header_getter, peer, route_path
from openpanel_asgi._settings import resolve_config
from openpanel_asgi._types import Receive, Scope, Send
from openpanel_core._guard import suppress_internal_errors
from openpanel_web_bridge import (
    PROXY_ROUTES,
    BridgeConfig,
    Proxy,
    client_ip,
    read_device_cookie,
    script_response,
)

__all__ = ["OpenPanelRoutes", "routes"]

_SCRIPT = "op.js"
_JSON = ("content-type", "application/json")
_NO_STORE = ("cache-control", "no-store")
_NOT_FOUND = b'{"error":"not found"}'
_TOO_LARGE = b'{"error":"payload too large"}'


class _TooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


async def _respond(
    send: Send,
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    head: bool = False,
) -> None:
    raw: list[tuple[bytes, bytes]] = []
    has_length = False
    for name, value in headers:
        n = name.lower().encode("latin-1")
        v = value.encode("latin-1")
        has_length = has_length or n == b"content-length"
        raw.append((n, v))
    if not has_length and status != 304:
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head or status == 304 else body})


class OpenPanelRoutes:
    """A pure ASGI app serving the first-party script and the ingestion proxy.

    Mount it at the configured prefix: ``Mount("/_op", app=OpenPanelRoutes(config))`` in
    Starlette, ``app.mount("/_op", OpenPanelRoutes(config))`` in FastAPI. (The middleware serves
    the same routes itself unless built with ``serve_routes=False``, so a mount is only needed
    without the middleware.)

    Mounted apps get no lifespan events from Starlette: await :meth:`aclose` at shutdown to
    close the proxy's connections (the middleware does this for the routes it serves).

    Args:
        config: A :class:`~openpanel_web_bridge.BridgeConfig` or a mapping of its fields.
        proxy: A ready :class:`~openpanel_web_bridge.Proxy` (default: one built from config).
        **options: Fields of :class:`~openpanel_web_bridge.BridgeConfig`, over ``config``.

    Raises:
        openpanel_core.ConfigurationError: A setting is unknown or its value is invalid.
    """

    def __init__(
        self,
        config: BridgeConfig | Mapping[str, Any] | None = None,
        *,
        proxy: Proxy | None = None,
        **options: Any,
    ) -> None:
        self.config = resolve_config(config, options, source="OpenPanelRoutes")
        self._script = self.config.script and not self.config.disabled
        self._proxy_on = self.config.proxy and not self.config.disabled
        self.proxy = proxy if proxy is not None else Proxy(self.config)
        self._limit = self.config.max_proxy_body_bytes

    def serves(self, subpath: str) -> bool:
        """Whether ``subpath`` (the path after ``prefix + "/"``) is one of these routes.

        Args:
            subpath: The request path after the prefix and its ``/`` (``"op.js"``,
                ``"track"``).

        Returns:
            True for the script (when ``script`` is on) and the proxy routes (when ``proxy``
            is on).
        """
        if subpath == _SCRIPT:
            return self._script
        return self._proxy_on and subpath in PROXY_ROUTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (paths relative to where the app is mounted)."""
        kind = scope["type"]
        if kind == "http":
            await self.handle(scope, receive, send, route_path(scope).lstrip("/"))
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: Scope, receive: Receive, send: Send, subpath: str) -> None:
        """Answer the request for ``subpath``; unknown paths get a JSON 404.

        Args:
            scope: The request's ASGI scope.
            receive: The ASGI ``receive`` callable (the proxy reads the body from it).
            send: The ASGI ``send`` callable the answer is sent with.
            subpath: The request path after the prefix and its ``/``.
        """
        if not self.serves(subpath):
            await _respond(send, 404, [_JSON, _NO_STORE], _NOT_FOUND)
            return
        get = header_getter(scope)
        method: str = scope.get("method", "GET")
        if subpath == _SCRIPT:
            await self._serve_script(send, method, get)
            return
        if self.proxy.too_large(get("content-length")):
            await _respond(send, 413, [_JSON, _NO_STORE], _TOO_LARGE)
            return
        try:
            body = await self._read_body(receive)
        except _TooLargeError:
            await _respond(send, 413, [_JSON, _NO_STORE], _TOO_LARGE)
            return
        except _DisconnectedError:
            return  # the browser left: nothing to forward, nobody to answer
        headers = self._forward_headers(scope)
        ip = client_ip(get, peer(scope), self.config)
        device_id = None
        if self.config.device_cookie:
            device_id = read_device_cookie(get("cookie"), self.config)
        answer = await self.proxy.aforward(method, subpath, headers, body, ip, device_id=device_id)
        await _respond(send, answer.status, answer.headers, answer.body)

    async def _serve_script(self, send: Send, method: str, get: HeaderGetter) -> None:
        if method not in ("GET", "HEAD"):
            await _respond(
                send, 405, [("allow", "GET, HEAD"), _JSON], b'{"error":"method not allowed"}'
            )
            return
        answer = script_response(get("if-none-match"), accept_encoding=get("accept-encoding"))
        await _respond(send, answer.status, answer.headers, answer.body, head=method == "HEAD")

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        limit = self._limit
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _DisconnectedError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def _forward_headers(scope: Scope) -> dict[str, str]:
        # All of them, lower-case (the proxy picks the few it forwards); repeats joined.
        headers: dict[str, str] = {}
        for name, value in scope.get("headers") or ():
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return headers

    async def aclose(self) -> None:
        """Close the proxy's connections to the ingestion server (never raises)."""
        with suppress_internal_errors("asgi routes close"):
            await self.proxy.aclose()


def routes(
    config: BridgeConfig | Mapping[str, Any] | None = None, **options: Any
) -> OpenPanelRoutes:
    """The script and proxy routes as an ASGI app to mount at ``config.prefix``.

    Example::

        app.mount("/_op", openpanel_asgi.routes(config))

    Args:
        config: A :class:`~openpanel_web_bridge.BridgeConfig` or a mapping of its fields;
            missing ``client_id`` and ``api_url`` come from the ``OPENPANEL_*`` environment
            variables.
        **options: Fields of :class:`~openpanel_web_bridge.BridgeConfig` (``prefix``,
            ``proxy``, ``script``, ...), over ``config``; also ``proxy=``, a ready
            :class:`~openpanel_web_bridge.Proxy`.

    Returns:
        An :class:`OpenPanelRoutes` app; await its ``aclose()`` at shutdown.

    Raises:
        openpanel_core.ConfigurationError: A setting is unknown or its value is invalid.
    """
    return OpenPanelRoutes(config, **options)
