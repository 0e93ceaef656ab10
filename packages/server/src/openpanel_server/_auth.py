"""Who is calling: OpenPanel's ingestion authentication (protocol note section 1.6)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from openpanel_server._meta import Client, MetaStore, Project, origin_allowed

__all__ = ["AuthError", "Caller", "authenticate"]

_CLIENT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class AuthError(Exception):
    """Refused: answered 401 with the message as plain text, as OpenPanel does."""


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller.

    Attributes:
        client: The API client.
        project: Its project.
        secret_verified: A valid client secret came with the request (a server caller).
    """

    client: Client
    project: Project
    secret_verified: bool


def authenticate(
    meta: MetaStore,
    headers: Mapping[str, str],
    body_credentials: Mapping[str, object] | None = None,
    *,
    revenue: bool = False,
) -> Caller:
    """Check the client id, then the origin allow-list or the client secret.

    Raises:
        AuthError: With OpenPanel's message (``Ingestion: ...``).
    """
    creds = body_credentials or {}
    client_id = headers.get("openpanel-client-id") or headers.get("mixan-client-id")
    if not client_id and isinstance(creds.get("clientId"), str):
        client_id = str(creds["clientId"])
    secret = headers.get("openpanel-client-secret") or headers.get("mixan-client-secret")
    if not secret and isinstance(creds.get("clientSecret"), str):
        secret = str(creds["clientSecret"])
    if not client_id:
        raise AuthError("Ingestion: Missing client id")
    if not _CLIENT_ID.match(client_id):
        raise AuthError("Ingestion: Client ID must be a valid UUIDv4")
    client = meta.get_client(client_id)
    if client is None or client.revoked:
        raise AuthError("Ingestion: Invalid client id")
    if client.type == "read":
        # OpenPanel does not check the type here; a read secret is meant for exports and the
        # dashboard (it sits in a browser tab), so it cannot write events.
        raise AuthError("Ingestion: A read client cannot send events (use a write client)")
    project = meta.get_project(client.project_id)
    if project is None:
        raise AuthError("Ingestion: Client has no project")
    verified = bool(secret) and meta.verify_secret(client.id, str(secret))
    if revenue and not verified and not project.allow_unsafe_revenue:
        raise AuthError("Ingestion: Revenue tracking is not allowed without a client secret")
    if verified:
        return Caller(client, project, True)
    origin = headers.get("origin") or ""
    if origin and origin_allowed(origin, project.cors):
        return Caller(client, project, False)
    raise AuthError("Ingestion: Invalid cors or secret")
