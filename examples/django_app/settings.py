"""Settings of the example shop (one file; values from the environment).

``OPENPANEL_CLIENT_ID``, ``OPENPANEL_CLIENT_SECRET`` and ``OPENPANEL_API_URL`` (default
http://127.0.0.1:3333, the reference server) connect it to OpenPanel;
``OPENPANEL_WEBHOOK_SECRET`` ("whsec_...") lets it receive webhooks; ``OPENPANEL_IP_HEADER``
(e.g. ``x-forwarded-for``) names a trusted proxy header; ``DJANGO_APP_DB`` is the SQLite file.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "openpanel_django",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "examples.django_app.csp.NonceCSPMiddleware",
    # After AuthenticationMiddleware: the logged-in user becomes the events' profile.
    "openpanel_django.middleware.OpenPanelMiddleware",
]

ROOT_URLCONF = "examples.django_app.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_APP_DB") or HERE / ".data" / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
LOGOUT_REDIRECT_URL = "index"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "openpanel_core": {"handlers": ["console"], "level": "WARNING"},
        "openpanel_django": {"handlers": ["console"], "level": "INFO"},
        "examples.django_app": {"handlers": ["console"], "level": "INFO"},
    },
}

_client_id = os.environ.get("OPENPANEL_CLIENT_ID", "")
OPENPANEL = {
    "client_id": _client_id,
    "client_secret": os.environ.get("OPENPANEL_CLIENT_SECRET") or None,
    "api_url": os.environ.get("OPENPANEL_API_URL", "http://127.0.0.1:3333"),
    "disabled": not _client_id,
    "track_requests": True,
    "exclude_paths": ["/healthz", "/favicon.ico"],
    "ip_header": os.environ.get("OPENPANEL_IP_HEADER") or None,
    "webhook_secrets": [s for s in [os.environ.get("OPENPANEL_WEBHOOK_SECRET")] if s],
    # The browser script tracks clicks on elements with data-track="...".
    "browser": {"trackAttributes": True, "trackOutgoingLinks": True},
    "IDENTIFY": "examples.django_app.views.identify_customer",
    "CLIENT_OPTIONS": {"flush_interval": 0.5},
}
