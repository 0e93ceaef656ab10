"""A strict Content-Security-Policy with a per-request nonce (what django-csp does).

The OpenPanel snippet picks the nonce up from ``request.csp_nonce``; the first-party script
and proxy mean the policy needs no third-party origin.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class NonceCSPMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # pyright: ignore[reportAttributeAccessIssue]
        response = self.get_response(request)
        response["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}'; connect-src 'self'"
        )
        return response
