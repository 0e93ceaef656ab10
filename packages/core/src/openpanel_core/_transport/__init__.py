"""Pluggable HTTP transports: httpx (default), requests, and your own."""

from __future__ import annotations

from openpanel_core._transport.base import AsyncTransport, Request, Response, Transport
from openpanel_core._transport.httpx import AsyncHttpxTransport, HttpxTransport
from openpanel_core._transport.requests import RequestsTransport

__all__ = [
    "AsyncHttpxTransport",
    "AsyncTransport",
    "HttpxTransport",
    "Request",
    "RequestsTransport",
    "Response",
    "Transport",
]
