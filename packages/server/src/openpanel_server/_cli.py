"""``openpanel-server``: the server, its projects, clients, webhooks, exports and migrations.

Every command reports a failure as one line on stderr (``error: <what>: <why> (hint: ...)``,
see :mod:`openpanel_server._cli_errors`); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from openpanel_server._cli_errors import (
    EXIT_USAGE,
    CliError,
    data_folder_in_use,
    debug_from_env,
    format_error,
    require_data_folder,
    run_command,
)
from openpanel_server._config import Settings
from openpanel_server._meta import MetaStore

if TYPE_CHECKING:
    from openpanel_server._webhook_admin import WebhookAdmin
    from openpanel_server._webhook_store import Endpoint

    _Sub = argparse._SubParsersAction[Any]  # pyright: ignore[reportPrivateUsage]

__all__ = ["build_parser", "main"]

DEFAULT_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
_FORMATTER = argparse.RawDescriptionHelpFormatter
_BAD_VALUE = EXIT_USAGE  # a bad option value or an unknown id: the caller must change the command


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``error: ... (hint: ...)``)."""

    def error(self, message: str) -> NoReturn:
        hint = f"see '{self.prog} --help'"
        self.exit(EXIT_USAGE, format_error(self.prog, message, hint) + "\n")


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None,
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
            ingest_workers=getattr(args, "ingest_workers", None),
        )
    except ValueError as exc:  # an OPENPANEL_SERVER_* variable that is not a number
        raise _bad_environment(exc) from None


def _bad_environment(exc: ValueError) -> CliError:
    """Name the ``OPENPANEL_SERVER_*`` variable whose value :class:`Settings` refused."""
    from dataclasses import fields

    from openpanel_server._config import _coerce  # pyright: ignore[reportPrivateUsage]

    for f in fields(Settings):
        name = f"OPENPANEL_SERVER_{f.name.upper()}"
        raw = os.environ.get(name)
        if raw is None:
            continue
        try:
            _coerce(f.name, raw)
        except ValueError:
            return CliError(
                name,
                f"bad value {raw!r}",
                "fix or unset it (see 'openpanel-server serve --help' for what it takes)",
                code=_BAD_VALUE,
            )
    return CliError("environment", str(exc), "check the OPENPANEL_SERVER_* variables", code=2)


