"""URLs for the first-party script and proxy: ``path("_op/", include("openpanel_django.urls"))``.

Mount them at the configured ``prefix`` (default ``/_op``): the snippet loads
``{prefix}/op.js`` and sends browser events to ``{prefix}/track``.
"""

from __future__ import annotations

from django.urls import path

from openpanel_django._views import proxy_view, script_view

app_name = "openpanel"

urlpatterns = [
    path("op.js", script_view, name="script"),
    path("track", proxy_view, {"subpath": "track"}, name="track"),
    path("track/batch", proxy_view, {"subpath": "track/batch"}, name="track-batch"),
    path("track/device-id", proxy_view, {"subpath": "track/device-id"}, name="device-id"),
]
