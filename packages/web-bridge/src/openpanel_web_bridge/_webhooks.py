"""Webhook helpers for the framework receivers (verification itself is openpanel_core's)."""

from __future__ import annotations

import json

from openpanel_core.webhooks import Verifier, WebhookError
from openpanel_web_bridge._config import BridgeConfig

__all__ = ["rejection_body", "webhook_verifier"]


def webhook_verifier(config: BridgeConfig) -> Verifier | None:
    """A :class:`~openpanel_core.webhooks.Verifier` for ``config.webhook_secrets``.

    Args:
        config: The bridge config; its ``webhook_secrets`` (every one is accepted, for
            rotation) and ``webhook_tolerance`` are used.

    Returns:
        A verifier of the standard scheme, or None when no secret is configured.

    Raises:
        InvalidSecretError: A secret cannot be decoded (``problems()`` reports it first).
    """
    if not config.webhook_secrets:
        return None
    return Verifier(list(config.webhook_secrets), tolerance=config.webhook_tolerance)


def rejection_body(exc: WebhookError) -> bytes:
    """The JSON body of a refused webhook: ``{"error": "<reason>"}`` (no secret material).

    Args:
        exc: The verification error; its ``reason`` code (``"signature_mismatch"``, ...) is
            the only thing sent back.

    Returns:
        The compact UTF-8 JSON body; send it with the error's ``http_status``.
    """
    return json.dumps({"error": exc.reason}, separators=(",", ":")).encode()
