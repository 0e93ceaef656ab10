"""What openpanel-asgi adds to each request: the same Starlette app with and without the middleware.

Run from the repository root::

    .tools/bin/uv run --no-sync python benchmarks/middleware_asgi.py           # about 1 minute
    .tools/bin/uv run --no-sync python benchmarks/middleware_asgi.py --n 5000  # quicker

Each row times one request at a time on one asyncio loop, alternating between the plain app and
the instrumented app in small blocks (so drift such as CPU frequency or other processes hits
both alike), and prints the median and p99 of both and their difference (the added latency).
Between two requests the loop gets one turn (``await asyncio.sleep(0)``), as under a server,
so the client's sender task runs there; its work is not inside a request's time but is in the
"loop time per request" column (all the loop's time for a block, divided by its requests).
Rows:

* ASGI direct: ``await app(scope, receive, send)`` with a prepared scope and minimal
  ``receive``/``send``, as a server would call it (no HTTP parsing: the SDK's share stands
  out);
* httpx ``ASGITransport``: the same through an ``httpx.AsyncClient`` (a second, noisier view).

Configurations: the default (request context opened and closed, nothing sent), with a
logged-in user (the ``identify`` hook, identify once per session), and with
``track_requests`` (one event per request, delivered by the client's sender task to the
counting sink of ``benchmarks/sink.py`` in its own process). The last row queues the same
events but lets the sender deliver them only at the end (``aclose``), which isolates what the
middleware and ``track()`` cost inside a request from the sender's work on the same loop.
Target: at most 20 us median added per request.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from middleware_common import TARGET_US, Sink, cpu, p99, version
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpanel_asgi import OpenPanelMiddleware

HERE = Path(__file__).resolve().parent
CLIENT_ID = "3f1c2b7e-8d4a-4c55-9e0f-1a2b3c4d5e6f"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
Call = Callable[[], Awaitable[None]]


def make_app() -> Starlette:
    """A small realistic app: one route with a path parameter and a JSON answer."""

    async def item(request: Request) -> Response:
        return JSONResponse({"id": int(request.path_params["item_id"]), "name": "grinder"})

    return Starlette(routes=[Route("/items/{item_id:int}", item)])


def identify(scope: Mapping[str, Any]) -> Any:
    for name, value in scope["headers"]:
        if name == b"cookie" and value.startswith(b"session=u1"):
            return {"profile_id": "user-1", "email": "ada@example.com"}
    return None


def request_headers(logged_in: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"host", b"shop.example"),
        (b"user-agent", UA.encode()),
        (b"accept", b"application/json"),
        (b"accept-language", b"en-GB,en;q=0.9"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"referer", b"https://shop.example/"),
    ]
    if logged_in:
        headers.append((b"cookie", b"session=u1; theme=dark"))
    return headers


def direct_caller(app: Any, logged_in: bool) -> Call:
    base = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/items/42",
        "raw_path": b"/items/42",
        "root_path": "",
        "query_string": b"ref=bench",
        "headers": request_headers(logged_in),
        "client": ("203.0.113.7", 51234),
        "server": ("10.0.0.2", 8000),
        "state": {},
    }
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: Any) -> None:
        return None

    async def call() -> None:
        await app(dict(base), receive, send)

    return call


def httpx_caller(app: Any, logged_in: bool) -> tuple[Call, httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51234))
    client = httpx.AsyncClient(transport=transport, base_url="https://shop.example")
    headers = {k.decode(): v.decode() for k, v in request_headers(logged_in) if k != b"host"}

    async def call() -> None:
        response = await client.get("/items/42?ref=bench", headers=headers)
        response.raise_for_status()

    return call, client


async def measure(
    plain: Call, instrumented: Call, n: int, block: int = 200
) -> tuple[list[float], list[float], float, float]:
    """Per-request microseconds of both, and each one's loop time per request (us)."""
    for _ in range(min(2000, n)):  # warm up both
        await plain()
        await instrumented()
        await asyncio.sleep(0)
    a: list[float] = []
    b: list[float] = []
    loop_time = [0.0, 0.0]
    clock = time.perf_counter_ns
    gc.collect()
    for start in range(0, n, block):
        count = min(block, n - start)
        for i, (fn, out) in enumerate(((plain, a), (instrumented, b))):
            block_start = clock()
            for _ in range(count):
                t0 = clock()
                await fn()
                out.append((clock() - t0) / 1e3)
                await asyncio.sleep(0)  # the loop's turn: other tasks (the sender) run here
            loop_time[i] += (clock() - block_start) / 1e3
    return a, b, loop_time[0] / n, loop_time[1] / n


