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

Reject replays: a captured delivery verifies again until its timestamp leaves the tolerance
window, so give the verifier a replay store. `ReplayCache` keeps ids in memory for one process
(release an id with ``forget`` when processing failed, so the sender's retry is accepted);
several processes share a store such as Redis (see `ReplayCache`)::

    replays = ReplayCache()  # ids kept 600 s: twice the 300 s tolerance
    verifier = Verifier(secret, seen=replays)  # a replay raises ReplayedMessageError (400)

The Django, Flask and ASGI receivers do this by default.

The legacy scheme (``scheme="openpanel"``) must be chosen explicitly. It signs neither a
timestamp nor an id, so it has no replay protection.
"""

from __future__ import annotations

from openpanel_core._replay import ReplayCache
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
    "ReplayCache",
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
