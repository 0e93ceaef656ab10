from __future__ import annotations

# --8<-- [start:views]
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

import openpanel_django
from openpanel_core.webhooks import WebhookMessage


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_POST
def signup(request: HttpRequest) -> HttpResponse:
    # Carries the visitor's IP and user agent: same device and session as their page views.
    openpanel_django.track("signup", {"plan": "free"})
    return HttpResponse("Welcome!", status=201)


# --8<-- [end:views]

received: list[WebhookMessage] = []


# --8<-- [start:webhooks]
@openpanel_django.openpanel_webhook  # secrets from OPENPANEL["webhook_secrets"]
def openpanel_events(request: HttpRequest) -> HttpResponse:
    message = openpanel_django.webhook_message(request)  # verified before the view runs
    received.append(message)  # message.id is the idempotency key, message.data the body
    return HttpResponse(status=204)


# --8<-- [end:webhooks]
