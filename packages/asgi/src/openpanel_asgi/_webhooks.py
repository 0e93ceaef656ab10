"""Verifying webhooks on ASGI: the raw body, read with a size cap, checked by the core Verifier."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import TypeAlias

from openpanel_core import ConfigurationError
from openpanel_core.webhooks import PayloadTooLargeError, Verifier, WebhookMessage
from openpanel_web_bridge import BridgeConfig

__all__ = ["Receiver", "SecretsOrVerifier", "make_receiver"]

SecretsOrVerifier: TypeAlias = (
    "str | bytes | list[str | bytes] | tuple[str | bytes, ...] | Verifier"
)

DEFAULT_MAX_BODY_BYTES = 1_048_576


class Receiver:
    """A verifier plus the body limit, shared by the FastAPI and Starlette helpers."""

    __slots__ = ("max_body_bytes", "verifier")

    def __init__(self, verifier: Verifier, max_body_bytes: int) -> None:
        self.verifier = verifier
        self.max_body_bytes = max_body_bytes

    async def verify(
        self,
        chunks: AsyncIterator[bytes],
        headers: Mapping[str, str],
        content_length: str | None,
    ) -> WebhookMessage:
        """Read the body (stopping past the limit) and verify it.

        Raises:
            openpanel_core.webhooks.WebhookError: ``exc.http_status`` is 400 for a request
                that is not a valid signed webhook, 413 for a body over the limit.
        """
        limit = self.max_body_bytes
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise PayloadTooLargeError(
                f"webhook body is {content_length} bytes, over the {limit}-byte limit",
                size=int(content_length),
                max_body_bytes=limit,
            )
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                break  # the verifier rejects it as too large before any hashing
        return self.verifier.verify(b"".join(parts), headers)


def make_receiver(
    secrets: SecretsOrVerifier | None,
    *,
    tolerance: int | None,
    config: BridgeConfig | None,
    seen: Callable[[str], bool] | None,
    max_body_bytes: int | None,
) -> Receiver:
    """A :class:`Receiver` from explicit secrets, a ready ``Verifier``, or the config.

    Raises:
        openpanel_core.ConfigurationError: No secret anywhere.
        openpanel_core.webhooks.InvalidSecretError: A secret is not valid.
    """
    limit = DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes
    if isinstance(secrets, Verifier):
        return Receiver(secrets, limit)
    if secrets is None and config is not None and config.webhook_secrets:
        secrets = list(config.webhook_secrets)
    if not secrets:
        raise ConfigurationError(
            "no webhook secret: pass secrets=... or a config with webhook_secrets"
        )
    if tolerance is None:
        tolerance = config.webhook_tolerance if config is not None else 300
    verifier = Verifier(secrets, tolerance=tolerance, seen=seen, max_body_bytes=limit)
    return Receiver(verifier, limit)
