"""Managing webhook endpoints: validation shared by the HTTP API and the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openpanel_server._webhook_events import EVENT_TYPES
from openpanel_server._webhook_ssrf import (
    AddressPolicy,
    InvalidEndpointURLError,
    Resolver,
    check_endpoint_url,
    system_resolver,
)
from openpanel_server._webhook_store import (
    MAX_ROTATION_GRACE,
    MESSAGE_STATES,
    Endpoint,
    Message,
    WebhookStore,
)

__all__ = [
    "DEFAULT_ROTATION_GRACE",
    "MAX_ENDPOINTS_PER_PROJECT",
    "WebhookAdmin",
    "WebhookAdminError",
]

MAX_ENDPOINTS_PER_PROJECT = 50
DEFAULT_ROTATION_GRACE = 86400
_MAX_EVENT_NAMES = 100
_MAX_DESCRIPTION = 500


class WebhookAdminError(Exception):
    """A refused change: HTTP status, the field at fault and a message."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


def _string_list(value: object, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):  # pyright: ignore[reportUnknownVariableType]
        raise WebhookAdminError(400, field, "must be a list of strings")
    return list(dict.fromkeys(value))  # pyright: ignore[reportUnknownArgumentType]


def _event_types(value: object) -> list[str]:
    types = _string_list(value, "eventTypes")
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        known = ", ".join(EVENT_TYPES)
        raise WebhookAdminError(400, "eventTypes", f"unknown type {unknown[0]!r} (known: {known})")
    return types


def _event_names(value: object) -> list[str]:
    names = _string_list(value, "eventNames")
    if len(names) > _MAX_EVENT_NAMES or any(not 0 < len(n) <= 200 for n in names):
        raise WebhookAdminError(
            400, "eventNames", f"at most {_MAX_EVENT_NAMES} names of 1 to 200 characters"
        )
    return names


def _description(value: object) -> str:
    if not isinstance(value, str) or len(value) > _MAX_DESCRIPTION:
        raise WebhookAdminError(
            400, "description", f"must be a string of at most {_MAX_DESCRIPTION} characters"
        )
    return value


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise WebhookAdminError(400, field, "must be true or false")
    return value


