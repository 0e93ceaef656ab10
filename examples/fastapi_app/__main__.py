"""Run the shop under uvicorn: ``python -m examples.fastapi_app --port 8001``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import uvicorn

from examples.fastapi_app.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.fastapi_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--credentials",
        type=Path,
        help="the reference server's credentials.json (instead of OPENPANEL_CLIENT_ID/_SECRET)",
    )
    args = parser.parse_args(argv)
    client_id = client_secret = None
    if args.credentials:
        creds = json.loads(args.credentials.read_text(encoding="utf-8"))
        client_id, client_secret = creds["clientId"], creds["clientSecret"]
    elif not os.environ.get("OPENPANEL_CLIENT_ID"):
        print("OPENPANEL_CLIENT_ID is not set: OpenPanel is disabled (the shop still runs).")
    app = create_app(client_id=client_id, client_secret=client_secret)
    print(f"Tea shop on http://{args.host}:{args.port}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
