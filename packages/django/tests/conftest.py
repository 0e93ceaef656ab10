"""Django configured once for these tests: in-memory SQLite, the test URLconf, OpenPanel on."""

from __future__ import annotations

from collections.abc import Iterator

import django
import pytest
from django.conf import settings
from django_helpers import BASE_OPENPANEL, MIDDLEWARE, OpenPanelFixture

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="openpanel-django-tests",
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "openpanel_django",
        ],
        MIDDLEWARE=MIDDLEWARE,
        ROOT_URLCONF="django_test_urls",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                    ]
                },
            }
        ],
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        OPENPANEL=BASE_OPENPANEL,
    )
    django.setup()


@pytest.fixture(scope="session", autouse=True)
def _database() -> Iterator[None]:
    """A shared-cache in-memory database with the auth and session tables."""
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0)
    yield
    connection.creation.destroy_test_db(name, verbosity=0)
    teardown_test_environment()


@pytest.fixture(autouse=True)
def op() -> Iterator[OpenPanelFixture]:
    """OpenPanel configured for the test, with a client that records what it sends."""
    fixture = OpenPanelFixture()
    with fixture.settings():
        yield fixture


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
