"""``@openpanel_webhook``: verify a signed webhook before the view runs.

The raw body (``request.get_data()``) is verified with :class:`openpanel_core.webhooks.Verifier`;
a request that fails is answered with the error's ``http_status`` (400; 413 for an oversize
body) and a small JSON body such as ``{"error":"signature_mismatch"}``, and the view does not
run. A verified message is available to the view as ``g.openpanel_webhook`` (or through
:func:`webhook_message`, typed).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from flask import Response, g, request

from openpanel_core._guard import guarded
from openpanel_core.webhooks import Verifier, WebhookError, WebhookMessage
from openpanel_flask._state import OpenPanelState, current_state
from openpanel_web_bridge import rejection_body

__all__ = ["G_WEBHOOK_KEY", "openpanel_webhook", "webhook_message"]

logger = logging.getLogger("openpanel_flask")

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Attribute of ``flask.g`` holding the verified message.
G_WEBHOOK_KEY = "openpanel_webhook"

_DEFAULT_TOLERANCE = 300
_DEFAULT_MAX_BODY = 1_048_576
_NOT_CONFIGURED = b'{"error":"webhook_not_configured"}'
_TOO_LARGE = b'{"error":"payload_too_large"}'
_INTERNAL = b'{"error":"internal_error"}'


def _json(body: bytes, status: int) -> Response:
    return Response(body, status=status, content_type="application/json")


@overload
def openpanel_webhook(secrets: Callable[_P, _R], /) -> Callable[_P, _R | Response]: ...


@overload
def openpanel_webhook(
    secrets: str | Sequence[str] | None = None,
    tolerance: int | None = None,
    *,
    seen: Callable[[str], bool] | None = None,
    max_body_bytes: int = _DEFAULT_MAX_BODY,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R | Response]]: ...


def openpanel_webhook(
    secrets: Any = None,
    tolerance: int | None = None,
    *,
    seen: Callable[[str], bool] | None = None,
    max_body_bytes: int = _DEFAULT_MAX_BODY,
) -> Any:
    """Decorate a Flask view that receives OpenPanel (Standard Webhooks) deliveries.

    Usable bare (``@openpanel_webhook``) or called (``@openpanel_webhook(secrets=...)``)::

        @app.post("/webhooks/openpanel")
        @openpanel_webhook
        def openpanel_events():
            message = g.openpanel_webhook  # a verified WebhookMessage
            handle(message.id, message.type, message.data)
            return "", 204

    Args:
        secrets: One ``whsec_...`` secret or several (during a rotation); default
            ``OPENPANEL_WEBHOOK_SECRETS`` of the current app.
        tolerance: Seconds a signature's timestamp may differ from now; default
            ``OPENPANEL_WEBHOOK_TOLERANCE`` (300).
        seen: Optional replay store, called with each verified message id; return True when
            the id was already processed to reject the delivery (400, ``replayed``).
        max_body_bytes: Larger bodies are refused with 413 before they are read.

    Raises:
        openpanel_core.webhooks.InvalidSecretError: An explicit secret is malformed (at
            decoration time).
    """
    if callable(secrets):
        view: Callable[..., Any] = secrets
        return openpanel_webhook()(view)

    explicit: tuple[str, ...] | None = None
    if secrets is not None:
        explicit = (secrets,) if isinstance(secrets, str) else tuple(secrets)
        # A malformed secret is a programming error: say so at import time, not per request.
        Verifier(list(explicit), tolerance=tolerance or _DEFAULT_TOLERANCE)
    own: dict[int, Verifier] = {}

    def build(found: tuple[str, ...], tol: int) -> Callable[[], Verifier]:
        return lambda: Verifier(
            list(found), tolerance=tol, seen=seen, max_body_bytes=max_body_bytes
        )

    def resolve(state: OpenPanelState | None) -> Verifier | None:
        tol = tolerance
        if tol is None:
            tol = state.config.webhook_tolerance if state is not None else _DEFAULT_TOLERANCE
        if explicit is not None:
            found = own.get(tol)
            if found is None:
                found = own[tol] = build(explicit, tol)()
            return found
        if state is None or not state.config.webhook_secrets:
            return None
        configured = tuple(state.config.webhook_secrets)
        return state.verifier(("config", id(own), configured, tol), build(configured, tol))

    @guarded("flask webhook")
    def check(name: str) -> Response | WebhookMessage | None:
        """The verified message, or the response refusing the request."""
        try:
            verifier = resolve(current_state())
            if verifier is None:
                logger.error(
                    "openpanel: webhook view %s has no secret: set OPENPANEL_WEBHOOK_SECRETS "
                    "or pass secrets=",
                    name,
                )
                return _json(_NOT_CONFIGURED, 500)
            length = request.content_length
            if length is not None and length > max_body_bytes:
                return _json(_TOO_LARGE, 413)
            return verifier.verify(request.get_data(cache=True), request.headers)
        except WebhookError as exc:
            logger.info("openpanel: webhook rejected (%s)", exc.reason)
            return _json(rejection_body(exc), exc.http_status)

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R | Response]:
        name = getattr(view, "__name__", "?")

        @functools.wraps(view)
        def receive(*args: _P.args, **kwargs: _P.kwargs) -> _R | Response:
            result = check(name)
            if result is None:  # an SDK error: fail closed, the view never runs unverified
                return _json(_INTERNAL, 500)
            if isinstance(result, Response):
                return result
            setattr(g, G_WEBHOOK_KEY, result)
            return view(*args, **kwargs)

        return receive

    return decorate


def webhook_message() -> WebhookMessage:
    """The verified message of the current ``@openpanel_webhook`` request.

    Raises:
        LookupError: Called outside a verified webhook view.
    """
    message: object = g.get(G_WEBHOOK_KEY)
    if not isinstance(message, WebhookMessage):
        raise LookupError("webhook_message() is only available inside an @openpanel_webhook view")
    return message