def _schedule(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CliError(
            "--webhook-schedule",
            f"not comma-separated seconds: {text!r}",
            "e.g. --webhook-schedule 0,5,300,1800",
            code=_BAD_VALUE,
        ) from None


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(_settings(args).data_dir).resolve()


def _meta(args: argparse.Namespace, *, create: bool = False) -> MetaStore:
    """The metadata database of the data folder (refused when the folder does not exist)."""
    data_dir = _data_dir(args)
    if not create:
        require_data_folder(data_dir, f"{args.command} {args.action}")
    return MetaStore(data_dir / "meta.db")


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


def _check_port(host: str, port: int) -> None:
    """Refuse a port another process listens on before the slow part of the start."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CliError(
            "serve", f"cannot resolve --host {host!r}: {exc}", "use an IP address", code=2
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    "serve",
                    f"port {port} on {host} is in use",
                    "stop what listens there, or choose another --port",
                ) from None
            if exc.errno == errno.EACCES:
                raise CliError(
                    "serve",
                    f"not allowed to listen on port {port}",
                    "ports below 1024 need privileges; choose another --port",
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise CliError(
                    "serve",
                    f"{host} is not an address of this machine",
                    "use 127.0.0.1, 0.0.0.0 or one of this machine's addresses for --host",
                    code=2,
                ) from None
            raise


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from openpanel_server._app import create_app
    from openpanel_server._server import Server

    settings = _settings(args)
    if settings.ingest_workers < -1:
        raise CliError(
            "--ingest-workers",
            f"must be -1 (auto), 0 (off) or a number of processes, not {settings.ingest_workers}",
            "e.g. --ingest-workers 2",
            code=_BAD_VALUE,
        )
    data_dir = Path(settings.data_dir).resolve()
    if not settings.clickhouse_url and data_folder_in_use(data_dir):
        raise CliError(
            "serve",
            f"another server is running on {data_dir} (the embedded store takes one process)",
            "stop it, or pass another --data-dir",
        )
    _check_port(settings.host, settings.port)
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


def _bad_timezone(exc: ValueError) -> CliError:
    return CliError(
        "--timezone",
        str(exc),
        "names come from the IANA tz database (Area/City)",
        code=_BAD_VALUE,
    )


def _no_project(project_id: str) -> CliError:
    return CliError(
        "project",
        f"no project {project_id!r}",
        "'openpanel-server project list' shows the ids",
        code=_BAD_VALUE,
    )


def _project(args: argparse.Namespace) -> int:
    meta = _meta(args, create=args.action == "create")
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
                raise _bad_timezone(exc) from None
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
                raise _bad_timezone(exc) from None
            if updated is None:
                raise _no_project(args.project_id)
            print(f"{updated.id}  {updated.name}  timezone={updated.timezone}")
        else:
            for p in meta.list_projects():
                print(f"{p.id}  {p.name}  origins={','.join(p.cors) or '-'}  timezone={p.timezone}")
    finally:
        meta.close()
    return 0


def _client(args: argparse.Namespace) -> int:
    meta = _meta(args)
    try:
        if args.action == "create":
            try:
                client, secret = meta.create_client(
                    args.project, args.name, type=args.type, with_secret=not args.no_secret
                )
            except KeyError:
                raise _no_project(args.project) from None
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
            if args.project and meta.get_project(args.project) is None:
                raise _no_project(args.project)
            for c in meta.list_clients(args.project):
                state = "revoked" if c.revoked else "active"
                print(
                    f"{c.id}  project={c.project_id}  {c.type}  {c.name}  "
                    f"{'secret' if c.has_secret else 'no-secret'}  {state}"
                )
        else:
            if not meta.revoke_client(args.client_id):
                raise CliError(
                    "client",
                    f"no client {args.client_id!r}",
                    "'openpanel-server client list' shows the ids",
                    code=_BAD_VALUE,
                )
            print(f"revoked {args.client_id}")
    finally:
        meta.close()
    return 0


def _webhook_admin(args: argparse.Namespace) -> tuple[MetaStore, WebhookAdmin]:
    from openpanel_server._secretbox import SecretBox, load_or_create_key
    from openpanel_server._webhook_admin import WebhookAdmin
    from openpanel_server._webhook_ssrf import AddressPolicy
    from openpanel_server._webhook_store import WebhookStore

    settings = _settings(args)
    data_dir = Path(settings.data_dir).resolve()
    require_data_folder(data_dir, f"webhook {args.action}")
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


_WEBHOOK_HINTS = {
    "endpointId": "'openpanel-server webhook list' shows the ids",
    "messageId": "'openpanel-server webhook messages <endpoint id>' shows the ids",
    "url": "an https:// URL on a public address (see --webhook-allow-http and "
    "--webhook-allow-subnet for local development)",
}


def _webhook(args: argparse.Namespace) -> int:
    from openpanel_server._webhook_admin import WebhookAdminError
    from openpanel_server._webhook_store import iso

    action = args.action
    meta, admin = _webhook_admin(args)
    try:
        if action == "create":
            if meta.get_project(args.project) is None:
                raise _no_project(args.project)
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
            if args.project and meta.get_project(args.project) is None:
                raise _no_project(args.project)
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
        hint = _WEBHOOK_HINTS.get(exc.field, f"see 'openpanel-server webhook {action} --help'")
        raise CliError(exc.field, exc.message, hint, code=_BAD_VALUE) from None
    finally:
        admin.store.close()
        meta.close()
    return 0


def _credentials(args: argparse.Namespace) -> None:
    """Check ``--url``; ``--client-id``/``--client-secret``, or ``OPENPANEL_CLIENT_ID``/``_SECRET``."""
    from urllib.parse import urlsplit

    url: str = args.url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(
            "--url",
            f"not an http(s) URL: {args.url!r}",
            "e.g. --url http://127.0.0.1:3333",
            code=EXIT_USAGE,
        )
    for option, env in (
        ("client_id", "OPENPANEL_CLIENT_ID"),
        ("client_secret", "OPENPANEL_CLIENT_SECRET"),
    ):
        value = getattr(args, option) or os.environ.get(env, "")
        if not value:
            flag = "--" + option.replace("_", "-")
            raise CliError(
                f"{args.command}",
                f"{flag} is required",
                f"pass {flag} or set {env}",
                code=EXIT_USAGE,
            )
        setattr(args, option, value)


def _export(args: argparse.Namespace) -> int:
    from openpanel_server._cli_export import run_export

    _credentials(args)
    return run_export(args)


def _import(args: argparse.Namespace) -> int:
    from openpanel_server._cli_import import run_import

    _credentials(args)
    if not 1 <= args.batch_size <= 2000:
        raise CliError(
            "--batch-size", "must be 1 to 2000 items", "the default is 1000", code=_BAD_VALUE
        )
    return run_import(args)


def _migrate(args: argparse.Namespace) -> int:
    from openpanel_server._cli_migrate import run_migrate

    return run_migrate(_settings(args), quiet=args.quiet)


# ------------------------------------------------------------------------------ the parser


def _command(
    sub: _Sub,
    name: str,
    help_text: str,
    description: str,
    examples: Sequence[str] = (),
) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=_examples(*examples) if examples else None,
        formatter_class=_FORMATTER,
    )
    return parser


def _local_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` after the command as well as before it."""
    parser.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="the server's data folder, as the global --data-dir (env "
        "OPENPANEL_SERVER_DATA_DIR; default ./.openpanel-data)",
    )