async def run(n: int, sink: Sink) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    sent = 0
    configs: list[tuple[str, dict[str, Any], bool]] = [
        ("default (context only)", {}, False),
        ("logged-in user (identify)", {"identify": identify}, True),
        ("track_requests (1 event/request)", {"track_requests": True}, False),
        (
            "track_requests, sender idle until the end",
            {"track_requests": True, "client_options": {"flush_at": 10**6, "flush_interval": 3600}},
            False,
        ),
    ]
    for label, options, logged_in in configs:
        tag = "asgi" if options.get("track_requests") else "other"
        # Every client sends to the local sink, never to the internet.
        mw = OpenPanelMiddleware(
            make_app(),
            client_id=CLIENT_ID,
            client_secret="sec_bench",
            api_url=f"{sink.url}/r/{tag}/fast",
            **options,
        )
        plain_app = make_app()
        for path in ("ASGI direct", "httpx ASGITransport"):
            clients: list[httpx.AsyncClient] = []
            if path == "ASGI direct":
                plain, instrumented = (
                    direct_caller(plain_app, logged_in),
                    direct_caller(mw, logged_in),
                )
            else:
                plain, c1 = httpx_caller(plain_app, logged_in)
                instrumented, c2 = httpx_caller(mw, logged_in)
                clients = [c1, c2]
            a, b, loop_a, loop_b = await measure(plain, instrumented, n)
            for c in clients:
                await c.aclose()
            row: dict[str, Any] = {
                "path": path,
                "config": label,
                "plain_median_us": statistics.median(a),
                "with_median_us": statistics.median(b),
                "plain_p99_us": p99(a),
                "with_p99_us": p99(b),
                "added_median_us": statistics.median(b) - statistics.median(a),
                "added_p99_us": p99(b) - p99(a),
                "added_loop_us": loop_b - loop_a,
            }
            rows.append(row)
            print(
                f"  {path:<20} {label:<34} added median {row['added_median_us']:6.1f} us",
                file=sys.stderr,
            )
        await mw.aclose()  # what the lifespan shutdown does: flush, then close
    sent = sink.events("asgi")
    return rows, sent


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="requests per app and row")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    sink = Sink()
    try:
        rows, sent = asyncio.run(run(args.n, sink))
    finally:
        sink.close()

    print()
    print(f"openpanel-asgi: added latency per request ({args.n:,} requests per app and row)")
    print()
    print(
        "| path | configuration | median without | median with | **added median** "
        "| p99 without | p99 with | added p99 | added loop time per request |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['path']} | {r['config']} | {r['plain_median_us']:.1f} us "
            f"| {r['with_median_us']:.1f} us | **{r['added_median_us']:.1f} us** "
            f"| {r['plain_p99_us']:.1f} us | {r['with_p99_us']:.1f} us "
            f"| {r['added_p99_us']:.1f} us | {r['added_loop_us']:.1f} us |"
        )
    print()
    worst = max(r["added_median_us"] for r in rows if r["path"] == "ASGI direct")
    verdict = "within" if worst <= TARGET_US else "OVER"
    print(
        f"Worst added median (ASGI direct): {worst:.1f} us, {verdict} the {TARGET_US:.0f} us target."
    )
    expected = 4 * (args.n + min(2000, args.n))  # 2 configurations x 2 paths, warm-ups included
    print(f"track_requests events received by the sink: {sent:,} (sent: {expected:,})")
    print(f"Python {sys.version.split()[0]}, Starlette {version('starlette')}, {cpu()}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "sink_events": sent}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
