"""Serve the Django example shop: ``python -m examples.django_app --port 8000``.

Credentials come from the environment (``OPENPANEL_CLIENT_ID``, ``OPENPANEL_CLIENT_SECRET``,
``OPENPANEL_API_URL``, default http://127.0.0.1:3333), from the ``credentials.json`` that the
reference server writes at its first start (``--credentials``), or from a reference server
this command starts itself (``--with-server DATA_DIR``). The database (auth and sessions) is
migrated and the demo user ``demo`` / ``demo-password`` created on start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

DEMO_USER = {"username": "demo", "password": "demo-password"}


def start_reference_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Run ``openpanel-server`` in a subprocess and wait until it answers."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "openpanel_server"),
            *("--data-dir", str(data_dir), "serve", "--port", str(port)),
        ]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the reference server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the reference server did not start within 60 s")


def use_credentials(path: Path) -> None:
    creds = json.loads(path.read_text(encoding="utf-8"))
    os.environ["OPENPANEL_CLIENT_ID"] = creds["clientId"]
    os.environ["OPENPANEL_CLIENT_SECRET"] = creds.get("clientSecret") or ""


def prepare_database() -> None:
    """Create the auth and session tables and the demo user."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_USER["username"],
        defaults={"first_name": "Demo", "last_name": "Customer", "email": "demo@example.com"},
    )
    if created:
        user.set_password(DEMO_USER["password"])
        user.save()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.django_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--db", type=Path, help="SQLite file (default examples/django_app/.data)")
    parser.add_argument(
        "--credentials",
        type=Path,
        help="the reference server's credentials.json (instead of OPENPANEL_CLIENT_ID/SECRET)",
    )
    parser.add_argument(
        "--with-server",
        type=Path,
        metavar="DATA_DIR",
        help="also start the reference server with this data folder (port --server-port)",
    )
    parser.add_argument("--server-port", type=int, default=3333)
    args = parser.parse_args(argv)

    server: subprocess.Popen[bytes] | None = None
    if args.with_server is not None:
        server = start_reference_server(args.with_server, args.server_port)
        os.environ["OPENPANEL_API_URL"] = f"http://127.0.0.1:{args.server_port}"
        use_credentials(args.with_server / "credentials.json")
    elif args.credentials is not None:
        use_credentials(args.credentials)
    db = args.db or Path(__file__).resolve().parent / ".data" / "db.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    os.environ["DJANGO_APP_DB"] = str(db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

    import django
    from django.core.management import call_command

    django.setup()
    prepare_database()
    import openpanel_django

    config = openpanel_django.get_config()
    if config.disabled:
        print(
            "OpenPanel is off: set OPENPANEL_CLIENT_ID (or pass --credentials / --with-server); "
            "see examples/django_app/README.md",
            file=sys.stderr,
        )
    else:
        print(f"Events go to {config.api_url} (client {config.client_id})")
    # SIGTERM ends the process like Ctrl-C, so queued events are sent at exit.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        call_command("runserver", f"{args.host}:{args.port}", use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        openpanel_django.get_client().shutdown(5.0)
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)
            server.wait(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