def _add_progress_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print no progress or summary (errors only)"
    )
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, a progress line every SECONDS (a terminal gets "
        "one updating line)",
    )


def _add_remote_flags(parser: argparse.ArgumentParser, client_kind: str) -> None:
    parser.add_argument(
        "--url",
        required=True,
        help="the running server, e.g. http://127.0.0.1:3333",
    )
    parser.add_argument(
        "--client-id", help=f"a {client_kind} client's id (env OPENPANEL_CLIENT_ID)"
    )
    parser.add_argument(
        "--client-secret",
        help="that client's secret (env OPENPANEL_CLIENT_SECRET; prefer the variable: "
        "a command line is visible to other users of the machine)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds to wait for the server's next bytes",
    )


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


def _serve_parser(sub: _Sub) -> None:
    serve = _command(
        sub,
        "serve",
        "run the server",
        "Run the ingestion and analytics server (OpenPanel's /track, /track/batch, /export, "
        "the analytics API and the dashboard). The first start in a data folder creates a "
        "Default project and prints its client ids and secrets once (also written to "
        "<data dir>/credentials.json). Every option also reads an OPENPANEL_SERVER_* "
        "variable; a flag wins over it. Stop it with Ctrl-C or SIGTERM: acknowledged events "
        "are in the write-ahead log, so nothing is lost.",
        (
            "openpanel-server serve",
            "openpanel-server --data-dir /var/lib/openpanel serve --host 0.0.0.0 --port 8080",
            "openpanel-server serve --rate-limit 100 --geoip-db GeoLite2-City.mmdb",
            "OPENPANEL_SERVER_CLICKHOUSE_URL=https://user:pw@ch:8443/openpanel "
            "openpanel-server serve --cluster",
        ),
    )
    _local_data_dir(serve)
    serve.add_argument("--host", help="interface (env OPENPANEL_SERVER_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env OPENPANEL_SERVER_PORT; default 3333)")
    serve.add_argument(
        "--clickhouse-url",
        metavar="URL",
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
        metavar="PER_SECOND",
        help="requests/s per client, 0 = off (env OPENPANEL_SERVER_RATE_LIMIT)",
    )
    serve.add_argument(
        "--session-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds of inactivity that end "
        "a session (env OPENPANEL_SERVER_SESSION_TIMEOUT; default 1800)",
    )
    serve.add_argument(
        "--geoip-db",
        metavar="PATH",
        help="MaxMind-format city database for geo lookups "
        "(env OPENPANEL_SERVER_GEOIP_DB; default <data dir>/GeoLite2-City.mmdb "
        "when present)",
    )
    serve.add_argument(
        "--ingest-workers",
        type=int,
        metavar="N",
        help="worker processes that parse, validate and prepare large /track/batch bodies "
        "while the server process keeps the data: -1 = auto (one per core but one, at most "
        "4), 0 = off, everything in the server process (env OPENPANEL_SERVER_INGEST_WORKERS; "
        "default -1)",
    )
    _add_webhook_policy_flags(serve)
    serve.add_argument(
        "--webhook-schedule",
        metavar="SECONDS,...",
        help="seconds before each delivery attempt (env OPENPANEL_SERVER_WEBHOOK_SCHEDULE; "
        "default 0,5,300,1800,7200,18000,36000,36000)",
    )
    serve.set_defaults(run=_serve)


