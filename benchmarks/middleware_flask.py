"""What openpanel-flask adds to each request: the same Flask app with and without the extension.

Run from the repository root::

    .tools/bin/uv run --no-sync python benchmarks/middleware_flask.py           # about 1 minute
    .tools/bin/uv run --no-sync python benchmarks/middleware_flask.py --n 5000  # quicker

Each row times one request at a time, alternating between the plain app and the instrumented
app in small blocks (so drift such as CPU frequency or other processes hits both alike), and
prints the median and p99 of both and their difference (the added latency). Rows:

* WSGI direct: ``app(environ, start_response)`` with a prepared environ, the body consumed
  and closed, as a WSGI server would (no HTTP parsing: the SDK's share stands out);
* ``app.test_client()``: the same through Werkzeug's test client (a second, noisier view).

Configurations: the default (request context opened and closed, nothing sent), with a
logged-in user (the ``identify`` callable, identify once per session), and with
``OPENPANEL_TRACK_REQUESTS`` (one event per request, delivered by the client's sender thread to
the counting sink of ``benchmarks/sink.py`` in its own process). Target: at most 20 us median
added per request.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, session
from middleware_common import TARGET_US, Sink, cpu, measure, p99, version
from werkzeug.test import EnvironBuilder

from openpanel_flask import OpenPanel

HERE = Path(__file__).resolve().parent
CLIENT_ID = "3f1c2b7e-8d4a-4c55-9e0f-1a2b3c4d5e6f"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


def make_app(config: dict[str, Any] | None, *, instrumented: bool, identify: bool = False) -> Flask:
    """A small realistic app: one route with a path parameter and a JSON answer."""
    app = Flask("bench")
    app.config.from_mapping(
        SECRET_KEY="bench-secret",
        OPENPANEL_CLIENT_ID=CLIENT_ID,
        OPENPANEL_CLIENT_SECRET="sec_bench",
        **(config or {}),
    )

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "grinder"}

    @app.get("/login")
    def login() -> str:
        session["user"] = {"id": "user-1", "email": "ada@example.com"}
        return "ok"

    def profile() -> Any:
        user = session.get("user")
        return None if user is None else {"profile_id": user["id"], "email": user["email"]}

    if instrumented:
        OpenPanel(app, identify=profile if identify else None)
    return app


def session_cookie(app: Flask) -> str:
    response = app.test_client().get("/login")
    return response.headers["Set-Cookie"].split(";", 1)[0]


def wsgi_caller(app: Flask, cookie: str | None) -> Callable[[], None]:
    headers: list[tuple[str, str]] = [("User-Agent", UA), ("Accept", "application/json")]
    if cookie:
        headers.append(("Cookie", cookie))
    base = EnvironBuilder(
        path="/items/42",
        headers=headers,
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    ).get_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    def call() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = app(environ, start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return call


def test_client_caller(app: Flask, cookie: str | None) -> Callable[[], None]:
    client = app.test_client()
    headers = {"User-Agent": UA}
    if cookie:  # the test client sends cookies from its own jar only
        name, value = cookie.split("=", 1)
        client.set_cookie(name, value)

    def call() -> None:
        client.get("/items/42", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.7"})

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="requests per app and row")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    sink = Sink()
    rows: list[dict[str, Any]] = []
    try:
        configs: list[tuple[str, dict[str, Any], bool]] = [
            ("default (context only)", {}, False),
            ("logged-in user (identify)", {}, True),
            ("track_requests (1 event/request)", {}, False),
        ]
        for label, config, logged_in in configs:
            # Every client sends to the local sink, never to the internet.
            config = {**config, "OPENPANEL_API_URL": f"{sink.url}/r/other/fast"}
            if label.startswith("track_requests"):
                config["OPENPANEL_TRACK_REQUESTS"] = True
                config["OPENPANEL_API_URL"] = f"{sink.url}/r/flask/fast"
            plain_app = make_app(config, instrumented=False)
            op_app = make_app(config, instrumented=True, identify=logged_in)
            cookie = session_cookie(plain_app) if logged_in else None
            for path, build in (("WSGI direct", wsgi_caller), ("test_client", test_client_caller)):
                a, b = measure(build(plain_app, cookie), build(op_app, cookie), args.n)
                plain_median, with_median = statistics.median(a), statistics.median(b)
                row: dict[str, Any] = {
                    "path": path,
                    "config": label,
                    "plain_median_us": plain_median,
                    "with_median_us": with_median,
                    "added_median_us": with_median - plain_median,
                    "plain_p99_us": p99(a),
                    "with_p99_us": p99(b),
                    "added_p99_us": p99(b) - p99(a),
                }
                rows.append(row)
                print(
                    f"  {path:<12} {label:<34} added median {row['added_median_us']:6.1f} us",
                    file=sys.stderr,
                )
            state = op_app.extensions["openpanel"]
            state.client.flush(10)
            state.close(5)
        sent = sink.events("flask")
    finally:
        sink.close()

    print()
    print(f"openpanel-flask: added latency per request ({args.n:,} requests per app and row)")
    print()
    print(
        "| path | configuration | median without | median with | **added median** "
        "| p99 without | p99 with | added p99 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['path']} | {r['config']} | {r['plain_median_us']:.1f} us "
            f"| {r['with_median_us']:.1f} us | **{r['added_median_us']:.1f} us** "
            f"| {r['plain_p99_us']:.1f} us | {r['with_p99_us']:.1f} us "
            f"| {r['added_p99_us']:.1f} us |"
        )
    print()
    for r in rows:
        if r["path"] == "WSGI direct":
            verdict = "within" if r["added_median_us"] <= TARGET_US else "over"
            print(
                f"{r['config']}: {r['added_median_us']:.1f} us added median, {verdict} the "
                f"{TARGET_US:.0f} us target"
            )
    print(
        "(track_requests includes the sender thread's share of the GIL for delivering one "
        "event per request to the sink)"
    )
    expected = 2 * (args.n + min(2000, args.n))  # both paths, warm-up included
    print(f"track_requests events received by the sink: {sent:,} (sent: {expected:,})")
    print(f"Python {sys.version.split()[0]}, Flask {version('flask')}, {cpu()}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "sink_events": sent}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
