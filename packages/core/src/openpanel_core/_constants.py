"""Protocol constants shared by the client, the server and the generated browser package."""

from __future__ import annotations

from openpanel_core._version import __version__

__all__ = [
    "BATCH_PATH",
    "DEFAULT_API_URL",
    "DEVICE_ID_PATH",
    "HEADER_CLIENT_ID",
    "HEADER_CLIENT_IP",
    "HEADER_CLIENT_SECRET",
    "HEADER_EVENT_ID",
    "HEADER_SDK_NAME",
    "HEADER_SDK_VERSION",
    "MAX_BATCH_ITEMS",
    "MAX_EVENT_NAME_LENGTH",
    "RESERVED_EVENT_NAMES",
    "SDK_NAME",
    "SDK_VERSION",
    "SESSION_TIMEOUT_SECONDS",
    "TRACK_PATH",
    "USER_AGENT",
]

SDK_NAME = "python"
SDK_VERSION = __version__
#: Sent on our own requests; `name/version` is what OpenPanel classifies as a server caller.
USER_AGENT = f"openpanel-python/{__version__}"

DEFAULT_API_URL = "https://api.openpanel.dev"
TRACK_PATH = "/track"
#: Extension of this suite: many events in one request, each with its own id and end-user context.
BATCH_PATH = "/track/batch"
DEVICE_ID_PATH = "/track/device-id"

HEADER_CLIENT_ID = "openpanel-client-id"
HEADER_CLIENT_SECRET = "openpanel-client-secret"  # noqa: S105 - a header name, not a secret
HEADER_SDK_NAME = "openpanel-sdk-name"
HEADER_SDK_VERSION = "openpanel-sdk-version"
HEADER_CLIENT_IP = "openpanel-client-ip"
#: Extension: the idempotency id of a single `POST /track` (stock OpenPanel ignores it).
HEADER_EVENT_ID = "openpanel-event-id"

#: Names the server writes itself; clients may not send them.
RESERVED_EVENT_NAMES = frozenset({"session_start", "session_end"})
MAX_EVENT_NAME_LENGTH = 80
#: Inactivity that ends a session, as on the OpenPanel server.
SESSION_TIMEOUT_SECONDS = 30 * 60
#: Largest number of items a `POST /track/batch` request may carry.
MAX_BATCH_ITEMS = 2000
