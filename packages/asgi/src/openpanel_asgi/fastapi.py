"""FastAPI helpers: a dependency that verifies OpenPanel webhooks before the endpoint runs.

Needs FastAPI (``pip install "openpanel-asgi[fastapi]"``)::

    from typing import Annotated

    from fastapi import Depends, FastAPI
    from openpanel_asgi.fastapi import verified_webhook
    from openpanel_core.webhooks import WebhookMessage

    app = FastAPI()
    openpanel_webhook = verified_webhook(secrets=os.environ["OPENPANEL_WEBHOOK_SECRET"])


    @app.post("/webhooks/openpanel", status_code=204)
    async def receive(
        message: Annotated[WebhookMessage, Depends(openpanel_webhook)],
    ) -> None: ...  # message.id is the idempotency key; message.type, message.data
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from openpanel_asgi._webhooks import SecretsOrVerifier, make_receiver
from openpanel_core.webhooks import WebhookError, WebhookMessage
from openpanel_web_bridge import BridgeConfig

__all__ = ["verified_webhook"]


def verified_webhook(
    secrets: SecretsOrVerifier | None = None,
    *,
    tolerance: int | None = None,
    config: BridgeConfig | None = None,
    seen: Callable[[str], bool] | None = None,
    max_body_bytes: int | None = None,
) -> Callable[[Request], Awaitable[WebhookMessage]]:
    """A dependency that returns the verified :class:`~openpanel_core.webhooks.WebhookMessage`.

    It reads the raw body (at most ``max_body_bytes``) and verifies it; on failure it raises
    ``HTTPException(exc.http_status, detail=exc.reason)`` (400, or 413 for a body over the
    limit), so the endpoint never runs. No secret material is ever in the answer.

    Args:
        secrets: One ``whsec_...`` secret, several during a rotation, or a ready
            :class:`~openpanel_core.webhooks.Verifier`. Default: ``config.webhook_secrets``.
        tolerance: Seconds a timestamp may be off (default ``config.webhook_tolerance``, or
            300).
        config: A :class:`~openpanel_web_bridge.BridgeConfig` to take secrets and tolerance
            from.
        seen: A replay store: ``(message_id) -> bool`` returns True for an id already
            processed, which rejects the request.
        max_body_bytes: The largest body accepted (default 1 MiB).

    Raises:
        openpanel_core.ConfigurationError: No secret was given.
    """
    receiver = make_receiver(
        secrets, tolerance=tolerance, config=config, seen=seen, max_body_bytes=max_body_bytes
    )

    async def openpanel_webhook(request: Request) -> WebhookMessage:
        try:
            return await receiver.verify(
                request.stream(), request.headers, request.headers.get("content-length")
            )
        except WebhookError as exc:
            raise HTTPException(exc.http_status, detail=exc.reason) from None

    return openpanel_webhook
