"""End to end: the reference server delivers signed webhooks to each example app's receiver.

For the Django, Flask and FastAPI examples: the real server (a subprocess) has an endpoint
pointing at the app's ``POST /webhooks/openpanel`` through a small recording proxy, so the
test holds the exact requests the server sent. Then:

* a real delivery (an event tracked through ``/track``) is verified and accepted (2xx);
* the captured delivery, tampered (body, id, timestamp), stripped to the legacy header,
  re-signed with a stale or future timestamp or with another secret, is refused with 400;
  so is an immediate verbatim replay (inside the tolerance window): every framework's receiver
  remembers processed ids by default (Django's cache, the Flask and FastAPI receivers'
  in-memory replay cache);
* a secret rotation keeps deliveries valid: during the grace period the app still on the old
  secret accepts them, then the app switches; a rotation without grace makes the next
  delivery fail until the app has the new secret, and the server's retry then succeeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from server_helpers import RunningServer, eventually, free_port, start_server
from werkzeug.serving import BaseWSGIServer, make_server

from openpanel_core.webhooks import generate_secret, sign

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "OPENPANEL_SERVER_WEBHOOK_ALLOW_SUBNETS": "127.0.0.0/8",
    "OPENPANEL_SERVER_WEBHOOK_ALLOW_HTTP": "1",
    # Retries within seconds, long enough (about 20 s) to restart an app in between.
    "OPENPANEL_SERVER_WEBHOOK_SCHEDULE": "0,1,1,2,2,3,3,4,4",
}


# ---------------------------------------------------------------------- the recording proxy


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Proxy:
    """Forwards deliveries to the app's receiver and records request and answer."""

    upstream: str
    captured: list[Captured] = field(default_factory=list[Captured])

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {
                    k.lower(): v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                try:
                    status = httpx.post(
                        proxy.upstream, content=body, headers=headers, timeout=10
                    ).status_code
                except httpx.HTTPError:
                    # The app is down (restarting): drop the connection, as the server would
                    # see without the proxy, rather than answer a 502 (which means "slow down").
                    proxy.captured.append(Captured(headers, body, 0))
                    self.close_connection = True
                    return
                proxy.captured.append(Captured(headers, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/openpanel"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------- the example apps


class App(Protocol):
    name: str
    url: str

    def start(self, secrets: list[str]) -> None: ...
    def stop(self) -> None: ...
    def received(self) -> list[str] | None: ...


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "OPENPANEL_", "DJANGO_"))
    }


class SubprocessApp:
    """An example started with its documented command, secret from OPENPANEL_WEBHOOK_SECRET."""

    def __init__(self, name: str, module: str, tmp: Path, listing: str | None) -> None:
        self.name = name
        self.module = module
        self.tmp = tmp
        self.listing = listing
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, secrets: list[str]) -> None:
        env = _clean_env()
        env["OPENPANEL_WEBHOOK_SECRET"] = ",".join(secrets)  # Django and FastAPI take one
        args = [sys.executable, "-m", self.module, "--port", str(self.port)]
        if self.name == "django":
            args += ["--db", str(self.tmp / "django.sqlite3")]
        self.starts += 1
        log = (self.tmp / f"{self.name}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log())
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not start: " + self.log())
            time.sleep(0.1)

    def log(self) -> str:
        return (self.tmp / f"{self.name}-{self.starts}.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def received(self) -> list[str] | None:
        if self.listing is None:
            return None
        return httpx.get(self.url + self.listing).text.split("<code>")[1:]


class FlaskApp:
    """The Flask example in this process (as tests/test_flask_e2e.py runs it)."""

    name = "flask"

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http: BaseWSGIServer | None = None
        self.app: Any = None

    def start(self, secrets: list[str]) -> None:
        from examples.flask_app import create_app

        self.app = create_app(
            {
                "SECRET_KEY": "e2e",
                "OPENPANEL_CLIENT_ID": self.server.client_id,
                "OPENPANEL_CLIENT_SECRET": self.server.secret,
                "OPENPANEL_API_URL": self.server.url,
                "OPENPANEL_WEBHOOK_SECRETS": secrets,
                "OPENPANEL_CLIENT_OPTIONS": {"flush_interval": 0.2},
            }
        )
        self.http = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        from examples.flask_app import openpanel

        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
            self.http = None
            openpanel.shutdown(self.app, timeout=5.0)

    def received(self) -> list[str] | None:
        return httpx.get(self.url + "/webhooks").text.split("<code>")[1:]


@pytest.fixture(params=["django", "flask", "fastapi"])
def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RunningServer, App, Proxy]]:
    server = start_server(tmp_path / "server", env=ENV)
    app: App
    if request.param == "django":
        app = SubprocessApp("django", "examples.django_app", tmp_path, "/webhooks/")
    elif request.param == "fastapi":
        app = SubprocessApp("fastapi", "examples.fastapi_app", tmp_path, None)
    else:
        app = FlaskApp(server)
    proxy = Proxy(f"{app.url}/webhooks/openpanel")
    try:
        yield server, app, proxy
    finally:
        app.stop()
        proxy.close()
        server.stop()


# ---------------------------------------------------------------------- the test


