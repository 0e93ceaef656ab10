"""Module-level shortcuts over the process's client (:func:`get_client`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openpanel_core._guard import guarded
from openpanel_django._runtime import get_client

__all__ = ["identify", "revenue", "track"]


@guarded("track")
def track(
    name: str,
    properties: Mapping[str, Any] | None = None,
    *,
    profile_id: str | int | None = None,
    device_id: str | None = None,
    timestamp: Any = None,
    groups: Sequence[str] | None = None,
) -> None:
    """Track an event with the process's client (see :meth:`openpanel_core.OpenPanel.track`).

    Inside a request handled by :class:`~openpanel_django.middleware.OpenPanelMiddleware` the
    event carries the visitor's IP, user agent and profile. Never raises, never blocks.

    Args:
        name: Event name: 1-80 characters, not ``session_start``/``session_end``.
        properties: JSON-serialisable properties (datetimes, UUIDs, Decimals and enums are
            converted).
        profile_id: The user; defaults to the request's logged-in user (through the
            middleware's context).
        device_id: Sent as ``__deviceId`` (overrides the server-derived device).
        timestamp: When it happened (aware ``datetime``, epoch seconds or ISO string);
            defaults to now.
        groups: Group ids for this event (added to the client's and the request's groups).
    """
    get_client().track(
        name,
        properties,
        profile_id=profile_id,
        device_id=device_id,
        timestamp=timestamp,
        groups=groups,
    )


@guarded("identify")
def identify(
    profile_id: str | int,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    avatar: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> None:
    """Create or update a profile (see :meth:`openpanel_core.OpenPanel.identify`).

    Unset fields are left out. Never raises, never blocks.

    Args:
        profile_id: The user: a non-empty string or an int.
        first_name: The profile's first name.
        last_name: The profile's last name.
        email: The profile's email address.
        avatar: URL of the profile's picture.
        properties: JSON-serialisable profile properties.
    """
    get_client().identify(
        profile_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        avatar=avatar,
        properties=properties,
    )


@guarded("revenue")
def revenue(
    amount_cents: int,
    properties: Mapping[str, Any] | None = None,
    *,
    profile_id: str | int | None = None,
    device_id: str | None = None,
    timestamp: Any = None,
) -> None:
    """Track revenue in integer cents (see :meth:`openpanel_core.OpenPanel.revenue`).

    Revenue needs the client secret (``OPENPANEL['client_secret']``) unless the project allows
    unsafe revenue tracking. Never raises, never blocks.

    Args:
        amount_cents: The amount, a non-negative integer of cents.
        properties: JSON-serialisable properties of the ``revenue`` event.
        profile_id: The user; defaults to the request's logged-in user.
        device_id: Sent as ``__deviceId`` (overrides the server-derived device).
        timestamp: When it happened (aware ``datetime``, epoch seconds or ISO string);
            defaults to now.
    """
    get_client().revenue(
        amount_cents, properties, profile_id=profile_id, device_id=device_id, timestamp=timestamp
    )
