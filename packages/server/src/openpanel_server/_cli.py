"""``openpanel-server``: run the server, manage projects and clients."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from openpanel_server._config import Settings
from openpanel_server._meta import MetaStore

__all__ = ["main"]

DEFAULT_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_dir=Path(args.data_dir) if args.data_dir else None,
        clickhouse_url=getattr(args, "clickhouse_url", None),
        cluster=True if getattr(args, "cluster", False) else None,
        trust_proxy_headers=True if getattr(args, "trust_proxy_headers", False) else None,
        rate_limit=getattr(args, "rate_limit", None),
        session_timeout=getattr(args, "session_timeout", None),
        geoip_db=Path(args.geoip_db) if getattr(args, "geoip_db", None) else None,
    )


def _meta(settings: Settings) -> MetaStore:
    return MetaStore(Path(settings.data_dir).resolve() / "meta.db")


def ensure_default_project(meta: MetaStore, data_dir: Path) -> dict[str, str] | None:
    """On first start: a default project and client; their credentials (shown once)."""
    if meta.list_projects():
        return None
    project = meta.create_project("Default", DEFAULT_ORIGINS)
    client, secret = meta.create_client(project.id, "default")
    reader, read_secret = meta.create_client(project.id, "export", type="read")
    creds = {
        "projectId": project.id,
        "clientId": client.id,
        "clientSecret": secret or "",
        "readClientId": reader.id,
        "readClientSecret": read_secret or "",
    }
    path = data_dir / "credentials.json"
    path.write_text(json.dumps(creds, indent=2) + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return creds


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from openpanel_server._app import create_app
    from openpanel_server._server import Server

    settings = _settings(args)
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = Server(settings)
    creds = ensure_default_project(server.meta, data_dir)
    if creds:
        print("Created the default project (first start). Keep the secret: it is not shown again.")
        print(f"  project id:    {creds['projectId']}")
        print(f"  client id:     {creds['clientId']}")
        print(f"  client secret: {creds['clientSecret']}")
        print(f"  read client:   {creds['readClientId']} (for /export)")
        print(f"  (also in {data_dir / 'credentials.json'})")
    print(f"OpenPanel server on http://{settings.host}:{settings.port} (data in {data_dir})")
    sys.stdout.flush()
    # Long-lived startup objects leave the collector's view, and young collections run less
    # often: ingestion allocates many short-lived, acyclic objects per request.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(
        create_app(server),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        workers=1,
    )
    return 0


def _project(args: argparse.Namespace) -> int:
    meta = _meta(_settings(args))
    if args.action == "create":
        project = meta.create_project(
            args.name, args.origin or [], allow_unsafe_revenue=args.allow_unsafe_revenue
        )
        client, secret = meta.create_client(project.id, "default")
        print(
            json.dumps(
                {
                    "projectId": project.id,
                    "name": project.name,
                    "origins": list(project.cors),
                    "clientId": client.id,
                    "clientSecret": secret,
                },
                indent=2,
            )
        )
    else:
        for p in meta.list_projects():
            print(f"{p.id}  {p.name}  origins={','.join(p.cors) or '-'}")
    return 0


def _client(args: argparse.Namespace) -> int:
    meta = _meta(_settings(args))
    if args.action == "create":
        try:
            client, secret = meta.create_client(
                args.project, args.name, type=args.type, with_secret=not args.no_secret
            )
        except KeyError:
            print(f"error: no project {args.project!r}", file=sys.stderr)
            return 2
        print(
            json.dumps(
                {
                    "clientId": client.id,
                    "projectId": client.project_id,
                    "type": client.type,
                    "clientSecret": secret,
                },
                indent=2,
            )
        )
    elif args.action == "list":
        for c in meta.list_clients(args.project):
            state = "revoked" if c.revoked else "active"
            print(
                f"{c.id}  project={c.project_id}  {c.type}  {c.name}  "
                f"{'secret' if c.has_secret else 'no-secret'}  {state}"
            )
    else:
        if not meta.revoke_client(args.client_id):
            print(f"error: no client {args.client_id!r}", file=sys.stderr)
            return 2
        print(f"revoked {args.client_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (every option also reads ``OPENPANEL_SERVER_*``)."""
    parser = argparse.ArgumentParser(
        prog="openpanel-server",
        description="OpenPanel-compatible ingestion server on embedded ClickHouse (chDB).",
    )
    parser.add_argument(
        "--data-dir", help="data folder (env OPENPANEL_SERVER_DATA_DIR; default ./.openpanel-data)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="interface (env OPENPANEL_SERVER_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env OPENPANEL_SERVER_PORT; default 3333)")
    serve.add_argument(
        "--clickhouse-url",
        help="a ClickHouse server/cluster DSN instead of "
        "the embedded store (env OPENPANEL_SERVER_CLICKHOUSE_URL)",
    )
    serve.add_argument(
        "--cluster",
        action="store_true",
        help="with --clickhouse-url: "
        "Distributed tables over replicated ones (env OPENPANEL_SERVER_CLUSTER)",
    )
    serve.add_argument(
        "--trust-proxy-headers",
        action="store_true",
        help="take the client IP from x-forwarded-for and friends "
        "(env OPENPANEL_SERVER_TRUST_PROXY_HEADERS)",
    )
    serve.add_argument(
        "--rate-limit",
        type=float,
        help="requests/s per client, 0 = off (env OPENPANEL_SERVER_RATE_LIMIT)",
    )
    serve.add_argument(
        "--session-timeout",
        type=float,
        help="seconds of inactivity that end "
        "a session (env OPENPANEL_SERVER_SESSION_TIMEOUT; default 1800)",
    )
    serve.add_argument(
        "--geoip-db",
        help="MaxMind-format city database for geo lookups "
        "(env OPENPANEL_SERVER_GEOIP_DB; default <data dir>/GeoLite2-City.mmdb "
        "when present)",
    )
    serve.set_defaults(run=_serve)

    project = sub.add_parser("project", help="manage projects")
    project_sub = project.add_subparsers(dest="action", required=True)
    create = project_sub.add_parser("create", help="create a project and its first client")
    create.add_argument("name")
    create.add_argument(
        "--origin",
        action="append",
        help="allowed browser origin (repeatable; wildcards like https://*.example.com; * for any)",
    )
    create.add_argument(
        "--allow-unsafe-revenue",
        action="store_true",
        help="accept revenue events from browsers (no secret)",
    )
    project_sub.add_parser("list", help="list projects")
    project.set_defaults(run=_project)

    client = sub.add_parser("client", help="manage API clients")
    client_sub = client.add_subparsers(dest="action", required=True)
    c_create = client_sub.add_parser("create", help="create a client")
    c_create.add_argument("--project", required=True)
    c_create.add_argument("--name", default="client")
    c_create.add_argument("--type", choices=["write", "read", "root"], default="write")
    c_create.add_argument("--no-secret", action="store_true", help="browser-only client")
    c_list = client_sub.add_parser("list", help="list clients")
    c_list.add_argument("--project")
    c_revoke = client_sub.add_parser("revoke", help="revoke a client")
    c_revoke.add_argument("client_id")
    client.set_defaults(run=_client)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openpanel-server``."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