def _cli(server: RunningServer, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(ENV)
    out = subprocess.run(
        [sys.executable, "-m", "openpanel_server", "--data-dir", str(server.data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


class Api:
    def __init__(self, server: RunningServer) -> None:
        root = _cli(
            server, "client", "create", "--project", server.creds["projectId"], "--type", "root"
        )
        self.headers = {
            "openpanel-client-id": root["clientId"],
            "openpanel-client-secret": root["clientSecret"],
        }
        self.base = f"{server.url}/api/webhooks"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(self.base + path, headers=self.headers, json=body)
        assert r.status_code in (200, 201), r.text
        data: dict[str, Any] = r.json()
        return data

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = httpx.get(self.base + path, headers=self.headers, params=params)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data


def _track(server: RunningServer, event_id: str) -> None:
    r = httpx.post(
        f"{server.url}/track",
        headers={**server.server_headers(), "openpanel-event-id": event_id},
        json={
            "type": "track",
            "payload": {"name": "webhook_probe", "properties": {"probe": event_id}},
        },
    )
    assert r.status_code == 200, r.text


def _message(api: Api, endpoint_id: str, source: str) -> dict[str, Any] | None:
    for m in api.get(f"/{endpoint_id}/messages", limit=100)["data"]:
        if m["sourceId"] == source:
            return m
    return None


def _succeeded(api: Api, endpoint_id: str, source: str) -> dict[str, Any] | None:
    found = _message(api, endpoint_id, source)
    return found if found is not None and found["state"] == "succeeded" else None


def _send(app: App, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(f"{app.url}/webhooks/openpanel", headers=headers, content=body)


def _post(app: App, headers: dict[str, str], body: bytes) -> int:
    return _send(app, headers, body).status_code


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def _resigned(headers: dict[str, str], body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    base = _without(headers, "webhook-id", "webhook-timestamp", "webhook-signature")
    return {**base, **sign(body, secret, msg_id=headers["webhook-id"], timestamp=timestamp)}


def test_the_server_delivers_to_the_example_receiver(
    setup: tuple[RunningServer, App, Proxy],
) -> None:
    server, app, proxy = setup
    api = Api(server)
    endpoint = api.post(
        "",
        {"url": proxy.url, "eventTypes": ["event.created"], "eventNames": ["webhook_probe"]},
    )
    eid, secret = endpoint["id"], endpoint["secret"]
    app.start([secret])

    # 1. A real delivery is verified and accepted.
    _track(server, "probe-1")
    first = eventually(lambda: _succeeded(api, eid, "probe-1"))
    [capture] = [c for c in proxy.captured if c.headers["webhook-id"] == first["id"]]
    assert capture.status in (200, 204)
    headers, body = capture.headers, capture.body
    listed = app.received()
    if listed is not None:
        assert any(first["id"] in item for item in listed), app.name

    # 2. What an attacker could send instead is refused with 400.
    now = int(time.time())
    flipped = body.replace(b"probe-1", b"probe-9")
    assert flipped != body
    other_id = {**headers, "webhook-id": "msg_" + "0" * 32}
    shifted = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}
    legacy_only = _without(headers, "webhook-id", "webhook-timestamp", "webhook-signature")
    attacks = {
        "tampered body": (headers, flipped),
        "tampered id": (other_id, body),
        "tampered timestamp": (shifted, body),
        "unsigned": (_without(headers, "webhook-signature"), body),
        "legacy header only (downgrade)": (legacy_only, body),
        "stale (10 min old)": (_resigned(headers, body, secret, now - 600), body),
        "from the future": (_resigned(headers, body, secret, now + 600), body),
        "wrong secret": (_resigned(headers, body, generate_secret(), now), body),
    }
    for what, (h, b) in attacks.items():
        assert _post(app, h, b) == 400, f"{app.name}: {what}"

    # 3. An immediate verbatim replay of the captured delivery, well inside the 5 min
    #    tolerance (so the signature and timestamp still verify): the id was processed, so
    #    every receiver refuses it before the view runs.
    assert time.time() - int(headers["webhook-timestamp"]) < 60
    before = app.received()
    replay = _send(app, headers, body)
    assert replay.status_code == 400, app.name
    assert "replayed" in replay.json().values(), (app.name, replay.text)  # error / detail
    assert app.received() == before  # the view did not run again

    # 4. Rotation with a grace period: the app still on the old secret accepts deliveries.
    new = api.post(f"/{eid}/rotate", {"gracePeriodSeconds": 3600})["secret"]
    _track(server, "probe-2")
    second = eventually(lambda: _succeeded(api, eid, "probe-2"))
    assert second["attempts"] == 1
    [cap2] = [c for c in proxy.captured if c.headers["webhook-id"] == second["id"]]
    assert len(cap2.headers["webhook-signature"].split()) == 2
    app.stop()
    app.start([new])  # the app switches to the new secret
    _track(server, "probe-3")
    assert eventually(lambda: _succeeded(api, eid, "probe-3"))["attempts"] == 1

    # 5. Rotation without grace: the app (still on `new`) refuses the next delivery until it
    #    gets the newest secret; the server's retries then get through.
    newest = api.post(f"/{eid}/rotate", {"gracePeriodSeconds": 0})["secret"]
    _track(server, "probe-4")
    refused = eventually(
        lambda: (m := _message(api, eid, "probe-4")) is not None and m["attempts"] >= 1 and m
    )
    assert refused
    app.stop()
    app.start([newest])
    try:
        fourth = eventually(lambda: _succeeded(api, eid, "probe-4"), timeout=40)
    except AssertionError:
        raise AssertionError(json.dumps(api.get(f"/{eid}/deliveries"), indent=1)) from None
    log = api.get(f"/{eid}/deliveries", messageId=fourth["id"])["data"]
    statuses = [d["statusCode"] for d in reversed(log)]
    assert statuses[0] == 400  # the app refused the signature of a secret it did not know
    assert statuses[-1] in (200, 204)
