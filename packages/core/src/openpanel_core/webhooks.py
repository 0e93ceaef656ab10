"""Verify and sign webhooks: Standard Webhooks v1, and the legacy ``X-OpenPanel-Signature``.

Receive a webhook (verify the raw body bytes, never re-serialised JSON)::

    from openpanel_core.webhooks import Verifier, WebhookVerificationError

    verifier = Verifier(os.environ["OPENPANEL_WEBHOOK_SECRET"])  # "whsec_..."


    def handle(body: bytes, headers: Mapping[str, str]) -> int:
        try:
            message = verifier.verify(body, headers)
        except WebhookVerificationError as exc:  # exc.reason says why, exc.http_status is 400
            return exc.http_status
        process(message.id, message.type, message.data)  # message.id is the idempotency key
        return 204

One-off checks can call ``verify(body, headers, secret)``. During a rotation pass several
secrets: ``Verifier([new_secret, old_secret])``. Every failure raises a `WebhookError` subclass
with a ``reason`` code; `PayloadTooLargeError` (HTTP 413) comes before any hashing.

Send one::

    body = json.dumps({"type": "event.created", "data": {...}}).encode()
    headers = sign(body, secret, msg_id="msg_01J...")  # webhook-id, -timestamp, -signature

The legacy scheme (``scheme="openpanel"``) must be chosen explicitly. It signs neither a
timestamp nor an id, so it has no replay protection.
"""

from __future__ import annotations

from openpanel_core._webhooks import (
    InvalidPayloadError,
    InvalidSecretError,
    InvalidTimestampError,
    MalformedHeaderError,
    MissingHeaderError,
    NoSupportedSignatureError,
    PayloadTooLargeError,
    ReplayedMessageError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    Verifier,
    WebhookError,
    WebhookMessage,
    WebhookVerificationError,
    constant_time_equal,
    generate_secret,
    sign,
    verify,
)

__all__ = [
    "InvalidPayloadError",
    "InvalidSecretError",
    "InvalidTimestampError",
    "MalformedHeaderError",
    "MissingHeaderError",
    "NoSupportedSignatureError",
    "PayloadTooLargeError",
    "ReplayedMessageError",
    "SignatureMismatchError",
    "TimestampOutOfToleranceError",
    "Verifier",
    "WebhookError",
    "WebhookMessage",
    "WebhookVerificationError",
    "constant_time_equal",
    "generate_secret",
    "sign",
    "verify",
]
