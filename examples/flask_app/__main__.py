"""Serve the Flask example shop: ``python -m examples.flask_app --port 5001``.

Credentials come from the environment (``OPENPANEL_CLIENT_ID``, ``OPENPANEL_CLIENT_SECRET``,
``OPENPANEL_API_URL``, default http://127.0.0.1:3333) or from the ``credentials.json`` that the
reference server writes at its first start (``--credentials``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from examples.flask_app import create_app, openpanel
from openpanel_core import ConfigurationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.flask_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument(
        "--credentials",
        type=Path,
        help="the reference server's credentials.json (instead of OPENPANEL_CLIENT_ID/SECRET)",
    )
    parser.add_argument("--debug", action="store_true", help="Flask debug mode (reloader off)")
    args = parser.parse_args(argv)

    config: dict[str, object] = {}
    if args.credentials is not None:
        creds = json.loads(args.credentials.read_text(encoding="utf-8"))
        config["OPENPANEL_CLIENT_ID"] = creds["clientId"]
        config["OPENPANEL_CLIENT_SECRET"] = creds.get("clientSecret") or None
    try:
        app = create_app(config)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(
            "Start the reference server (see examples/flask_app/README.md), then pass "
            "--credentials <data-dir>/credentials.json or set OPENPANEL_CLIENT_ID.",
            file=sys.stderr,
        )
        return 2
    api_url = openpanel.state(app).config.api_url
    print(f"Shop on http://{args.host}:{args.port}  (events to {api_url})")
    try:
        app.run(host=args.host, port=args.port, debug=args.debug, use_reloader=False)
    finally:
        openpanel.shutdown(app, timeout=2.0)  # send what is still queued
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
