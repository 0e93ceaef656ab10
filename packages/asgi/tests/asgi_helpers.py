"""Test helpers for openpanel-asgi (a unique module name: one flat import namespace)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from openpanel_core import AsyncOpenPanel
from openpanel_core.testing import AsyncRecordingTransport, RecordedEvent

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; the workspace has httpx, which works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette import testclient as _testclient

# Starlette types its TestClient with httpx2 (not installed here): seen as Any by type checkers.
TestClient: Any = _testclient.TestClient

__all__ = [
    "API_URL",
    "BROWSER_UA",
    "CLIENT_ID",
    "PEER",
    "Recorder",
    "TestClient",
    "asgi_client",
    "demo_app",
    "lifespan_run",
]

CLIENT_ID = "5b0a6a9e-7c1d-4f7a-9a43-3f1c2b9d8e10"
API_URL = "http://openpanel.invalid"
PEER = "203.0.113.9"
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


class Recorder:
    """An AsyncOpenPanel whose events are recorded instead of sent."""

    def __init__(self, **options: Any) -> None:
        self.transport = AsyncRecordingTransport()
        options.setdefault("flush_interval", 60.0)
        self.client = AsyncOpenPanel(
            CLIENT_ID, api_url=API_URL, transport=self.transport, **options
        )

    async def events(self) -> list[RecordedEvent]:
        await self.client.flush(5.0)
        return self.transport.events

    async def tracks(self, name: str | None = None) -> list[RecordedEvent]:
        return [
            e for e in await self.events() if e.type == "track" and (name is None or e.name == name)
        ]

    async def close(self) -> None:
        await self.client.shutdown(1.0)


def asgi_client(
    app: Any, *, raise_app_exceptions: bool = True, peer: str = PEER
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=raise_app_exceptions, client=(peer, 50123)
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def demo_app(
    client: AsyncOpenPanel | None,
    *,
    middleware: list[Middleware] | None = None,
    spawned: list[asyncio.Task[None]] | None = None,
) -> Starlette:
    """A small Starlette app: plain, JSON, streaming, failing, task-spawning and websocket routes.

    ``client`` is what the endpoints track with (None: they track nothing).
    """
    tasks = spawned if spawned is not None else []

    async def home(request: Request) -> Response:
        return PlainTextResponse("home", headers={"x-app": "1"})

    async def item(request: Request) -> Response:
        if client is not None:
            client.track("item_viewed", {"item": request.path_params["item_id"]})
        return JSONResponse({"item": request.path_params["item_id"]}, status_code=200)

    async def spawn(request: Request) -> Response:
        async def later() -> None:
            await asyncio.sleep(0)
            if client is not None:
                client.track("background_job")

        tasks.append(asyncio.get_running_loop().create_task(later()))
        return PlainTextResponse("spawned", status_code=202)

    async def stream(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for part in (b"a", b"b", b"c"):
                await asyncio.sleep(0)
                yield part

        return StreamingResponse(body(), status_code=201, media_type="text/plain")

    async def boom(request: Request) -> Response:
        raise RuntimeError("endpoint failed")

    async def health(request: Request) -> Response:
        if client is not None:
            client.track("health_probe")
        return PlainTextResponse("ok")

    async def user(request: Request) -> Response:
        return JSONResponse({"uid": request.path_params["uid"]})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(code=1000)
                return
            await websocket.send_text(f"echo:{text}")

    return Starlette(
        routes=[
            Route("/", home),
            Route("/items/{item_id}", item),
            Route("/spawn", spawn),
            Route("/stream", stream),
            Route("/boom", boom),
            Route("/health", health),
            Mount("/api", routes=[Route("/users/{uid:int}", user)]),
            WebSocketRoute("/ws", echo),
        ],
        middleware=middleware,
    )


async def lifespan_run(
    app: Callable[[Any, Any, Any], Awaitable[None]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Drive a full lifespan by hand; returns (messages received by the app, messages sent)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    received: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    await inbox.put({"type": "lifespan.startup"})

    async def receive() -> dict[str, Any]:
        message = await inbox.get()
        received.append(message)
        return message

    async def send(message: Any) -> None:
        sent.append(dict(message))
        if message["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    await app(scope, receive, send)
    return received, sent
