"""OpenPanel analytics for Python: a client that never blocks or breaks your application.

::

    from openpanel_core import OpenPanel

    op = OpenPanel(client_id="...", client_secret="...")
    op.track("signup", {"plan": "pro"}, profile_id="user-1")

See :class:`OpenPanel` (threads) and :class:`AsyncOpenPanel` (asyncio); both share every option
and call. :mod:`openpanel_core.webhooks` verifies signed webhooks, :mod:`openpanel_core.testing`
records what your app tracked, and ``python -m openpanel_core.schema`` prints the wire protocol's
JSON Schema.
"""

from __future__ import annotations

from openpanel_core._async_client import AsyncOpenPanel
from openpanel_core._client import OpenPanel
from openpanel_core._config import ClientOptions, Stats
from openpanel_core._context import RequestContext, copy_context, current_context
from openpanel_core._errors import (
    ConfigurationError,
    DeliveryError,
    EventValidationError,
    HTTPStatusError,
    OpenPanelError,
    QueueFullError,
    TransportError,
)
from openpanel_core._session import SessionManager, load_or_create_device_id, new_device_id
from openpanel_core._transport import (
    AsyncHttpxTransport,
    AsyncTransport,
    HttpxTransport,
    Request,
    RequestsTransport,
    Response,
    Transport,
)
from openpanel_core._version import __version__

__all__ = [
    "AsyncHttpxTransport",
    "AsyncOpenPanel",
    "AsyncTransport",
    "ClientOptions",
    "ConfigurationError",
    "DeliveryError",
    "EventValidationError",
    "HTTPStatusError",
    "HttpxTransport",
    "OpenPanel",
    "OpenPanelError",
    "QueueFullError",
    "Request",
    "RequestContext",
    "RequestsTransport",
    "Response",
    "SessionManager",
    "Stats",
    "Transport",
    "TransportError",
    "__version__",
    "copy_context",
    "current_context",
    "load_or_create_device_id",
    "new_device_id",
]
