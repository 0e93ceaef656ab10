"""FastAPI quick start: the whole app in one file.

Run it with ``uvicorn fastapi_quickstart:app`` after setting ``OPENPANEL_CLIENT_ID`` and
``OPENPANEL_CLIENT_SECRET`` (and ``OPENPANEL_API_URL`` for your own server).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from openpanel_asgi import OpenPanelMiddleware, snippet
from openpanel_core import AsyncOpenPanel

# --8<-- [start:setup]
# One client for the process: it reads OPENPANEL_CLIENT_ID, OPENPANEL_CLIENT_SECRET and
# OPENPANEL_API_URL from the environment.
op = AsyncOpenPanel()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
    yield
    await op.shutdown()  # send what is still queued


app = FastAPI(lifespan=lifespan)
# The middleware takes the client id and API URL from the client you hand it.
# browser: the script ignores pages on localhost unless asked (on while you try this locally).
app.add_middleware(
    OpenPanelMiddleware, client=op, track_requests=True, browser={"trackLocalhost": True}
)
# --8<-- [end:setup]


# --8<-- [start:views]
@app.get("/", response_class=HTMLResponse)
async def home(request: Request) -> str:
    return f"<html><head>{snippet(request)}</head><body>Welcome</body></html>"


@app.post("/signup", status_code=201)
async def signup() -> dict[str, bool]:
    # Carries the visitor's IP and user agent: same device and session as their page views.
    op.track("signup", {"plan": "free"})
    return {"ok": True}


# --8<-- [end:views]