def _project_parser(sub: _Sub) -> None:
    project = _command(
        sub,
        "project",
        "manage projects",
        "Projects: each has its own events, clients, browser origins and timezone. Works on "
        "the data folder directly, also while the server runs.",
        ("openpanel-server project list", "openpanel-server project create Shop --help"),
    )
    project_sub = project.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _command(
        project_sub,
        "create",
        "create a project and its first client",
        "Create a project and a write client for it; prints the ids and the client's secret "
        "(shown once). Allowed browser origins may send events without a secret.",
        (
            "openpanel-server project create Shop --origin https://shop.example",
            "openpanel-server project create Shop --origin 'https://*.shop.example' "
            "--timezone Europe/Berlin",
        ),
    )
    _local_data_dir(create)
    create.add_argument("name", help="the project's name (for people)")
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
    update = _command(
        project_sub,
        "update",
        "change a project's settings",
        "Change a project's timezone. A running server uses it from its next analytics query.",
        ("openpanel-server project update 1a2b3c4d5e6f --timezone America/New_York",),
    )
    _local_data_dir(update)
    update.add_argument("project_id", help="the project's id ('project list' shows them)")
    update.add_argument(
        "--timezone", required=True, metavar="IANA_NAME", help="e.g. Europe/Berlin or UTC"
    )
    listing = _command(
        project_sub,
        "list",
        "list projects",
        "List projects: id, name, browser origins and timezone, oldest first.",
        ("openpanel-server project list",),
    )
    _local_data_dir(listing)
    project.set_defaults(run=_project)


