"""Helpers shared by the core tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

CLIENT_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    events: list[dict[str, Any]]
    at: float


@dataclass
class Sink:
    """A programmable OpenPanel-like endpoint on a real local HTTP server."""

    server: HTTPServer
    requests: list[Received] = field(default_factory=list[Received])
    #: Called per request before the default answer; return a response to override it.
    hook: Callable[[WRequest, Received], WResponse | None] | None = None
    batch: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def handle(self, request: WRequest) -> WResponse:
        body = request.get_data()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        data: Any = json.loads(body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.path.endswith("/batch"):
            if not self.batch:
                return WResponse("Not Found", status=404)
            events: list[dict[str, Any]] = list(data)
        else:
            events = [dict(data, id=headers.get("openpanel-event-id"))]
        received = Received(request.path, headers, events, time.monotonic())
        with self.lock:
            self.requests.append(received)
        if self.hook is not None:
            override = self.hook(request, received)
            if override is not None:
                return override
        if request.path.endswith("/batch"):
            results = [{"id": e["id"], "status": 200} for e in events]
            return WResponse(json.dumps({"results": results}), content_type="application/json")
        return WResponse('{"deviceId":"d","sessionId":"s"}', content_type="application/json")

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for r in self.requests for e in r.events]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.events) >= n:
                break
            time.sleep(0.01)
        return self.events
