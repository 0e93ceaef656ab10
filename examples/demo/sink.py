"""A tiny OpenPanel-compatible collector for the demo: accepts ``/track`` and ``/track/batch``.

It validates every event with the same pydantic models the suite uses, answers like an
OpenPanel server (per-item results for batches, 400 naming the field for bad events) and keeps
what it accepted in memory. The reference server (packages/server) replaces it for real use.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from openpanel_core._models import batch_request_adapter, track_request_adapter


class DemoSink:
    """Collects events on 127.0.0.1 in a background thread."""

    def __init__(self, port: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests = 0
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/events":
                    with sink._lock:
                        self._send(200, sink.events)
                elif self.path == "/healthcheck":
                    self._send(200, {"ready": True})
                else:
                    self._send(404, {"error": "Not found"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    raw = gzip.decompress(raw)
                with sink._lock:
                    sink.requests += 1
                if self.path == "/track/batch":
                    self._batch(json.loads(raw))
                elif self.path == "/track":
                    self._single(json.loads(raw))
                else:
                    self._send(404, {"error": "Not found"})

            def _single(self, body: Any) -> None:
                try:
                    event = track_request_adapter.validate_python(body).to_wire()
                except ValidationError as exc:
                    err = exc.errors()[0]
                    field = ".".join(str(p) for p in err["loc"])
                    self._send(400, {"status": 400, "error": field, "message": err["msg"]})
                    return
                event["ip"] = self.headers.get("openpanel-client-ip")
                event["userAgent"] = self.headers.get("user-agent")
                with sink._lock:
                    sink.events.append(event)
                self._send(200, {"deviceId": "", "sessionId": ""})

            def _batch(self, items: list[Any]) -> None:
                results: list[dict[str, Any]] = []
                for item in items:
                    try:
                        [valid] = batch_request_adapter.validate_python([item])
                    except ValidationError as exc:
                        err = exc.errors()[0]
                        field = ".".join(str(p) for p in err["loc"][1:])
                        sink.rejected.append(field)
                        results.append({"id": item.get("id", ""), "status": 400, "error": field})
                        continue
                    with sink._lock:
                        sink.events.append(valid.to_wire())
                    results.append({"id": valid.id, "status": 200})
                self._send(200, {"results": results})

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
