# pyright: basic
"""A counting HTTP sink for the benchmarks: runs in its own process, on 127.0.0.1 only.

Every URL starts with ``/r/<tag>/<mode>/``. ``tag`` names one benchmark cell (events are counted
per tag, so stragglers from an earlier cell never count for a later one); ``mode`` is

* ``fast``: answer at once,
* ``slow``: answer after 100 ms (a distant API),
* ``stall``: read the request, then never answer (a sender that cannot send).

What follows the mode is the client's own path:

* ``track/batch``: our batch extension (gzip JSON array of ``{"id","type","payload",...}``),
  answered with per-item results;
* ``track``: a single OpenPanel event;
* ``batch/``: PostHog v0 (``{"batch": [...]}``, optionally gzip);
* ``v1/batch``: Segment (``{"batch": [...]}``, optionally gzip);
* ``mp/track``: Mixpanel (form-encoded ``data=<JSON array>``).

Events are counted by parsing the bodies, never by trusting clients. ``GET /_stats/<tag>`` returns
the tally as JSON. Usage: ``python sink.py [--port 0]``; it prints the port on its first line.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

SLOW_SECONDS = 0.1
STALL_SECONDS = 3600.0


@dataclass
class Tally:
    """What one tag received."""

    events: int = 0  # events parsed out of request bodies
    acked: int = 0  # events whose request was answered (the client could know)
    unique: int = 0  # distinct event ids among ``events``
    requests: int = 0
    errors: int = 0  # bodies that could not be parsed
    max_batch: int = 0
    first: float | None = None  # time.monotonic() of the first / last received event
    last: float | None = None
    last_ack: float | None = None  # time.monotonic() when the last answer was written
    ids: set[str] = field(default_factory=set[str], repr=False)

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        del d["ids"]
        return d


_tallies: dict[str, Tally] = {}
_lock = threading.Lock()


def _tally(tag: str) -> Tally:
    t = _tallies.get(tag)
    if t is None:
        t = _tallies.setdefault(tag, Tally())
    return t


def _elements(route: str, headers: Any, body: bytes) -> tuple[list[Any], str, bytes]:
    """Parse a body: (events, id key, response body)."""
    if headers.get("Content-Encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    if route == "track/batch":
        items = json.loads(body)
        results = [{"id": i.get("id"), "status": 200} for i in items]
        return items, "id", json.dumps({"results": results}).encode()
    if route == "track":
        item = json.loads(body)
        item = {"id": headers.get("openpanel-event-id"), **item}
        return [item], "id", b'{"deviceId":"bench-device","sessionId":"bench-session"}'
    if route in ("batch", "v1/batch"):
        items = json.loads(body)["batch"]
        key = "uuid" if route == "batch" else "messageId"
        return items, key, b'{"status":1}'
    if route == "mp/track":
        form = parse_qs(body.decode())
        items = json.loads(form["data"][0])
        for i in items:
            i["_id"] = i.get("properties", {}).get("$insert_id")
        return items, "_id", b'{"status":1,"error":null}'
    raise ValueError(f"unknown route {route!r}")


class Handler(BaseHTTPRequestHandler):
    """Counts events, answers as each client expects."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real API
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add 40 ms to every answer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # a client that exits mid-connection
            super().handle()

    def _answer(self, status: int, body: bytes) -> None:
        # Status line, headers and body in one write (one TCP segment for small answers).
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "_stats":
            with _lock:
                data = _tally(parts[1]).public()
            self._answer(200, json.dumps(data).encode())
        else:
            self._answer(404, b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) < 4 or parts[0] != "r":
            self._answer(404, b"{}")
            return
        tag, mode, route = parts[1], parts[2], "/".join(parts[3:])
        if mode == "stall":
            time.sleep(STALL_SECONDS)
            self.close_connection = True
            return
        try:
            items, key, answer = _elements(route, self.headers, body)
        except Exception:
            with _lock:
                _tally(tag).errors += 1
            self._answer(400, b'{"status":0,"error":"bad body"}')
            return
        now = time.monotonic()
        n = len(items)
        with _lock:
            t = _tally(tag)
            t.events += n
            t.requests += 1
            t.max_batch = max(t.max_batch, n)
            if t.first is None:
                t.first = now
            t.last = now
            for i in items:
                ident = i.get(key) if isinstance(i, dict) else None
                if ident is None or ident not in t.ids:
                    t.unique += 1
                    if ident is not None:
                        t.ids.add(ident)
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        self._answer(200, answer)
        with _lock:
            t.acked += n
            t.last_ack = time.monotonic()


class Server(ThreadingHTTPServer):
    """One thread per connection; a deep backlog for clients that open many."""

    daemon_threads = True
    request_queue_size = 256


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.2)
    sys.exit(0)


if __name__ == "__main__":
    main()
