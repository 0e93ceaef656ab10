"""Test helpers: assert what your app tracked, without a network.

``RecordingTransport`` answers like an OpenPanel server and records every event::

    from openpanel_core import OpenPanel
    from openpanel_core.testing import RecordingTransport

    transport = RecordingTransport()
    client = OpenPanel("client-id", transport=transport, sync_mode=True)
    client.track("signup", {"plan": "pro"})
    assert transport.events[0].name == "signup"

For pytest, ``pytest_plugins = ["openpanel_core.pytest_plugin"]`` in your ``conftest.py`` adds
the ``openpanel_transport`` and ``openpanel_client`` fixtures (not registered automatically).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openpanel_core._constants import BATCH_PATH, HEADER_CLIENT_IP, HEADER_EVENT_ID
from openpanel_core._transport.base import Request, Response

__all__ = [
    "AsyncRecordingTransport",
    "RecordedEvent",
    "RecordingTransport",
    "decode_request",
    "ok_response",
]

Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event as the server would have received it.

    Attributes:
        type: The track type: ``"track"``, ``"identify"``, ``"increment"``, ``"group"``, ...
        payload: The event's payload, as sent (``name``, ``properties``, ``profileId``, ...).
        id: The event's idempotency id, when the client sent one.
        ip: The end user's IP the client forwarded (from the request context).
        user_agent: The end user's user agent the client forwarded.
        headers: The request's headers, lower-case names.
    """

    type: str
    payload: dict[str, Any]
    id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    headers: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def name(self) -> str | None:
        """The event name of a ``track``."""
        name = self.payload.get("name")
        return name if isinstance(name, str) else None

    @property
    def properties(self) -> dict[str, Any]:
        """The payload's properties (empty when absent)."""
        props = self.payload.get("properties")
        return props if isinstance(props, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def decode_request(request: Request) -> list[RecordedEvent]:
    """The events carried by a ``/track`` or ``/track/batch`` request.

    Args:
        request: A request the client sent (gzip-compressed or not).

    Returns:
        Its events in order: one for ``/track``, each item for ``/track/batch``.

    Raises:
        ValueError: The body is not JSON (``json.JSONDecodeError``).
        OSError: The body says it is gzip-compressed but is not (``gzip.BadGzipFile``).
        KeyError: An event lacks ``type`` or ``payload``.
    """
    body = request.content
    headers = {k.lower(): v for k, v in request.headers.items()}
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    data = json.loads(body)
    if request.url.endswith(BATCH_PATH):
        return [
            RecordedEvent(
                type=i["type"],
                payload=i["payload"],
                id=i.get("id"),
                ip=i.get("ip"),
                user_agent=i.get("userAgent"),
                headers=headers,
            )
            for i in data
        ]
    return [
        RecordedEvent(
            type=data["type"],
            payload=data["payload"],
            id=headers.get(HEADER_EVENT_ID),
            ip=headers.get(HEADER_CLIENT_IP),
            user_agent=headers.get("user-agent"),
            headers=headers,
        )
    ]


def ok_response(request: Request) -> Response:
    """What an OpenPanel server with the batch extension answers to a valid request.

    The default ``handler`` of the recording transports; a handler of your own can call it
    for the requests it does not want to fail.

    Args:
        request: A ``/track`` or ``/track/batch`` request.

    Returns:
        A 200 answer: for a batch, one accepted result per event (by id); otherwise the
        ``{"deviceId", "sessionId"}`` body of ``/track``.
    """
    if request.url.endswith(BATCH_PATH):
        results = [
            {"id": e.id, "status": 200, "deviceId": "", "sessionId": ""}
            for e in decode_request(request)
        ]
        return Response(
            200, {"content-type": "application/json"}, json.dumps({"results": results}).encode()
        )
    return Response(200, {"content-type": "application/json"}, b'{"deviceId":"","sessionId":""}')


class _Recorder:
    def __init__(self, handler: Handler | None = None) -> None:
        self.handler = handler or ok_response
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def _record(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        return self.handler(request)

    @property
    def events(self) -> list[RecordedEvent]:
        """Every event sent so far, in sending order."""
        with self._lock:
            requests = list(self.requests)
        return [e for r in requests for e in decode_request(r)]

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self.requests.clear()


class RecordingTransport(_Recorder):
    """A sync transport that records requests and answers through ``handler``.

    Args:
        handler: ``(Request) -> Response``; raise :class:`openpanel_core.TransportError` to
            simulate a network failure. Defaults to a successful OpenPanel answer.
    """

    def send(self, request: Request) -> Response:
        """Record and answer.

        Args:
            request: The request the client sends.

        Returns:
            The ``handler``'s answer.
        """
        return self._record(request)

    def close(self) -> None:
        """Nothing to release."""


class AsyncRecordingTransport(_Recorder):
    """The asyncio twin of :class:`RecordingTransport`.

    Args:
        handler: ``(Request) -> Response`` (a plain function); raise
            :class:`openpanel_core.TransportError` to simulate a network failure. Defaults to
            a successful OpenPanel answer.
    """

    async def send(self, request: Request) -> Response:
        """Record and answer.

        Args:
            request: The request the client sends.

        Returns:
            The ``handler``'s answer.
        """
        return self._record(request)

    async def aclose(self) -> None:
        """Nothing to release."""
