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

A verbatim replay of a processed delivery is refused (400 ``replayed``) by an in-memory
replay cache of the dependency; an endpoint that raises gets its message's id released, so the
sender's retry is accepted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Literal

from fastapi import HTTPException, Request, Response

from openpanel_asgi._webhooks import SecretsOrVerifier, Seen, make_receiver
from openpanel_core.webhooks import WebhookError, WebhookMessage
from openpanel_web_bridge import BridgeConfig

__all__ = ["verified_webhook"]


def verified_webhook(
    secrets: SecretsOrVerifier | None = None,
    *,
    tolerance: int | None = None,
    config: BridgeConfig | None = None,
    seen: Seen | Literal[False] | None = None,
    max_body_bytes: int | None = None,
) -> Callable[[Request, Response], AsyncIterator[WebhookMessage]]:
    """A dependency that yields the verified :class:`~openpanel_core.webhooks.WebhookMessage`.

    It reads the raw body (at most ``max_body_bytes``) and verifies it; on failure it raises
    ``HTTPException(exc.http_status, detail=exc.reason)`` (400, or 413 for a body over the
    limit), so the endpoint never runs. No secret material is ever in the answer.

    A ``yield`` dependency: when the endpoint raises (any exception, ``HTTPException``
    included) or sets a 5xx status on the injected ``Response``, the message id is released
    from the replay store and the sender's retry is accepted. An endpoint that *returns* a 5xx
    ``Response`` object is not seen by dependencies: raise instead.

    Args:
        secrets: One ``whsec_...`` secret, several during a rotation, or a ready
            :class:`~openpanel_core.webhooks.Verifier`. Default: ``config.webhook_secrets``.
        tolerance: Seconds a timestamp may be off (default ``config.webhook_tolerance``, or
            300).
        config: A :class:`~openpanel_web_bridge.BridgeConfig` to take secrets and tolerance
            from.
        seen: The replay store, ``(message_id) -> bool``, True for an id already processed
            (the request is refused with 400 ``replayed``). Default (None): an in-memory
            :class:`~openpanel_core.webhooks.ReplayCache` of this dependency, keeping ids
            ``2 * tolerance + 60`` seconds: one process only; several workers need a shared
            store (Redis ``SET NX EX``). A store with ``forget(message_id)`` gets failed ids
            back. ``False`` turns replay protection off.
        max_body_bytes: The largest body accepted (default 1 MiB).

    Returns:
        The dependency, for ``message: Annotated[WebhookMessage, Depends(dependency)]``
        (create it once, at import time: it holds the replay cache).

    Raises:
        openpanel_core.ConfigurationError: No secret was given.
    """
    receiver = make_receiver(
        secrets, tolerance=tolerance, config=config, seen=seen, max_body_bytes=max_body_bytes
    )

    async def openpanel_webhook(
        request: Request, response: Response
    ) -> AsyncIterator[WebhookMessage]:
        try:
            message = await receiver.verify(
                request.stream(), request.headers, request.headers.get("content-length")
            )
        except WebhookError as exc:
            raise HTTPException(exc.http_status, detail=exc.reason) from None
        try:
            yield message
        except BaseException:
            receiver.release(message)
            raise
        # The injected Response is shared with the endpoint; FastAPI leaves its status None
        # (typed int by Starlette) unless the endpoint sets one.
        status = response.status_code
        if status is not None and status >= 500:  # pyright: ignore[reportUnnecessaryComparison]
            receiver.release(message)

    return openpanel_webhook