def _client_parser(sub: _Sub) -> None:
    client = _command(
        sub,
        "client",
        "manage API clients",
        "API clients of a project: write clients send events, read clients export and query, "
        "root clients also manage webhooks. Works on the data folder directly, also while the "
        "server runs.",
        ("openpanel-server client list", "openpanel-server client create --help"),
    )
    client_sub = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    c_create = _command(
        client_sub,
        "create",
        "create a client",
        "Create a client; prints its id and secret (shown once, stored as a scrypt hash).",
        (
            "openpanel-server client create --project 1a2b3c4d5e6f --type read --name export",
            "openpanel-server client create --project 1a2b3c4d5e6f --no-secret --name browser",
        ),
    )
    _local_data_dir(c_create)
    c_create.add_argument("--project", required=True, help="the project's id")
    c_create.add_argument("--name", default="client", help="a name for people")
    c_create.add_argument(
        "--type",
        choices=["write", "read", "root"],
        default="write",
        help="write: send events; read: export and query; root: also manage webhooks",
    )
    c_create.add_argument(
        "--no-secret", action="store_true", help="browser-only client (no secret)"
    )
    c_list = _command(
        client_sub,
        "list",
        "list clients",
        "List clients: id, project, type, name, whether it has a secret, active or revoked.",
        ("openpanel-server client list --project 1a2b3c4d5e6f",),
    )
    _local_data_dir(c_list)
    c_list.add_argument("--project", help="only this project's clients")
    c_revoke = _command(
        client_sub,
        "revoke",
        "revoke a client",
        "Revoke a client: its requests are refused from now on (a running server notices "
        "within its five-minute credential cache at most).",
        ("openpanel-server client revoke 0b6c1c7e-5a0f-4c47-9b1e-2f6f2c1d9a10",),
    )
    _local_data_dir(c_revoke)
    c_revoke.add_argument("client_id", help="the client's id ('client list' shows them)")
    client.set_defaults(run=_client)


def _webhook_parser(sub: _Sub) -> None:
    webhook = _command(
        sub,
        "webhook",
        "manage webhook endpoints and their deliveries",
        "Webhook endpoints of a project: signed (Standard Webhooks) deliveries of "
        "event.created, session.started, session.ended, profile.identified and profile.updated. "
        "Changes apply to a running server within a second.",
        (
            "openpanel-server webhook create https://hooks.example/openpanel --project <id>",
            "openpanel-server webhook list",
            "openpanel-server webhook deliveries <endpoint id> --status failed",
        ),
    )
    w_sub = webhook.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _command(
        w_sub,
        "create",
        "create an endpoint (prints its secret once)",
        "Create an endpoint. The URL is checked (https, no private or local "
        "address) and its whsec_ secret is printed once.",
        (
            "openpanel-server webhook create https://hooks.example/openpanel --project <id>",
            "openpanel-server webhook create https://hooks.example/signups --project <id> "
            "--event event.created --event-name signup",
        ),
    )
    _local_data_dir(create)
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
    w_list = _command(
        w_sub,
        "list",
        "list endpoints",
        "List endpoints: id, project, URL, event types and names, enabled or why disabled.",
        ("openpanel-server webhook list --project <id>",),
    )
    _local_data_dir(w_list)
    w_list.add_argument("--project", help="only this project's")
    rotate = _command(
        w_sub,
        "rotate",
        "give an endpoint a new secret (prints it once)",
        "Rotate the secret. Deliveries carry a signature with the old secret too "
        "until the grace period ends, so receivers can switch without losing any.",
        ("openpanel-server webhook rotate <endpoint id> --grace 3600",),
    )
    _local_data_dir(rotate)
    rotate.add_argument("endpoint_id", help="the endpoint's id ('webhook list' shows them)")
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
        cmd = _command(
            w_sub,
            name,
            text,
            text[:1].upper() + text[1:] + ".",
            (f"openpanel-server webhook {name} <endpoint id>",),
        )
        _local_data_dir(cmd)
        cmd.add_argument("endpoint_id", help="the endpoint's id ('webhook list' shows them)")
    messages = _command(
        w_sub,
        "messages",
        "list an endpoint's messages",
        "List messages, newest first: id, event type, state, attempts, next attempt.",
        ("openpanel-server webhook messages <endpoint id> --state exhausted",),
    )
    _local_data_dir(messages)
    messages.add_argument("endpoint_id", help="the endpoint's id")
    messages.add_argument(
        "--state",
        choices=["pending", "succeeded", "failed", "exhausted"],
        help="only messages in this state",
    )
    messages.add_argument("--limit", type=int, default=50, help="at most this many")
    deliveries = _command(
        w_sub,
        "deliveries",
        "the delivery log of an endpoint",
        "Every attempt, newest first: status or error, latency, trigger.",
        (
            "openpanel-server webhook deliveries <endpoint id> --status failed",
            "openpanel-server webhook deliveries <endpoint id> --message <message id> --json",
        ),
    )
    _local_data_dir(deliveries)
    deliveries.add_argument("endpoint_id", help="the endpoint's id")
    deliveries.add_argument(
        "--status", choices=["succeeded", "failed"], help="only attempts with this outcome"
    )
    deliveries.add_argument("--message", metavar="MESSAGE_ID", help="one message's attempts")
    deliveries.add_argument("--limit", type=int, default=50, help="at most this many")
    deliveries.add_argument("--json", action="store_true", help="JSON, with response bodies")
    redeliver = _command(
        w_sub,
        "redeliver",
        "send a stored message again",
        "Queue a manual redelivery: the stored bytes with the same webhook-id and "
        "a fresh timestamp and signature, sent by the running server.",
        ("openpanel-server webhook redeliver <endpoint id> <message id>",),
    )
    _local_data_dir(redeliver)
    redeliver.add_argument("endpoint_id", help="the endpoint's id")
    redeliver.add_argument("message_id", help="the message's id ('webhook messages' shows them)")
    webhook.set_defaults(run=_webhook)


