"""Webhook receivers: a view decorator and a class-based view that verify before the view runs.

The signature is checked by :class:`openpanel_core.webhooks.Verifier` over the raw
``request.body`` (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), with the secrets of ``settings.OPENPANEL['webhook_secrets']`` unless
given. A refused request is answered with the error's status (400 for a bad signature, a stale
timestamp, a replay or missing headers; 413 for an oversize body; 500 when no usable secret is
configured) and ``{"error": "<reason>"}``; the view does not run.

Replays: the ids of processed messages are kept in a Django cache (``"default"``, or
``OPENPANEL['WEBHOOK_REPLAY_CACHE']``) for twice the timestamp tolerance; a second delivery of
the same id is refused. An id is released again when the view fails (an exception or a 5xx
answer), so the sender's retry goes through.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Final, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.cache import caches
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from openpanel_core._guard import call_user_hook
from openpanel_core.webhooks import (
    PayloadTooLargeError,
    ReplayedMessageError,
    Verifier,
    WebhookError,
    WebhookMessage,
)
from openpanel_django._runtime import Runtime, current
from openpanel_web_bridge import rejection_body

__all__ = ["WebhookView", "openpanel_webhook", "webhook_message"]

logger = logging.getLogger("openpanel_django")

_DEFAULT_TOLERANCE = 300
_MAX_BODY = 1_048_576


class _Unset:
    def __repr__(self) -> str:
        return "<from settings>"


_FROM_SETTINGS: Final = _Unset()

_V = TypeVar("_V", bound=Callable[..., Any])


def webhook_message(request: HttpRequest) -> WebhookMessage:
    """The verified message of a request that passed :func:`openpanel_webhook`.

    The same object as ``request.openpanel_webhook``, typed.

    Args:
        request: The request being handled by the decorated view or :class:`WebhookView`.

    Returns:
        The verified message.

    Raises:
        LookupError: The request was not verified by a webhook receiver.
    """
    message = getattr(request, "openpanel_webhook", None)
    if not isinstance(message, WebhookMessage):
        raise LookupError("this request was not verified by an OpenPanel webhook receiver")
    return message


class _NotConfiguredError(WebhookError):
    """No webhook secret is configured: the receiver cannot verify anything."""

    reason = "not_configured"


class _Receiver:
    """Verification settings of one receiver; the verifier is rebuilt when settings change."""

    def __init__(
        self,
        secrets: str | Sequence[str] | None,
        tolerance: int | None,
        replay_cache: str | _Unset | None,
    ) -> None:
        self.secrets: tuple[str, ...] | None = (
            None if secrets is None else (secrets,) if isinstance(secrets, str) else tuple(secrets)
        )
        self.tolerance = tolerance
        self.replay_cache = replay_cache
        self._built: tuple[Runtime | None, Verifier | WebhookError, str | None, int] | None = None

    def _setup(self) -> tuple[Verifier | WebhookError, str | None, int]:
        rt = current()
        built = self._built
        if built is not None and built[0] is rt:
            return built[1], built[2], built[3]
        secrets = self.secrets
        tolerance = self.tolerance
        if rt is not None:
            secrets = rt.config.webhook_secrets if secrets is None else secrets
            tolerance = rt.config.webhook_tolerance if tolerance is None else tolerance
        tolerance = _DEFAULT_TOLERANCE if tolerance is None else tolerance
        cache = self.replay_cache
        if isinstance(cache, _Unset):
            cache = rt.options.webhook_replay_cache if rt is not None else "default"
        verifier: Verifier | WebhookError
        if not secrets:
            verifier = _NotConfiguredError(
                "no webhook secret: set OPENPANEL['webhook_secrets'] or pass secrets="
            )
            logger.error("openpanel: a webhook receiver has no secret; every request is refused")
        else:
            try:
                verifier = Verifier(list(secrets), tolerance=tolerance, max_body_bytes=_MAX_BODY)
            except WebhookError as exc:  # InvalidSecretError: answered with its 500
                logger.error("openpanel: unusable webhook secret (%s)", exc.reason)
                verifier = exc
        self._built = (rt, verifier, cache, tolerance)
        return verifier, cache, tolerance

    def check(self, request: HttpRequest) -> WebhookMessage | HttpResponse:
        """Verify ``request``; the verified message, or the refusal to send back."""
        verifier, cache, tolerance = self._setup()
        if isinstance(verifier, WebhookError):
            return _refusal(verifier)
        size = _content_length(request)
        if size > _MAX_BODY:
            return _refusal(_too_large(size))
        try:
            body = request.body
        except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE
            return _refusal(_too_large(size))
        try:
            message = verifier.verify(body, request.headers)
        except WebhookError as exc:
            return _refusal(exc)
        if cache is not None and message.id and not _claim(cache, message.id, tolerance):
            return _refusal(ReplayedMessageError("webhook message was already processed"))
        return message

    def release(self, message: WebhookMessage) -> None:
        """Forget a message id after the view failed (the sender will retry it)."""
        _, cache, _ = self._setup()
        if cache is not None and message.id:
            call_user_hook("webhook replay cache", _cache_delete, cache, _key(message.id))


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large(size: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"webhook body is {size} bytes, over the {_MAX_BODY}-byte limit",
        size=size,
        max_body_bytes=_MAX_BODY,
    )


def _key(msg_id: str) -> str:
    return "openpanel:webhook:" + hashlib.sha256(msg_id.encode()).hexdigest()


def _cache_add(alias: str, key: str, timeout: float) -> bool:
    """``caches[alias].add(key, 1, timeout)``: False when the key exists already."""
    return bool(caches[alias].add(key, 1, timeout))


def _cache_delete(alias: str, key: str) -> None:
    caches[alias].delete(key)


def _claim(cache: str, msg_id: str, tolerance: int) -> bool:
    """Record ``msg_id``; False when it was recorded already (a replay).

    A cache that fails is logged and treated as "not seen": the signature and the timestamp
    tolerance still hold.
    """
    ok, added = call_user_hook(
        "webhook replay cache", _cache_add, cache, _key(msg_id), 2 * tolerance + 60
    )
    return added is not False if ok else True


def _refusal(exc: WebhookError) -> HttpResponse:
    if not isinstance(exc, _NotConfiguredError):
        logger.info("openpanel: webhook refused (%s)", exc.reason)
    return HttpResponse(
        rejection_body(exc), status=exc.http_status, content_type="application/json"
    )


def _failed(response: HttpResponseBase) -> bool:
    return response.status_code >= 500


def _wrap(view: _V, receiver: _Receiver) -> _V:
    if iscoroutinefunction(view):
        async_view = cast("Callable[..., Awaitable[HttpResponseBase]]", view)

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            outcome = await sync_to_async(receiver.check)(request)
            if isinstance(outcome, HttpResponse):
                return outcome
            request.openpanel_webhook = outcome  # pyright: ignore[reportAttributeAccessIssue]
            try:
                response = await async_view(request, *args, **kwargs)
            except BaseException:
                await sync_to_async(receiver.release)(outcome)
                raise
            if _failed(response):
                await sync_to_async(receiver.release)(outcome)
            return response

        markcoroutinefunction(async_wrapper)
        return cast("_V", csrf_exempt(async_wrapper))

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        outcome = receiver.check(request)
        if isinstance(outcome, HttpResponse):
            return outcome
        request.openpanel_webhook = outcome  # pyright: ignore[reportAttributeAccessIssue]
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            receiver.release(outcome)
            raise
        if _failed(response):
            receiver.release(outcome)
        return response

    return cast("_V", csrf_exempt(wrapper))


@overload
def openpanel_webhook(view: _V, /) -> _V: ...


@overload
def openpanel_webhook(
    *,
    secrets: str | Sequence[str] | None = None,
    tolerance: int | None = None,
    replay_cache: str | _Unset | None = _FROM_SETTINGS,
) -> Callable[[_V], _V]: ...


def openpanel_webhook(
    view: _V | None = None,
    /,
    *,
    secrets: str | Sequence[str] | None = None,
    tolerance: int | None = None,
    replay_cache: str | _Unset | None = _FROM_SETTINGS,
) -> _V | Callable[[_V], _V]:
    """Verify OpenPanel webhooks before the view runs (sync or async views; CSRF-exempt).

    The verified :class:`~openpanel_core.webhooks.WebhookMessage` is
    ``request.openpanel_webhook``. Only ``POST`` is accepted. Example::

        @openpanel_webhook
        def openpanel_events(request):
            message = request.openpanel_webhook
            handle(message.type, message.data)  # message.id is the idempotency key
            return HttpResponse(status=204)

    Args:
        view: The view (when used without parentheses).
        secrets: ``"whsec_..."`` secret(s); default ``OPENPANEL['webhook_secrets']``.
        tolerance: Seconds a timestamp may be off; default ``OPENPANEL['webhook_tolerance']``.
        replay_cache: The cache alias remembering processed ids; None turns replay
            protection off. Default ``OPENPANEL['WEBHOOK_REPLAY_CACHE']`` or ``"default"``.

    Returns:
        The wrapped view, or a decorator when called with arguments.
    """
    receiver = _Receiver(secrets, tolerance, replay_cache)
    if view is not None:
        return _wrap(view, receiver)
    return lambda v: _wrap(v, receiver)


class WebhookView(View):
    """A class-based webhook receiver: override :meth:`handle`.

    Example::

        class OpenPanelEvents(WebhookView):
            def handle(self, request, message):
                Event.objects.get_or_create(webhook_id=message.id, defaults={"data": message.data})
                return None  # 204

    Attributes:
        webhook_secrets: Secret(s) for this view; None uses ``OPENPANEL['webhook_secrets']``.
        webhook_tolerance: Timestamp tolerance in seconds; None uses the settings.
        webhook_replay_cache: The cache alias for replay protection (None: off).
    """

    http_method_names = ["post"]  # noqa: RUF012 (Django's own attribute is a list)
    webhook_secrets: str | Sequence[str] | None = None
    webhook_tolerance: int | None = None
    webhook_replay_cache: str | _Unset | None = _FROM_SETTINGS
    _openpanel_receiver: ClassVar[_Receiver | None] = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Django's dispatch (CSRF-exempt: webhooks are signed instead).

        Args:
            request: The incoming request.
            *args: Positional arguments from the URL pattern.
            **kwargs: Keyword arguments from the URL pattern.

        Returns:
            The response of the method handler (405 for anything but ``POST``).
        """
        return super().dispatch(request, *args, **kwargs)

    dispatch.csrf_exempt = True  # pyright: ignore[reportFunctionMemberAccess]

    @classmethod
    def _receiver(cls) -> _Receiver:
        receiver = cls.__dict__.get("_openpanel_receiver")
        if not isinstance(receiver, _Receiver):
            receiver = _Receiver(
                cls.webhook_secrets, cls.webhook_tolerance, cls.webhook_replay_cache
            )
            cls._openpanel_receiver = receiver
        return receiver

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Verify, then call :meth:`handle` with the message.

        Args:
            request: The incoming webhook request.
            *args: Positional arguments from the URL pattern (not used).
            **kwargs: Keyword arguments from the URL pattern (not used).

        Returns:
            The refusal (the error's status, such as 400 or 413, with
            ``{"error": "<reason>"}``) when the request does not verify; otherwise :meth:`handle`'s response, or ``204`` when it
            returned None.
        """
        receiver = self._receiver()
        outcome = receiver.check(request)
        if isinstance(outcome, HttpResponse):
            return outcome
        request.openpanel_webhook = outcome  # pyright: ignore[reportAttributeAccessIssue]
        try:
            response = self.handle(request, outcome)
        except BaseException:
            receiver.release(outcome)
            raise
        if response is None:
            return HttpResponse(status=204)
        if _failed(response):
            receiver.release(outcome)
        return response

    def handle(self, request: HttpRequest, message: WebhookMessage) -> HttpResponseBase | None:
        """Process a verified message; return a response, or None for ``204 No Content``.

        Args:
            request: The request (its body is ``message.body``).
            message: The verified message: ``id`` (idempotency key), ``type``, ``data``.

        Returns:
            A response, or None for ``204 No Content``. A 5xx response (or an exception)
            forgets the message id, so the sender's retry is processed again.

        Raises:
            NotImplementedError: The subclass does not override it.
        """
        raise NotImplementedError("subclasses of WebhookView implement handle()")
