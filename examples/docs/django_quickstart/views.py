from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

# --8<-- [start:views]
import openpanel_django


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_POST
def signup(request: HttpRequest) -> HttpResponse:
    # Carries the visitor's IP and user agent: same device and session as their page views.
    openpanel_django.track("signup", {"plan": "free"})
    return HttpResponse("Welcome!", status=201)


# --8<-- [end:views]
