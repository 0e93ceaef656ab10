"""Verifying webhooks on ASGI: the raw body, read with a size cap, checked by the core Verifier.

Replays: unless told otherwise (``seen=``), each receiver keeps the ids it accepted in its own
in-memory :class:`~openpanel_core.webhooks.ReplayCache` for ``2 * tolerance + 60`` seconds, and
refuses a second delivery of an id. The helpers call :meth:`Receiver.release` when the endpoint
raised or answered 5xx, so the sender's retry is accepted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Literal, TypeAlias

from openpanel_core import ConfigurationError
from openpanel_core._guard import call_user_hook
from openpanel_core.webhooks import (
    PayloadTooLargeError,
    ReplayCache,
    ReplayedMessageError,
    Verifier,
    WebhookMessage,
)
from openpanel_web_bridge import BridgeConfig

__all__ = ["Receiver", "SecretsOrVerifier", "Seen", "make_receiver"]

SecretsOrVerifier: TypeAlias = (
    "str | bytes | list[str | bytes] | tuple[str | bytes, ...] | Verifier"
)
#: A replay store: ``(message_id) -> bool``, True for an id already processed.
Seen: TypeAlias = "Callable[[str], bool]"

DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_TOLERANCE = 300


class Receiver:
    """A verifier, the body limit and the replay store, shared by the FastAPI and Starlette helpers.

    Args:
        verifier: Checks signatures and timestamps (and its own ``seen``, if it has one).
        max_body_bytes: Larger bodies are refused.
        store: The replay store consulted after verification; None for none.
    """

    __slots__ = ("max_body_bytes", "store", "verifier")

    def __init__(self, verifier: Verifier, max_body_bytes: int, store: Seen | None = None) -> None:
        self.verifier = verifier
        self.max_body_bytes = max_body_bytes
        self.store = store

    async def verify(
        self,
        chunks: AsyncIterator[bytes],
        headers: Mapping[str, str],
        content_length: str | None,
    ) -> WebhookMessage:
        """Read the body (stopping past the limit), verify it, and record its id.

        Raises:
            openpanel_core.webhooks.WebhookError: ``exc.http_status`` is 400 for a request
                that is not a valid signed webhook or was already processed (``replayed``),
                413 for a body over the limit.
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
        message = self.verifier.verify(b"".join(parts), headers)
        store = self.store
        if store is not None and message.id is not None and store(message.id):
            raise ReplayedMessageError("webhook message was already processed")
        return message

    def release(self, message: WebhookMessage) -> None:
        """Forget ``message``'s id after the endpoint failed, so the sender's retry is accepted.

        Only stores with a ``forget(message_id)`` method (such as ``ReplayCache``) can; an error
        of the store is logged, never raised.
        """
        forget = getattr(self.store, "forget", None)
        if message.id is not None and callable(forget):
            call_user_hook("webhook replay store", forget, message.id)


def make_receiver(
    secrets: SecretsOrVerifier | None,
    *,
    tolerance: int | None,
    config: BridgeConfig | None,
    seen: Seen | Literal[False] | None,
    max_body_bytes: int | None,
) -> Receiver:
    """A :class:`Receiver` from explicit secrets, a ready ``Verifier``, or the config.

    ``seen``: a replay store; None for a new :class:`~openpanel_core.webhooks.ReplayCache`
    keeping ids ``2 * tolerance + 60`` seconds (a ready ``Verifier``'s own tolerance unless
    ``tolerance`` is given); False for no replay protection.

    Raises:
        openpanel_core.ConfigurationError: No secret anywhere.
        openpanel_core.webhooks.InvalidSecretError: A secret is not valid.
    """
    limit = DEFAULT_MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes
    if isinstance(secrets, Verifier):
        verifier = secrets
        if tolerance is None:
            tolerance = verifier.tolerance
    else:
        if secrets is None and config is not None and config.webhook_secrets:
            secrets = list(config.webhook_secrets)
        if not secrets:
            raise ConfigurationError(
                "no webhook secret: pass secrets=... or a config with webhook_secrets"
            )
        if tolerance is None:
            tolerance = config.webhook_tolerance if config is not None else DEFAULT_TOLERANCE
        verifier = Verifier(secrets, tolerance=tolerance, max_body_bytes=limit)
    store: Seen | None
    if seen is False:
        store = None
    elif seen is None:
        store = ReplayCache(ttl=2 * tolerance + 60)
    else:
        store = seen
    return Receiver(verifier, limit, store)
