from __future__ import annotations

from django.urls import include, path

from examples.docs.django_quickstart import views

# --8<-- [start:urls]
urlpatterns = [
    path("", views.home),
    path("signup/", views.signup),
    path("webhooks/openpanel", views.openpanel_events),
    path("_op/", include("openpanel_django.urls")),  # op.js and the first-party /track proxy
]
# --8<-- [end:urls]
