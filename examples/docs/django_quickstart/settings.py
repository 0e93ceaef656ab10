"""Django quick start: the settings a project adds for OpenPanel (plus a minimal project)."""

from __future__ import annotations

import os
from pathlib import Path

SECRET_KEY = "docs-example-not-a-secret"  # noqa: S105 (an example project)
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "examples.docs.django_quickstart.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).parent / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",  # for the CSP nonce and profile
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

# --8<-- [start:openpanel]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "openpanel_django",  # the {% load openpanel %} tag library and system checks
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "openpanel_django.middleware.OpenPanelMiddleware",  # after AuthenticationMiddleware
]

OPENPANEL: dict[str, object] = {
    "client_id": os.environ["OPENPANEL_CLIENT_ID"],
    "client_secret": os.environ["OPENPANEL_CLIENT_SECRET"],  # never sent to browsers
    "api_url": os.environ.get("OPENPANEL_API_URL", "https://api.openpanel.dev"),
    # The browser script ignores pages on localhost unless asked: on while developing.
    "browser": {"trackLocalhost": DEBUG},
}
# --8<-- [end:openpanel]

# --8<-- [start:webhooks]
# To receive the server's webhooks: your endpoint's whsec_... secret (during a rotation the new
# and the old one, comma-separated).
if "OPENPANEL_WEBHOOK_SECRET" in os.environ:
    OPENPANEL["webhook_secrets"] = os.environ["OPENPANEL_WEBHOOK_SECRET"].split(",")
# --8<-- [end:webhooks]