class WebhookAdmin:
    """Endpoint management with validation (URL and SSRF checks, event types, limits)."""

    def __init__(
        self,
        store: WebhookStore,
        addresses: AddressPolicy,
        *,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """Build the admin.

        Args:
            store: The webhook tables.
            addresses: The SSRF address policy checked at registration.
            resolver: Host name resolution.
            clock: Unix time now.
            on_change: Called after an endpoint or the queue changed (the server refreshes
                its subscriptions and wakes the delivery loop).
        """
        self.store = store
        self._addresses = addresses
        self._resolver = resolver
        self._clock = clock
        self._on_change = on_change

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _url(self, value: object) -> str:
        if not isinstance(value, str):
            raise WebhookAdminError(400, "url", "must be a string")
        try:
            return check_endpoint_url(value, self._addresses, self._resolver)
        except InvalidEndpointURLError as exc:
            raise WebhookAdminError(400, "url", str(exc)) from None

    def endpoint(self, endpoint_id: str, project_id: str | None = None) -> Endpoint:
        """The endpoint (of ``project_id`` when given).

        Raises:
            WebhookAdminError: 404 when there is no such endpoint.
        """
        found = self.store.get_endpoint(endpoint_id, project_id, now=self._clock())
        if found is None:
            raise WebhookAdminError(404, "endpointId", "no such webhook endpoint")
        return found

    def list(self, project_id: str | None = None) -> list[Endpoint]:
        """The endpoints of a project (or all)."""
        return self.store.list_endpoints(project_id, now=self._clock())

    def create(self, project_id: str, fields: Mapping[str, Any]) -> tuple[Endpoint, str]:
        """Create an endpoint; returns it and its secret (shown once).

        ``fields`` are the API's: ``url``, ``eventTypes``, ``eventNames``, ``description``,
        ``legacySignature``.

        Raises:
            WebhookAdminError: A field is invalid, or the project has too many endpoints.
        """
        unknown = set(fields) - {
            "url",
            "eventTypes",
            "eventNames",
            "description",
            "legacySignature",
        }
        if unknown:
            raise WebhookAdminError(400, sorted(unknown)[0], "unknown field")
        if "url" not in fields:
            raise WebhookAdminError(400, "url", "is required")
        url = self._url(fields["url"])
        if (
            len(self.store.list_endpoints(project_id, now=self._clock()))
            >= MAX_ENDPOINTS_PER_PROJECT
        ):
            raise WebhookAdminError(
                400, "url", f"a project has at most {MAX_ENDPOINTS_PER_PROJECT} endpoints"
            )
        endpoint, secret = self.store.create_endpoint(
            project_id,
            url,
            event_types=_event_types(fields.get("eventTypes", [])),
            event_names=_event_names(fields.get("eventNames", [])),
            description=_description(fields.get("description", "")),
            legacy_signature=_flag(fields.get("legacySignature", True), "legacySignature"),
            now=self._clock(),
        )
        self._changed()
        return endpoint, secret

    def update(
        self, endpoint_id: str, project_id: str | None, fields: Mapping[str, Any]
    ) -> Endpoint:
        """Change an endpoint.

        ``fields`` may hold ``url``, ``eventTypes``, ``eventNames``, ``description``,
        ``legacySignature`` and ``enabled``.

        Raises:
            WebhookAdminError: 404 for an unknown endpoint, 400 for an invalid field.
        """
        self.endpoint(endpoint_id, project_id)
        changes: dict[str, Any] = {}
        enabled: bool | None = None
        for name, value in fields.items():
            if name == "url":
                changes["url"] = self._url(value)
            elif name == "eventTypes":
                changes["event_types"] = _event_types(value)
            elif name == "eventNames":
                changes["event_names"] = _event_names(value)
            elif name == "description":
                changes["description"] = _description(value)
            elif name == "legacySignature":
                changes["legacy_signature"] = _flag(value, name)
            elif name == "enabled":
                enabled = _flag(value, name)
            else:
                raise WebhookAdminError(400, name, "unknown field")
        now = self._clock()
        if changes:
            self.store.update_endpoint(endpoint_id, changes, now=now)
        if enabled is not None:
            self.store.set_enabled(endpoint_id, enabled, now=now)
        self._changed()
        return self.endpoint(endpoint_id)

    def set_enabled(self, endpoint_id: str, project_id: str | None, enabled: bool) -> Endpoint:
        """Enable (clears the failure clock; queued messages resume) or disable (manual)."""
        self.endpoint(endpoint_id, project_id)
        found = self.store.set_enabled(endpoint_id, enabled, now=self._clock())
        assert found is not None
        self._changed()
        return found

    def delete(self, endpoint_id: str, project_id: str | None) -> None:
        """Delete an endpoint with its queue and log."""
        self.endpoint(endpoint_id, project_id)
        self.store.delete_endpoint(endpoint_id)
        self._changed()

    def rotate(
        self,
        endpoint_id: str,
        project_id: str | None,
        grace_seconds: object = DEFAULT_ROTATION_GRACE,
    ) -> tuple[Endpoint, str]:
        """A new secret; the old one keeps signing for ``grace_seconds`` (0 to 7 days)."""
        if (
            isinstance(grace_seconds, bool)
            or not isinstance(grace_seconds, (int, float))
            or not 0 <= grace_seconds <= MAX_ROTATION_GRACE
        ):
            raise WebhookAdminError(
                400, "gracePeriodSeconds", f"must be a number from 0 to {MAX_ROTATION_GRACE}"
            )
        self.endpoint(endpoint_id, project_id)
        secret = self.store.rotate_secret(endpoint_id, float(grace_seconds), now=self._clock())
        assert secret is not None
        self._changed()
        return self.endpoint(endpoint_id), secret

    def redeliver(self, endpoint_id: str, project_id: str | None, message_id: str) -> Message:
        """Queue a manual redelivery (the stored bytes, the same ``webhook-id``).

        Raises:
            WebhookAdminError: 404 for an unknown endpoint or message; 409 when the endpoint
                is disabled.
        """
        endpoint = self.endpoint(endpoint_id, project_id)
        if not endpoint.enabled:
            raise WebhookAdminError(409, "endpointId", "the endpoint is disabled")
        message = self.store.redeliver(endpoint_id, message_id, now=self._clock())
        if message is None:
            raise WebhookAdminError(404, "messageId", "no such message")
        self._changed()
        return message

    @staticmethod
    def check_state(state: str | None) -> str | None:
        """Validate a message-state filter."""
        if state is not None and state not in MESSAGE_STATES:
            raise WebhookAdminError(400, "state", f"one of {', '.join(MESSAGE_STATES)}")
        return state

    @staticmethod
    def check_event_type(value: str | None) -> str | None:
        """Validate an event-type filter."""
        if value is not None and value not in EVENT_TYPES:
            raise WebhookAdminError(400, "eventType", "unknown event type")
        return value


def event_type_list() -> Sequence[dict[str, str]]:
    """The event types with their descriptions (for the API)."""
    return [{"type": name, "description": text} for name, text in EVENT_TYPES.items()]
