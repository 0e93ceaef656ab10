"""Starlette helpers: verify OpenPanel webhooks in an endpoint, or with a decorator.

Needs Starlette (``pip install "openpanel-asgi[starlette]"``)::

    from openpanel_asgi.starlette import webhook_endpoint


    @webhook_endpoint(os.environ["OPENPANEL_WEBHOOK_SECRET"])
    async def receive(request: Request, message: WebhookMessage) -> Response:
        ...  # runs only for a valid, fresh, signed request, not yet processed
        return Response(status_code=204)


    app = Starlette(routes=[Route("/webhooks/openpanel", receive, methods=["POST"])])

The decorator refuses replays with an in-memory replay cache and releases the id when the
endpoint raises or answers 5xx. :func:`verify_webhook` checks what its ``Verifier`` checks:
give that one ``seen=ReplayCache()`` (and ``forget`` failed ids) for replay protection.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from openpanel_asgi._webhooks import Receiver, SecretsOrVerifier, Seen, make_receiver
from openpanel_core.webhooks import Verifier, WebhookError, WebhookMessage
from openpanel_web_bridge import BridgeConfig, rejection_body

__all__ = ["verify_webhook", "webhook_endpoint"]

_DEFAULT_LIMIT = 1_048_576


async def verify_webhook(
    request: Request, verifier: Verifier, *, max_body_bytes: int = _DEFAULT_LIMIT
) -> WebhookMessage:
    """Read the request's raw body (at most ``max_body_bytes``) and verify it.

    Replays are refused only if ``verifier`` has a replay store (``Verifier(..., seen=...)``).

    Args:
        request: The Starlette request; its body is read here (do not read it before).
        verifier: The :class:`~openpanel_core.webhooks.Verifier` with the webhook secrets.
        max_body_bytes: The largest body accepted; a larger one is refused before it is
            read completely.

    Returns:
        The verified message: ``id`` (the idempotency key), ``type``, ``data``, ``body``.

    Raises:
        openpanel_core.webhooks.WebhookError: The request is not a valid signed webhook
            (``exc.http_status`` is 400, or 413 for a body over the limit; ``exc.reason``
            says why).
    """
    receiver = Receiver(verifier, max_body_bytes)
    return await receiver.verify(
        request.stream(), request.headers, request.headers.get("content-length")
    )


def webhook_endpoint(
    secrets: SecretsOrVerifier | None = None,
    *,
    tolerance: int | None = None,
    config: BridgeConfig | None = None,
    seen: Seen | Literal[False] | None = None,
    max_body_bytes: int | None = None,
) -> Callable[
    [Callable[[Request, WebhookMessage], Awaitable[Response]]],
    Callable[[Request], Awaitable[Response]],
]:
    """Decorate ``async def endpoint(request, message)`` into a Starlette endpoint.

    The wrapped endpoint runs only for a verified request that was not processed before;
    anything else is answered with ``exc.http_status`` and a small JSON body
    ``{"error": "<reason>"}``. When the endpoint raises or answers 5xx, the message id is
    released from the replay store, so the sender's retry is accepted.

    Args:
        secrets: As for :func:`openpanel_asgi.fastapi.verified_webhook`: secrets or a
            ready :class:`~openpanel_core.webhooks.Verifier` (default
            ``config.webhook_secrets``).
        tolerance: Seconds a timestamp may be off.
        config: A :class:`~openpanel_web_bridge.BridgeConfig` with the secrets.
        seen: The replay store, ``(message_id) -> bool`` (True: already processed, 400
            ``replayed``). Default (None): an in-memory
            :class:`~openpanel_core.webhooks.ReplayCache` of this decorator, keeping ids
            ``2 * tolerance + 60`` seconds, for one process; several workers need a shared
            store. A store with ``forget(message_id)`` gets failed ids back. ``False`` turns
            replay protection off.
        max_body_bytes: The largest body accepted (default 1 MiB).

    Returns:
        A decorator turning ``async def endpoint(request, message) -> Response`` into a
        Starlette endpoint ``async def (request) -> Response``.

    Raises:
        openpanel_core.ConfigurationError: No secret was given.
    """
    receiver = make_receiver(
        secrets, tolerance=tolerance, config=config, seen=seen, max_body_bytes=max_body_bytes
    )

    def decorate(
        endpoint: Callable[[Request, WebhookMessage], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def verified(request: Request) -> Response:
            try:
                message = await receiver.verify(
                    request.stream(), request.headers, request.headers.get("content-length")
                )
            except WebhookError as exc:
                return Response(
                    rejection_body(exc),
                    status_code=exc.http_status,
                    media_type="application/json",
                )
            try:
                response = await endpoint(request, message)
            except BaseException:
                receiver.release(message)
                raise
            if response.status_code >= 500:
                receiver.release(message)
            return response

        return verified

    return decorate
