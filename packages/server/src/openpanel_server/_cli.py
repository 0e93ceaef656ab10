"""``openpanel-server``: run the server, manage projects, clients and webhook endpoints."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from openpanel_server._config import Settings
from openpanel_server._meta import MetaStore

if TYPE_CHECKING:
    from openpanel_server._webhook_admin import WebhookAdmin
    from openpanel_server._webhook_store import Endpoint

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
        webhook_allow_subnets=tuple(args.webhook_allow_subnet)
        if getattr(args, "webhook_allow_subnet", None)
        else None,
        webhook_allow_http=True if getattr(args, "webhook_allow_http", False) else None,
        webhook_schedule=_schedule(args.webhook_schedule)
        if getattr(args, "webhook_schedule", None)
        else None,
    )


def _schedule(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SystemExit(
            f"error: --webhook-schedule must be comma-separated seconds: {text!r}"
        ) from None


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
    try:
        if args.action == "create":
            try:
                project = meta.create_project(
                    args.name,
                    args.origin or [],
                    allow_unsafe_revenue=args.allow_unsafe_revenue,
                    timezone=args.timezone,
                )
            except ValueError as exc:
                print(f"error: --timezone: {exc}", file=sys.stderr)
                return 2
            client, secret = meta.create_client(project.id, "default")
            print(
                json.dumps(
                    {
                        "projectId": project.id,
                        "name": project.name,
                        "origins": list(project.cors),
                        "timezone": project.timezone,
                        "clientId": client.id,
                        "clientSecret": secret,
                    },
                    indent=2,
                )
            )
        elif args.action == "update":
            try:
                updated = meta.set_project_timezone(args.project_id, args.timezone)
            except ValueError as exc:
                print(f"error: --timezone: {exc}", file=sys.stderr)
                return 2
            if updated is None:
                print(f"error: no project {args.project_id!r}", file=sys.stderr)
                return 2
            print(f"{updated.id}  {updated.name}  timezone={updated.timezone}")
        else:
            for p in meta.list_projects():
                print(f"{p.id}  {p.name}  origins={','.join(p.cors) or '-'}  timezone={p.timezone}")
    finally:
        meta.close()
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


def _webhook_admin(settings: Settings) -> tuple[MetaStore, WebhookAdmin]:
    from openpanel_server._secretbox import SecretBox, load_or_create_key
    from openpanel_server._webhook_admin import WebhookAdmin
    from openpanel_server._webhook_ssrf import AddressPolicy
    from openpanel_server._webhook_store import WebhookStore

    data_dir = Path(settings.data_dir).resolve()
    meta = MetaStore(data_dir / "meta.db")
    box = SecretBox(load_or_create_key(data_dir / "webhook-secrets.key"))
    policy = AddressPolicy.from_settings(
        settings.webhook_allow_subnets, settings.webhook_allow_http
    )
    return meta, WebhookAdmin(WebhookStore(data_dir / "meta.db", box), policy)


def _print_endpoint(endpoint: Endpoint) -> None:
    state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
    types = ",".join(endpoint.event_types) or "all"
    names = f"  names={','.join(endpoint.event_names)}" if endpoint.event_names else ""
    print(
        f"{endpoint.id}  project={endpoint.project_id}  {endpoint.url}  "
        f"events={types}{names}  {state}"
    )


def _webhook(args: argparse.Namespace) -> int:
    from openpanel_server._webhook_admin import WebhookAdminError
    from openpanel_server._webhook_store import iso

    meta, admin = _webhook_admin(_settings(args))
    try:
        action = args.action
        if action == "create":
            if meta.get_project(args.project) is None:
                print(f"error: no project {args.project!r}", file=sys.stderr)
                return 2
            fields: dict[str, object] = {
                "url": args.url,
                "eventTypes": args.event or [],
                "eventNames": args.event_name or [],
                "description": args.description,
                "legacySignature": not args.no_legacy_signature,
            }
            endpoint, secret = admin.create(args.project, fields)
            print(json.dumps({**endpoint.to_json(), "secret": secret}, indent=2))
        elif action == "list":
            for endpoint in admin.list(args.project):
                _print_endpoint(endpoint)
        elif action == "rotate":
            endpoint, secret = admin.rotate(args.endpoint_id, None, args.grace)
            print(json.dumps({**endpoint.to_json(), "secret": secret}, indent=2))
        elif action in ("enable", "disable"):
            _print_endpoint(admin.set_enabled(args.endpoint_id, None, action == "enable"))
        elif action == "delete":
            admin.delete(args.endpoint_id, None)
            print(f"deleted {args.endpoint_id}")
        elif action == "messages":
            admin.endpoint(args.endpoint_id)
            messages, total = admin.store.list_messages(
                args.endpoint_id,
                state=admin.check_state(args.state),
                limit=args.limit,
            )
            for m in messages:
                print(
                    f"{m.id}  {m.event_type}  {m.state}  attempts={m.attempts}  "
                    f"created={iso(m.created_at)}  next={iso(m.next_attempt_at) or '-'}"
                )
            print(f"({len(messages)} of {total})")
        elif action == "deliveries":
            admin.endpoint(args.endpoint_id)
            attempts, total = admin.store.list_attempts(
                args.endpoint_id,
                message_id=args.message,
                succeeded=None if args.status is None else args.status == "succeeded",
                limit=args.limit,
            )
            if args.json:
                print(json.dumps([a.to_json() for a in attempts], indent=2))
                return 0
            for a in attempts:
                outcome = str(a.status_code) if a.status_code is not None else a.error_kind
                print(
                    f"{iso(a.started_at)}  {a.message_id}  #{a.attempt_no} {a.trigger}  "
                    f"{outcome}  {a.duration_ms:.0f} ms  {a.error or ''}".rstrip()
                )
            print(f"({len(attempts)} of {total})")
        else:  # redeliver
            message = admin.redeliver(args.endpoint_id, None, args.message_id)
            print(
                f"queued {message.id} for redelivery; the running server sends it "
                f"(at {iso(time.time())} or at its next start)"
            )
    except WebhookAdminError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        admin.store.close()
        meta.close()
    return 0


def _add_webhook_policy_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--webhook-allow-subnet",
        action="append",
        metavar="CIDR",
        help="let webhooks reach this network despite the SSRF blocklist, e.g. 127.0.0.0/8 "
        "for local development (repeatable; env OPENPANEL_SERVER_WEBHOOK_ALLOW_SUBNETS, "
        "comma-separated)",
    )
    parser.add_argument(
        "--webhook-allow-http",
        action="store_true",
        help="accept http:// endpoint URLs, not only https:// "
        "(env OPENPANEL_SERVER_WEBHOOK_ALLOW_HTTP)",
    )


def _webhook_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    webhook = sub.add_parser(
        "webhook",
        help="manage webhook endpoints and their deliveries",
        description="Webhook endpoints of a project: signed (Standard Webhooks) deliveries of "
        "event.created, session.started, session.ended, profile.identified and profile.updated. "
        "Changes apply to a running server within a second.",
    )
    w_sub = webhook.add_subparsers(dest="action", required=True)
    create = w_sub.add_parser(
        "create",
        help="create an endpoint (prints its secret once)",
        description="Create an endpoint. The URL is checked (https, no private or local "
        "address) and its whsec_ secret is printed once.",
    )
    create.add_argument("url", help="where deliveries are POSTed")
    create.add_argument("--project", required=True, help="the project id")
    create.add_argument(
        "--event",
        action="append",
        metavar="TYPE",
        help="an event type to receive (repeatable; default all): event.created, "
        "session.started, session.ended, profile.identified, profile.updated",
    )
    create.add_argument(
        "--event-name",
        action="append",
        metavar="NAME",
        help="only these event names trigger event.created (repeatable; default all)",
    )
    create.add_argument("--description", default="", help="a note for people")
    create.add_argument(
        "--no-legacy-signature",
        action="store_true",
        help="send only the Standard Webhooks headers, not X-OpenPanel-Signature/-Event",
    )
    _add_webhook_policy_flags(create)
    w_list = w_sub.add_parser("list", help="list endpoints", description="List endpoints.")
    w_list.add_argument("--project", help="only this project's")
    rotate = w_sub.add_parser(
        "rotate",
        help="give an endpoint a new secret (prints it once)",
        description="Rotate the secret. Deliveries carry a signature with the old secret too "
        "until the grace period ends, so receivers can switch without losing any.",
    )
    rotate.add_argument("endpoint_id")
    rotate.add_argument(
        "--grace",
        type=float,
        default=86400,
        metavar="SECONDS",
        help="how long the old secret keeps signing (0 to 604800; default 86400)",
    )
    for name, text in (
        ("enable", "enable an endpoint (queued messages resume, the failure clock restarts)"),
        ("disable", "disable an endpoint (messages wait until it is enabled)"),
        ("delete", "delete an endpoint with its queue and delivery log"),
    ):
        cmd = w_sub.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        cmd.add_argument("endpoint_id")
    messages = w_sub.add_parser(
        "messages", help="list an endpoint's messages", description="List messages, newest first."
    )
    messages.add_argument("endpoint_id")
    messages.add_argument("--state", choices=["pending", "succeeded", "failed", "exhausted"])
    messages.add_argument("--limit", type=int, default=50)
    deliveries = w_sub.add_parser(
        "deliveries",
        help="the delivery log of an endpoint",
        description="Every attempt, newest first: status or error, latency, trigger.",
    )
    deliveries.add_argument("endpoint_id")
    deliveries.add_argument("--status", choices=["succeeded", "failed"])
    deliveries.add_argument("--message", metavar="MESSAGE_ID", help="one message's attempts")
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.add_argument("--json", action="store_true", help="JSON, with response bodies")
    redeliver = w_sub.add_parser(
        "redeliver",
        help="send a stored message again",
        description="Queue a manual redelivery: the stored bytes with the same webhook-id and "
        "a fresh timestamp and signature, sent by the running server.",
    )
    redeliver.add_argument("endpoint_id")
    redeliver.add_argument("message_id")
    webhook.set_defaults(run=_webhook)


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
    _add_webhook_policy_flags(serve)
    serve.add_argument(
        "--webhook-schedule",
        metavar="SECONDS,...",
        help="seconds before each delivery attempt (env OPENPANEL_SERVER_WEBHOOK_SCHEDULE; "
        "default 0,5,300,1800,7200,18000,36000,36000)",
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
    create.add_argument(
        "--timezone",
        default="UTC",
        metavar="IANA_NAME",
        help="the timezone of the project's analytics days, weeks and months, e.g. "
        "Europe/Berlin (default UTC)",
    )
    update = project_sub.add_parser(
        "update",
        help="change a project's settings",
        description="Change a project's timezone. A running server uses it from its next "
        "analytics query.",
    )
    update.add_argument("project_id")
    update.add_argument(
        "--timezone", required=True, metavar="IANA_NAME", help="e.g. Europe/Berlin or UTC"
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
    _webhook_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openpanel-server``."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
