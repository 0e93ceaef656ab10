"""Pluggable HTTP transports: httpx (default), requests, and your own."""

from __future__ import annotations

import importlib

from openpanel_core._transport.base import AsyncTransport, Request, Response, Transport
from openpanel_core._transport.httpx import AsyncHttpxTransport, HttpxTransport
from openpanel_core._transport.requests import RequestsTransport

# Imported now, on the importing thread: the first request would otherwise import the IDNA
# codec (and stringprep) on a sender thread, and a fork() during that import leaves the child
# with import locks held by a thread that no longer exists (its DNS lookups then hang).
for _module in ("encodings.idna", "stringprep", "unicodedata"):
    importlib.import_module(_module)

__all__ = [
    "AsyncHttpxTransport",
    "AsyncTransport",
    "HttpxTransport",
    "Request",
    "RequestsTransport",
    "Response",
    "Transport",
]
