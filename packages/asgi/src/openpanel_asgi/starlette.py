"""Starlette helpers: verify OpenPanel webhooks in an endpoint, or with a decorator.

Needs Starlette (``pip install "openpanel-asgi[starlette]"``)::

    from openpanel_asgi.starlette import webhook_endpoint
    from openpanel_core.webhooks import Verifier

    verifier = Verifier(os.environ["OPENPANEL_WEBHOOK_SECRET"])


    @webhook_endpoint(verifier)
    async def receive(request: Request, message: WebhookMessage) -> Response:
        ...  # runs only for a valid, fresh, signed request
        return Response(status_code=204)


    app = Starlette(routes=[Route("/webhooks/openpanel", receive, methods=["POST"])])
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from openpanel_asgi._webhooks import Receiver, SecretsOrVerifier, make_receiver
from openpanel_core.webhooks import Verifier, WebhookError, WebhookMessage
from openpanel_web_bridge import BridgeConfig, rejection_body

__all__ = ["verify_webhook", "webhook_endpoint"]

_DEFAULT_LIMIT = 1_048_576


async def verify_webhook(
    request: Request, verifier: Verifier, *, max_body_bytes: int = _DEFAULT_LIMIT
) -> WebhookMessage:
    """Read the request's raw body (at most ``max_body_bytes``) and verify it.

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
    seen: Callable[[str], bool] | None = None,
    max_body_bytes: int | None = None,
) -> Callable[
    [Callable[[Request, WebhookMessage], Awaitable[Response]]],
    Callable[[Request], Awaitable[Response]],
]:
    """Decorate ``async def endpoint(request, message)`` into a Starlette endpoint.

    The wrapped endpoint runs only for a verified request; anything else is answered with
    ``exc.http_status`` and a small JSON body ``{"error": "<reason>"}``.

    Args:
        secrets: As for :func:`openpanel_asgi.fastapi.verified_webhook`: secrets or a
            ready :class:`~openpanel_core.webhooks.Verifier` (default
            ``config.webhook_secrets``).
        tolerance: Seconds a timestamp may be off.
        config: A :class:`~openpanel_web_bridge.BridgeConfig` with the secrets.
        seen: A replay store, ``(message_id) -> bool``.
        max_body_bytes: The largest body accepted (default 1 MiB).

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
            return await endpoint(request, message)

        return verified

    return decorate
