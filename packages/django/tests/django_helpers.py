"""Test helpers for openpanel-django (a unique module name: one flat import namespace)."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from contextlib import contextmanager
from http.cookies import SimpleCookie
from typing import Any, Protocol, cast

from django.test import AsyncClient, Client, override_settings

from openpanel_core.testing import RecordedEvent, RecordingTransport

__all__ = [
    "BASE_OPENPANEL",
    "CLIENT_ID",
    "MIDDLEWARE",
    "SECRET",
    "AsyncWeb",
    "OpenPanelFixture",
    "Response",
    "Web",
    "response_snapshot",
]

CLIENT_ID = "5b5a4b5e-6a36-4b8e-9a1f-2c1b7f3e0d11"
SECRET = "sec_django_tests_do_not_leak"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "openpanel_django.middleware.OpenPanelMiddleware",
]
MIDDLEWARE_WITHOUT = [m for m in MIDDLEWARE if not m.startswith("openpanel_django")]

BASE_OPENPANEL: dict[str, Any] = {
    "client_id": CLIENT_ID,
    "client_secret": SECRET,
    "api_url": "http://127.0.0.1:9",
    "track_requests": True,
    "exclude_paths": ["/static/*", "/health"],
}


class OpenPanelFixture:
    """The test's OpenPanel settings and the transport recording what the client sends."""

    def __init__(self) -> None:
        self.transport = RecordingTransport()

    def config(self, **changes: Any) -> dict[str, Any]:
        """``settings.OPENPANEL`` for a sync-mode client recording into ``transport``."""
        values: dict[str, Any] = {
            **BASE_OPENPANEL,
            "CLIENT_OPTIONS": {"transport": self.transport, "sync_mode": True},
        }
        values.update(changes)
        return values

    @contextmanager
    def settings(self, **changes: Any) -> Generator[None]:
        """Override ``settings.OPENPANEL`` with the base values plus ``changes``."""
        with override_settings(OPENPANEL=self.config(**changes)):
            yield

    @property
    def events(self) -> list[RecordedEvent]:
        """Everything the client sent so far."""
        return self.transport.events

    def named(self, name: str) -> list[RecordedEvent]:
        """The ``track`` events called ``name``."""
        return [e for e in self.events if e.type == "track" and e.name == name]

    def of_type(self, kind: str) -> list[RecordedEvent]:
        """The events of one wire type (``identify``, ...)."""
        return [e for e in self.events if e.type == kind]


class Response(Protocol):
    """What the tests read from a Django test response."""

    @property
    def status_code(self) -> int: ...
    @property
    def content(self) -> bytes: ...
    @property
    def cookies(self) -> SimpleCookie: ...
    @property
    def headers(self) -> Mapping[str, str]: ...

    def __getitem__(self, header: str) -> str: ...
    def __contains__(self, header: str) -> bool: ...
    def items(self) -> Iterable[tuple[str, str]]: ...
    def json(self) -> Any: ...


class Web:
    """``django.test.Client`` answering the tests' :class:`Response`."""

    def __init__(self, **defaults: Any) -> None:
        self.client = Client(**defaults)

    @property
    def cookies(self) -> SimpleCookie:
        """The cookie jar."""
        return self.client.cookies

    @cookies.setter
    def cookies(self, jar: SimpleCookie) -> None:
        self.client.cookies = jar

    def force_login(self, user: Any) -> None:
        """Log ``user`` in (a session cookie in the jar)."""
        self.client.force_login(user)

    def get(self, path: str, data: Mapping[str, Any] | None = None, **extra: Any) -> Response:
        """GET ``path``."""
        return self.client.get(path, data, **extra)

    def head(self, path: str, **extra: Any) -> Response:
        """HEAD ``path``."""
        return self.client.head(path, **extra)

    def post(
        self, path: str, data: Any = None, content_type: str = "application/json", **extra: Any
    ) -> Response:
        """POST ``data`` (bytes, or a dict sent as JSON or form data) to ``path``."""
        return self.client.post(path, data, content_type=content_type, **extra)

    def generic(self, method: str, path: str, data: bytes = b"", **extra: Any) -> Response:
        """Any method."""
        return self.client.generic(method, path, data, **extra)


class AsyncWeb:
    """``django.test.AsyncClient`` answering the tests' :class:`Response`."""

    def __init__(self, **defaults: Any) -> None:
        self.client = AsyncClient(**defaults)

    @property
    def cookies(self) -> SimpleCookie:
        """The cookie jar."""
        return self.client.cookies

    @cookies.setter
    def cookies(self, jar: SimpleCookie) -> None:
        self.client.cookies = jar

    async def get(self, path: str, **extra: Any) -> Response:
        """GET ``path``."""
        return await self.client.get(path, **extra)

    async def post(
        self, path: str, data: Any = None, content_type: str = "application/json", **extra: Any
    ) -> Response:
        """POST to ``path``."""
        return await self.client.post(path, data, content_type=content_type, **extra)


def response_snapshot(response: Any) -> tuple[int, list[tuple[str, str]], bytes, list[str]]:
    """Status, headers, body and Set-Cookie lines: what a browser sees."""
    headers = sorted((k.lower(), str(v)) for k, v in cast("Mapping[str, Any]", response).items())
    cookies = sorted(m.output(header="") for m in response.cookies.values())
    content = b"".join(response) if getattr(response, "streaming", False) else response.content
    return response.status_code, headers, content, cookies
