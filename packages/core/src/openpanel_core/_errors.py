"""Exceptions raised or reported by openpanel_core.

The hierarchy::

    OpenPanelError
    ├── ConfigurationError (also ValueError)   bad options; raised by constructors
    ├── EventValidationError (also ValueError) an event refused before sending; reported via on_error
    ├── QueueFullError                         events dropped because the queue was full; on_error
    ├── DeliveryError                          the server did not take a batch; on_error
    │   ├── TransportError                     network failure: connect, timeout, reset
    │   └── HTTPStatusError                    an HTTP status that is not a success
    └── WebhookError                           see openpanel_core.webhooks
        ├── WebhookVerificationError           ... and its reason-specific subclasses
        ├── PayloadTooLargeError
        └── InvalidSecretError (also ValueError)

Only configuration errors and webhook verification raise into the caller. Everything that goes
wrong while tracking is counted, logged once per kind and handed to the ``on_error`` hook.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DeliveryError",
    "EventValidationError",
    "HTTPStatusError",
    "OpenPanelError",
    "QueueFullError",
    "TransportError",
]


class OpenPanelError(Exception):
    """Root of every exception this package defines."""


class ConfigurationError(OpenPanelError, ValueError):
    """An option is missing or invalid."""


class EventValidationError(OpenPanelError, ValueError):
    """An event was refused on the client, before it was queued or sent.

    Args:
        message: What is wrong with the event.
        field: The payload field at fault.

    Attributes:
        field: The payload field at fault, for example ``"name"``.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class QueueFullError(OpenPanelError):
    """Events were dropped because the queue hit its count or byte bound.

    Args:
        message: What happened.
        dropped: How many events were dropped since the last report.

    Attributes:
        dropped: How many events were dropped since the last report.
    """

    def __init__(self, message: str, *, dropped: int) -> None:
        super().__init__(message)
        self.dropped = dropped


class DeliveryError(OpenPanelError):
    """Events could not be delivered (given up after retries, or refused by the server)."""


class TransportError(DeliveryError):
    """A network-level failure: connection refused or reset, DNS, timeout."""


class HTTPStatusError(DeliveryError):
    """The server answered with a status that is not a success.

    Args:
        message: What happened.
        status_code: The HTTP status code.
        body: The response body (kept up to 1,000 characters).

    Attributes:
        status_code: The HTTP status code.
        body: At most the first 1,000 characters of the response body.
        retryable: Whether the status is one the client retries (429, 5xx).
    """

    def __init__(self, message: str, *, status_code: int, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body[:1000]

    @property
    def retryable(self) -> bool:
        """True for 408, 429 and 5xx, the statuses worth another attempt."""
        return self.status_code in (408, 429) or self.status_code >= 500
