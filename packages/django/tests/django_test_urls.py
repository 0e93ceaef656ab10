"""The URLconf and views of the test app (a unique module name: one flat import namespace)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template import engines
from django.urls import include, path

import openpanel_django
from openpanel_core.webhooks import WebhookMessage

EXPLICIT_SECRET = "whsec_ZXhwbGljaXQtc2VjcmV0LWZvci10ZXN0cy0xMjM0NTY3OA=="

#: What the webhook views received (tests read and clear it).
received: list[tuple[str, WebhookMessage]] = []


def home(request: HttpRequest) -> HttpResponse:
    openpanel_django.track("home_viewed", {"section": "top"})
    response = HttpResponse(b"home page", content_type="text/plain")
    response["X-App"] = "yes"
    response.set_cookie("app_cookie", "1", httponly=True)
    return response


async def async_home(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    openpanel_django.track("async_viewed", {"section": "async"})
    return HttpResponse(b"async page", content_type="text/plain")


def item(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"item {pk}".encode(), status=201 if pk == 201 else 200)


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"plain")


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    openpanel_django.track("whoami")
    name = str(user.get_username()) if user.is_authenticated else "anonymous"
    return HttpResponse(name.encode())


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


def render(source: str, context: dict[str, Any], request: HttpRequest) -> HttpResponse:
    html = engines["django"].from_string(source).render(context, request)
    return HttpResponse(html.encode())


def page(request: HttpRequest) -> HttpResponse:
    nonce = request.GET.get("nonce")
    if nonce is not None:
        request.csp_nonce = nonce  # pyright: ignore[reportAttributeAccessIssue]
    return render("{% load openpanel %}<head>{% openpanel_script %}</head>", {}, request)


def page_options(request: HttpRequest) -> HttpResponse:
    return render(
        "{% load openpanel %}<head>{% openpanel_script trackOutgoingLinks=True %}</head>",
        {"csp_nonce": "ctx-nonce"},
        request,
    )


def flag(message: WebhookMessage, name: str) -> bool:
    data: Any = (message.data or {}).get("data")
    return isinstance(data, dict) and bool(cast("dict[str, Any]", data).get(name))


@openpanel_django.openpanel_webhook
def hook_fn(request: HttpRequest) -> HttpResponse:
    message = openpanel_django.webhook_message(request)
    received.append(("fn", message))
    if flag(message, "fail"):
        return HttpResponse(b"failed", status=503)
    return JsonResponse({"ok": True, "type": message.type})


@openpanel_django.openpanel_webhook
async def hook_async(request: HttpRequest) -> HttpResponse:
    message = openpanel_django.webhook_message(request)
    received.append(("async", message))
    return JsonResponse({"ok": True, "type": message.type})


@openpanel_django.openpanel_webhook(secrets=EXPLICIT_SECRET, replay_cache=None)
def hook_explicit(request: HttpRequest) -> HttpResponse:
    message = openpanel_django.webhook_message(request)
    received.append(("explicit", message))
    return HttpResponse(status=204)


class HookView(openpanel_django.WebhookView):
    def handle(self, request: HttpRequest, message: WebhookMessage) -> HttpResponseBase | None:
        received.append(("class", message))
        if flag(message, "raise"):
            raise RuntimeError("handler failed")
        return None


def make_user(username: str = "ada", **fields: Any) -> Any:
    return get_user_model().objects.update_or_create(username=username, defaults=fields)[0]


urlpatterns = [
    path("", home),
    path("async/", async_home),
    path("items/<int:pk>/", item),
    path("static/app.css", plain),
    path("health", plain),
    path("whoami/", whoami),
    path("boom/", boom),
    path("page/", page),
    path("page-options/", page_options),
    path("hooks/fn/", hook_fn),
    path("hooks/async/", hook_async),
    path("hooks/explicit/", hook_explicit),
    path("hooks/class/", HookView.as_view()),
    path("_op/", include("openpanel_django.urls")),
]
