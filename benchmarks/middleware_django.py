"""What openpanel-django's middleware adds to each request: the same Django app with and without it.

Run from the repository root::

    .tools/bin/uv run --no-sync python benchmarks/middleware_django.py           # about 2 minutes
    .tools/bin/uv run --no-sync python benchmarks/middleware_django.py --n 5000  # quicker

The app is Django's ``startproject`` stack (Security, Session, Common, CSRF, Authentication,
Messages, XFrame middleware; auth, contenttypes, sessions and messages apps; SQLite in memory)
with one JSON view. The instrumented app adds ``OpenPanelMiddleware`` after
``AuthenticationMiddleware``; everything else is identical. As the middleware-overhead
reference recommends, requests are made by calling the handler directly, never through
``django.test.Client``:

* WSGI: ``WSGIHandler()(environ, start_response)`` with a prepared environ, the body consumed
  and closed, as a WSGI server does;
* ASGI: ``await ASGIHandler()(scope, receive, send)`` in one event loop, one request after the
  other, with an ``async def`` view (the whole middleware chain runs async).

Each row alternates blocks of 200 requests between the plain and the instrumented handler (so
drift hits both alike) and reports the median and p99 of both and their difference. Every
request carries a browser's headers and ``X-Forwarded-For``, as in the reference.

Configurations: the default (the request context opened and closed, nothing sent); a logged-in
user (a session cookie: the middleware loads the user, identifies it once per session, and the
events' profile is set), once with a view that reads ``request.user`` itself (the usual case:
the lookup is shared) and once with a view that never does (the lookup is the middleware's
cost); and ``track_requests`` (one event per request, delivered by the client's sender thread
to the counting sink of ``benchmarks/sink.py`` in its own process). Target: at most 20 us
median added per request.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from middleware_common import TARGET_US, Sink, ameasure, cpu, measure, row

HERE = Path(__file__).resolve().parent
CLIENT_ID = "3f1c2b7e-8d4a-4c55-9e0f-1a2b3c4d5e6f"
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
OURS = "openpanel_django.middleware.OpenPanelMiddleware"
STACK = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
WITH_OURS = [*STACK[:5], OURS, *STACK[5:]]
HEADERS = {
    "host": "bench.example",
    "user-agent": UA,
    "accept": "application/json",
    "accept-language": "en-GB,en;q=0.9",
    "x-forwarded-for": "203.0.113.7",
}


# ------------------------------------------------------------------------------ the app


def item(request: Any, pk: int) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"id": pk, "name": "grinder"})


def item_for_user(request: Any, pk: int) -> Any:
    from django.http import JsonResponse

    user = request.user
    return JsonResponse({"id": pk, "name": "grinder", "user": user.is_authenticated})


async def aitem(request: Any, pk: int) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"id": pk, "name": "grinder"})


def urlpatterns() -> list[Any]:
    from django.urls import path

    return [
        path("items/<int:pk>/", item),
        path("user-items/<int:pk>/", item_for_user),
        path("aitems/<int:pk>/", aitem),
    ]


class Urls:
    """The ROOT_URLCONF (an object with ``urlpatterns``)."""

    @property
    def urlpatterns(self) -> list[Any]:
        return _URLS


_URLS: list[Any] = []


def configure(sink_url: str) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-secret-key-not-used-for-anything-real",
        ALLOWED_HOSTS=["bench.example"],
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "openpanel_django",
        ],
        MIDDLEWARE=STACK,
        ROOT_URLCONF=Urls(),
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        OPENPANEL=openpanel_settings(sink_url, "other"),
    )
    django.setup()
    _URLS.extend(urlpatterns())


def openpanel_settings(sink_url: str, tag: str, **extra: Any) -> dict[str, Any]:
    # Every client sends to the local sink, never to the internet.
    return {
        "client_id": CLIENT_ID,
        "client_secret": "sec_bench",
        "api_url": f"{sink_url}/r/{tag}/fast",
        "ip_header": "x-forwarded-for",
        **extra,
    }


def session_cookie() -> str:
    """Log a user in once; the cookie every logged-in request then sends."""
    from django.contrib.auth.models import User  # the default user model (no AUTH_USER_MODEL)
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user(
        "ada", "ada@example.com", "pw", first_name="Ada", last_name="Lovelace"
    )
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


# ------------------------------------------------------------------------------ callers


def wsgi_handler(middleware: list[str]) -> Any:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()  # loads MIDDLEWARE now


def asgi_handler(middleware: list[str]) -> Any:
    from django.core.handlers.asgi import ASGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=middleware):
        return ASGIHandler()


def wsgi_caller(handler: Any, path: str, cookie: str | None) -> Callable[[], None]:
    base = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench.example",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in HEADERS.items():
        base["HTTP_" + name.upper().replace("-", "_")] = value
    if cookie:
        base["HTTP_COOKIE"] = cookie

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert status.startswith("200"), status
        return None

    def call() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = handler(environ, start_response)
        try:
            for _ in body:
                pass
        finally:
            body.close()

    return call


def asgi_caller(handler: Any, path: str) -> Callable[[], Awaitable[None]]:
    headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("10.0.0.2", 50000),
        "server": ("bench.example", 80),
    }
    forever = asyncio.Event()  # never set: the "disconnect" listener waits until cancelled

    async def call() -> None:
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await forever.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200, message

        await handler(dict(scope), receive, send)

    return call


# ------------------------------------------------------------------------------ measuring


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="requests per app and row")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from django.test import override_settings

    import openpanel_django

    sink = Sink()
    rows: list[dict[str, Any]] = []
    sent = {"wsgi": 0, "asgi": 0}
    try:
        configure(sink.url)
        cookie = session_cookie()
        wsgi_rows: list[tuple[str, dict[str, Any], str, str | None]] = [
            ("default (context only)", {}, "/items/42/", None),
            ("logged-in user, view reads request.user", {}, "/user-items/42/", cookie),
            ("logged-in user, view ignores the user", {}, "/items/42/", cookie),
            ("track_requests (1 event/request)", {"track_requests": True}, "/items/42/", None),
        ]
        for label, extra, path, with_cookie in wsgi_rows:
            tag = "wsgi" if extra.get("track_requests") else "other"
            with override_settings(OPENPANEL=openpanel_settings(sink.url, tag, **extra)):
                plain = wsgi_caller(wsgi_handler(STACK), path, with_cookie)
                ours = wsgi_caller(wsgi_handler(WITH_OURS), path, with_cookie)
                a, b = measure(plain, ours, args.n)
                rows.append(row("WSGI", label, a, b))
                openpanel_django.get_client().flush(30)

        async def run_asgi() -> None:
            for label, extra in (
                ("default (context only)", {}),
                ("track_requests (1 event/request)", {"track_requests": True}),
            ):
                tag = "asgi" if extra.get("track_requests") else "other"
                with override_settings(OPENPANEL=openpanel_settings(sink.url, tag, **extra)):
                    plain = asgi_caller(asgi_handler(STACK), "/aitems/42/")
                    ours = asgi_caller(asgi_handler(WITH_OURS), "/aitems/42/")
                    a, b = await ameasure(plain, ours, args.n)
                    rows.append(row("ASGI", label, a, b))
                    openpanel_django.get_client().flush(30)

        asyncio.run(run_asgi())
        sent = {"wsgi": sink.events("wsgi"), "asgi": sink.events("asgi")}
    finally:
        sink.close()

    print()
    print(f"openpanel-django: added latency per request ({args.n:,} requests per app and row)")
    print()
    print(
        "| handler | configuration | median without | median with | **added median** "
        "| p99 without | p99 with | added p99 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['path']} | {r['config']} | {r['plain_median_us']:.1f} us "
            f"| {r['with_median_us']:.1f} us | **{r['added_median_us']:.1f} us** "
            f"| {r['plain_p99_us']:.1f} us | {r['with_p99_us']:.1f} us "
            f"| {r['added_p99_us']:.1f} us |"
        )
    print()
    # The target is for what every request pays: anonymous WSGI requests, with or without the
    # request event. A logged-in user's request also pays the profile and identify checks; the
    # user lookup itself is the app's cost when its view reads request.user anyway.
    targeted = [r for r in rows if r["path"] == "WSGI" and "logged-in" not in r["config"]]
    worst = max(r["added_median_us"] for r in targeted)
    verdict = "within" if worst <= TARGET_US else "OVER"
    print(
        f"Worst added median of the anonymous WSGI rows: {worst:.1f} us, {verdict} the "
        f"{TARGET_US:.0f} us target."
    )
    expected = args.n + min(2000, args.n)  # warm-up included
    print(
        f"track_requests events received by the sink: WSGI {sent['wsgi']:,}, "
        f"ASGI {sent['asgi']:,} (sent: {expected:,} each)"
    )
    print(f"Python {sys.version.split()[0]}, Django {django.__version__}, {cpu()}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "sink_events": sent}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
