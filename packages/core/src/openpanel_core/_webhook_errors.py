"""The webhook exception family (see the tree in ``openpanel_core._errors``).

Every class has a ``reason`` code (``missing_header``, ``signature_mismatch``, ...) and an
``http_status`` that framework helpers answer with: 400 for verification failures, 413 for an
oversize body, 500 for a misconfigured secret. Never 410: that tells senders to disable the
endpoint.
"""

from __future__ import annotations

from typing import Literal

from openpanel_core._errors import OpenPanelError

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
    "WebhookError",
    "WebhookVerificationError",
]


class WebhookError(OpenPanelError):
    """Root of every webhook error.

    Attributes:
        reason: A stable, machine-readable code, safe to log and to count.
    """

    reason: str = "webhook_error"

    @property
    def http_status(self) -> int:
        """The status a receiver should answer with (500: the receiver is misconfigured)."""
        return 500


class WebhookVerificationError(WebhookError):
    """The request is not a valid signed webhook; answer it with HTTP 400.

    Subclasses set `reason` to one of the codes of ``reference/webhooks.md`` §4.5.
    """

    reason: str = "verification_failed"

    @property
    def http_status(self) -> int:
        """Always 400 (never 410, which would make the sender disable the endpoint)."""
        return 400


class MissingHeaderError(WebhookVerificationError):
    """A required header is absent or empty."""

    reason = "missing_header"


class MalformedHeaderError(WebhookVerificationError):
    """A header is present but cannot be used (a bad message id, a legacy signature not 64 hex)."""

    reason = "malformed_header"


class InvalidTimestampError(WebhookVerificationError):
    """``webhook-timestamp`` is not 1 to 12 ASCII digits."""

    reason = "invalid_timestamp"


class TimestampOutOfToleranceError(WebhookVerificationError):
    """The signed timestamp is further from now than the tolerance allows.

    Args:
        message: What happened.
        reason: ``"timestamp_too_old"`` or ``"timestamp_too_new"``.
        timestamp: The timestamp sent, in Unix seconds.
        now: The receiver's clock, in Unix seconds.
        tolerance: The allowed distance in seconds (inclusive).

    Attributes:
        reason: ``"timestamp_too_old"`` or ``"timestamp_too_new"``.
        timestamp: The timestamp sent, in Unix seconds.
        now: The receiver's clock, in Unix seconds.
        tolerance: The allowed distance in seconds (inclusive).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["timestamp_too_old", "timestamp_too_new"],
        timestamp: int,
        now: float,
        tolerance: int,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.timestamp = timestamp
        self.now = now
        self.tolerance = tolerance


class NoSupportedSignatureError(WebhookVerificationError):
    """The signature header holds no entry of a supported version (``v1``)."""

    reason = "no_supported_signature"


class SignatureMismatchError(WebhookVerificationError):
    """Supported signature entries are present, but none matches any secret."""

    reason = "signature_mismatch"


class ReplayedMessageError(WebhookVerificationError):
    """The message id was already processed (raised only when a replay store is configured)."""

    reason = "replayed"


class InvalidPayloadError(WebhookVerificationError):
    """The body is authentic but is not a UTF-8 JSON object (only checked when parsing)."""

    reason = "invalid_payload"


class PayloadTooLargeError(WebhookError):
    """The body exceeds ``max_body_bytes``; it was rejected before any hashing.

    Args:
        message: What happened.
        size: The body size in bytes.
        max_body_bytes: The configured limit.

    Attributes:
        size: The body size in bytes.
        max_body_bytes: The configured limit.
    """

    reason = "payload_too_large"

    def __init__(self, message: str, *, size: int, max_body_bytes: int) -> None:
        super().__init__(message)
        self.size = size
        self.max_body_bytes = max_body_bytes

    @property
    def http_status(self) -> int:
        """Always 413."""
        return 413


class InvalidSecretError(WebhookError, ValueError):
    """A secret is empty or not valid base64; raised while decoding the secrets."""

    reason = "invalid_secret"
