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
    """Create or update a profile (see :meth:`openpanel_core.OpenPanel.identify`)."""
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
    """Track revenue in integer cents (see :meth:`openpanel_core.OpenPanel.revenue`)."""
    get_client().revenue(
        amount_cents, properties, profile_id=profile_id, device_id=device_id, timestamp=timestamp
    )
