"""``@openpanel_webhook``: verify a signed webhook before the view runs.

The raw body (``request.get_data()``) is verified with :class:`openpanel_core.webhooks.Verifier`;
a request that fails is answered with the error's ``http_status`` (400; 413 for an oversize
body) and a small JSON body such as ``{"error":"signature_mismatch"}``, and the view does not
run. A verified message is available to the view as ``g.openpanel_webhook`` (or through
:func:`webhook_message`, typed).

Replays: by default each decorated view remembers, per app, the ids it processed in an
in-memory :class:`~openpanel_core.webhooks.ReplayCache` (kept ``2 * tolerance + 60`` seconds);
a second delivery of an id is refused (400 ``{"error":"replayed"}``) without running the view.
When the view raises or answers 5xx the id is released, so the sender's retry is accepted.
The cache lives in one process: several worker processes need a shared store (``seen=``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal, ParamSpec, TypeAlias, TypeVar, overload

from flask import Response, after_this_request, current_app, g, request

from openpanel_core._guard import call_user_hook, guarded
from openpanel_core.webhooks import (
    ReplayCache,
    ReplayedMessageError,
    Verifier,
    WebhookError,
    WebhookMessage,
)
from openpanel_flask._state import OpenPanelState, current_state
from openpanel_web_bridge import rejection_body

__all__ = ["G_WEBHOOK_KEY", "openpanel_webhook", "webhook_message"]

logger = logging.getLogger("openpanel_flask")

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Attribute of ``flask.g`` holding the verified message.
G_WEBHOOK_KEY = "openpanel_webhook"
#: ``app.extensions`` key of the default replay caches (one per decorated view).
_REPLAYS_KEY = "openpanel_webhook_replays"

#: A replay store: ``(message_id) -> bool``, True for an id already processed.
Seen: TypeAlias = "Callable[[str], bool]"

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
    seen: Seen | Literal[False] | None = None,
    max_body_bytes: int = _DEFAULT_MAX_BODY,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R | Response]]: ...


def openpanel_webhook(
    secrets: Any = None,
    tolerance: int | None = None,
    *,
    seen: Seen | Literal[False] | None = None,
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
        seen: The replay store, called with each verified message id; True (already
            processed) refuses the delivery (400, ``replayed``) without running the view.
            Default (None): an in-memory :class:`~openpanel_core.webhooks.ReplayCache` per app
            and decorated view, good for one process; pass a shared store (Redis ``SET NX``)
            when several processes receive webhooks. A store with a ``forget(message_id)``
            method gets the id back when the view raises or answers 5xx. ``False`` turns
            replay protection off.
        max_body_bytes: Larger bodies are refused with 413 before they are read.

    Returns:
        The wrapped view when used bare, otherwise a decorator that wraps one. The wrapped
        view answers a refused delivery with the error's status and
        ``{"error": "<reason>"}``, without running the view.

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
    token = object()  # this decorated view's key in app.extensions[_REPLAYS_KEY]

    def build(found: tuple[str, ...], tol: int) -> Callable[[], Verifier]:
        return lambda: Verifier(list(found), tolerance=tol, max_body_bytes=max_body_bytes)

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

    def replay_store(state: OpenPanelState | None) -> Seen | None:
        if seen is False:
            return None
        if seen is not None:
            return seen
        tol = tolerance
        if tol is None:
            tol = state.config.webhook_tolerance if state is not None else _DEFAULT_TOLERANCE
        stores: dict[object, ReplayCache] = current_app.extensions.setdefault(_REPLAYS_KEY, {})
        store = stores.get(token)
        if store is None:  # setdefault: two first requests racing keep one cache
            store = stores.setdefault(token, ReplayCache(ttl=2 * tol + 60))
        return store

    @guarded("flask webhook")
    def check(name: str) -> Response | tuple[WebhookMessage, Seen | None] | None:
        """The verified message and its replay store, or the response refusing the request."""
        try:
            state = current_state()
            verifier = resolve(state)
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
            message = verifier.verify(request.get_data(cache=True), request.headers)
            store = replay_store(state)
            if store is not None and message.id is not None and store(message.id):
                raise ReplayedMessageError("webhook message was already processed")
            return message, store
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
            message, store = result
            setattr(g, G_WEBHOOK_KEY, message)
            if store is None or message.id is None:
                return view(*args, **kwargs)
            msg_id = message.id
            try:
                rv = view(*args, **kwargs)
            except BaseException:
                _release(store, msg_id)
                raise

            @after_this_request
            def release_on_server_error(response: Response) -> Response:
                if response.status_code >= 500:
                    _release(store, msg_id)
                return response

            return rv

        return receive

    return decorate


def _release(store: Seen, msg_id: str) -> None:
    """Give a failed delivery's id back to a store that can forget (the sender will retry)."""
    forget = getattr(store, "forget", None)
    if callable(forget):
        call_user_hook("webhook replay store", forget, msg_id)


def webhook_message() -> WebhookMessage:
    """The verified message of the current ``@openpanel_webhook`` request.

    The same object as ``g.openpanel_webhook``, typed.

    Returns:
        The verified message.

    Raises:
        LookupError: Called outside a verified webhook view.
    """
    message: object = g.get(G_WEBHOOK_KEY)
    if not isinstance(message, WebhookMessage):
        raise LookupError("webhook_message() is only available inside an @openpanel_webhook view")
    return message
