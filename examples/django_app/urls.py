"""The shop's URLs; OpenPanel's first-party script and proxy live under /_op/."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from examples.django_app import views

urlpatterns = [
    path("", views.index, name="index"),
    path("products/<slug:sku>/", views.product, name="product"),
    path("products/<slug:sku>/buy/", views.buy, name="buy"),
    path("thanks/<slug:sku>/", views.thanks, name="thanks"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/openpanel", views.openpanel_webhook_receiver, name="openpanel-webhook"),
    path("healthz", views.healthz),
    path("_op/", include("openpanel_django.urls")),
]