def _transfer_parsers(sub: _Sub) -> None:
    export = _command(
        sub,
        "export",
        "stream a running server's events to a file",
        "Stream events from a running server (POST /api/analytics/export, a read or root "
        "client) to a file, in constant memory, with every field (properties included). The "
        "file appears under its name only once complete (written beside it, then renamed). "
        "Progress goes to stderr. Without --start and --end every event is exported; a date "
        "is a whole day in the project's timezone.",
        (
            "openpanel-server export --url http://127.0.0.1:3333 --client-id <read client> "
            "--client-secret <secret> -o events.ndjson",
            "OPENPANEL_CLIENT_ID=<id> OPENPANEL_CLIENT_SECRET=<secret> openpanel-server "
            "export --url http://127.0.0.1:3333 --format csv --start 2026-01-01 "
            "--end 2026-01-31 --event signup -o signups.csv",
        ),
    )
    _add_remote_flags(export, "read or root")
    export.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the file to write (replaced)"
    )
    export.add_argument(
        "--format",
        choices=["ndjson", "csv"],
        default="ndjson",
        help="ndjson: one JSON event per line (what import reads); csv: a header line, "
        "properties and groups as JSON text",
    )
    export.add_argument(
        "--start", metavar="DATE_OR_TIME", help="first day (YYYY-MM-DD) or ISO 8601 time"
    )
    export.add_argument(
        "--end", metavar="DATE_OR_TIME", help="last day (inclusive) or ISO 8601 time"
    )
    export.add_argument(
        "--event",
        action="append",
        metavar="NAME",
        help="only events with this name (repeatable; default all)",
    )
    _add_progress_flags(export)
    export.set_defaults(run=_export)

    imp = _command(
        sub,
        "import",
        "send events from an NDJSON file to a running server",
        "Send events from an NDJSON file (what 'export --format ndjson' writes, or the items "
        "of OpenPanel's GET /export/events, one per line) to a running server's "
        "/track/batch, gzip'd, in batches. Each event keeps its id as the idempotency id "
        "(a hash of the line when it has none), so a repeated or resumed import stores "
        "nothing twice; its original time, device id, path, referrer and user-agent fields "
        "go along. session_start and session_end are skipped (the server writes them). "
        "A 429 or 5xx is retried with backoff. Exits 1 when any event was refused, after a "
        "summary of the reasons.",
        (
            "openpanel-server import events.ndjson --url http://127.0.0.1:3333 "
            "--client-id <write client> --client-secret <secret>",
            "openpanel-server import events.ndjson --url https://analytics.example --quiet",
        ),
    )
    imp.add_argument("file", metavar="FILE", help="the NDJSON file to read")
    _add_remote_flags(imp, "write or root")
    imp.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        metavar="N",
        help="events per request (1 to 2000; a batch the server finds too large is split)",
    )
    imp.add_argument(
        "--retries",
        type=int,
        default=8,
        metavar="N",
        help="attempts after a 429, 5xx or network error before giving up (backoff 0.5 s "
        "doubling, at most 30 s, or the server's Retry-After)",
    )
    _add_progress_flags(imp)
    imp.set_defaults(run=_import)

    migrate = _command(
        sub,
        "migrate",
        "apply pending schema migrations to a stopped server's data folder",
        "Apply the pending migrations of the event store (its schema_migrations ledger) and "
        "of the metadata database, printing each step, or say 'up to date'. serve does the "
        "same on start; migrate does it ahead of an upgrade's first start. The embedded store "
        "takes one process, so a running server's folder is refused. With --clickhouse-url "
        "the ClickHouse database is migrated instead of the embedded store.",
        (
            "openpanel-server migrate --data-dir /var/lib/openpanel",
            "OPENPANEL_SERVER_CLICKHOUSE_URL=https://user:pw@ch:8443/openpanel "
            "openpanel-server migrate --cluster",
        ),
    )
    _local_data_dir(migrate)
    migrate.add_argument(
        "--clickhouse-url",
        metavar="URL",
        help="migrate this ClickHouse database instead of the embedded store "
        "(env OPENPANEL_SERVER_CLICKHOUSE_URL)",
    )
    migrate.add_argument(
        "--cluster",
        action="store_true",
        help="with --clickhouse-url: the cluster layout (env OPENPANEL_SERVER_CLUSTER)",
    )
    migrate.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    migrate.set_defaults(run=_migrate)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (every option also reads ``OPENPANEL_SERVER_*``)."""
    parser = _Parser(
        prog="openpanel-server",
        description="OpenPanel-compatible ingestion server on embedded ClickHouse (chDB).",
        epilog=_examples(
            "openpanel-server serve",
            "openpanel-server project create Shop --origin https://shop.example",
            "openpanel-server export --url http://127.0.0.1:3333 -o events.ndjson ...",
            "openpanel-server migrate --data-dir /var/lib/openpanel",
            "openpanel-server <command> --help",
        )
        + "\n\nA failure is one line on stderr: error: <what>: <why> (hint: <what to do>),"
        "\nexit code 1 (2 for a usage error, 130 after Ctrl-C); --debug adds the traceback.",
        formatter_class=_FORMATTER,
    )
    parser.add_argument(
        "--data-dir",
        help="data folder (env OPENPANEL_SERVER_DATA_DIR; default ./.openpanel-data)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the traceback of a failure too (env OPENPANEL_SERVER_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve_parser(sub)
    _project_parser(sub)
    _client_parser(sub)
    _webhook_parser(sub)
    _transfer_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``openpanel-server``."""
    words = list(sys.argv[1:] if argv is None else argv)
    # --debug is documented on the top level and accepted after the command too.
    debug = "--debug" in words or debug_from_env()
    args = build_parser().parse_args([w for w in words if w != "--debug"])
    what = " ".join(p for p in (args.command, getattr(args, "action", None)) if p)
    code: int = run_command(
        lambda: int(args.run(args)),
        what,
        debug=debug,
        interrupt_hint=_INTERRUPT_HINTS.get(args.command, "run the command again"),
    )
    return code


_INTERRUPT_HINTS = {
    "export": "the partial file was removed; run the export again",
    "import": "run the same import again: events already accepted are not stored twice",
    "migrate": "run migrate again: each step is recorded once it is complete",
    "serve": "it stopped before it was up; nothing was lost, start it again",
}


if __name__ == "__main__":
    raise SystemExit(main())
