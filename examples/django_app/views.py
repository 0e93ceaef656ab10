"""The shop's views: pages with the browser snippet, a purchase tracked server-side, webhooks."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

import openpanel_django
from openpanel_core.webhooks import WebhookMessage

logger = logging.getLogger("examples.django_app")

PRODUCTS: dict[str, dict[str, Any]] = {
    "aeropress": {"name": "AeroPress Go", "cents": 3995, "category": "brewers"},
    "grinder": {"name": "Hand grinder", "cents": 8900, "category": "grinders"},
    "beans": {"name": "Ethiopia Guji, 250 g", "cents": 1450, "category": "coffee"},
}
for _item in PRODUCTS.values():
    _item["price"] = f"€{_item['cents'] / 100:.2f}"

#: The webhooks received since the process started (newest first), for the /webhooks/ page.
WEBHOOKS: deque[WebhookMessage] = deque(maxlen=50)


def identify_customer(user: Any) -> dict[str, Any]:
    """``OPENPANEL['IDENTIFY']``: what OpenPanel's profile shows for a logged-in user."""
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "properties": {"staff": user.is_staff, "joined": user.date_joined.date().isoformat()},
    }


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/index.html", {"products": PRODUCTS})


def product(request: HttpRequest, sku: str) -> HttpResponse:
    item = PRODUCTS.get(sku)
    if item is None:
        raise Http404("no such product")
    return render(request, "shop/product.html", {"sku": sku, "item": item})


@require_POST
@login_required
def buy(request: HttpRequest, sku: str) -> HttpResponse:
    item = PRODUCTS.get(sku)
    if item is None:
        raise Http404("no such product")
    # Server-side events: the middleware's request context adds the visitor's IP, user agent
    # and the logged-in profile, so they join the browser's device and session.
    openpanel_django.track(
        "purchase", {"sku": sku, "category": item["category"], "price_cents": item["cents"]}
    )
    openpanel_django.revenue(item["cents"], {"sku": sku, "currency": "EUR"})
    return redirect("thanks", sku=sku)


@login_required
def thanks(request: HttpRequest, sku: str) -> HttpResponse:
    return render(request, "shop/thanks.html", {"item": PRODUCTS.get(sku)})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


@openpanel_django.openpanel_webhook
def openpanel_webhook_receiver(request: HttpRequest) -> HttpResponse:
    """``POST /webhooks/openpanel``: only signed, fresh, first-time deliveries get here."""
    message = openpanel_django.webhook_message(request)
    WEBHOOKS.appendleft(message)
    logger.info("webhook %s received (%s)", message.id, message.type)
    return HttpResponse(status=204)


def webhooks(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/webhooks.html", {"messages": list(WEBHOOKS)})
