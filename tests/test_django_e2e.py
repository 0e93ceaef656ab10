"""The Django example shop against the real reference server, driven as a browser would.

The browser's own event (sent through the app's ``/_op/track`` proxy) and the server-side
events of the same visit (``purchase``, ``revenue``, ``server_request``) must land on one device
and one session, and the logged-in user's profile must be on the server-side events.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, free_port, start_server

ROOT = Path(__file__).resolve().parents[1]
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
VISITOR_IP = "198.51.100.77"


@pytest.fixture
def server(tmp_path: Path) -> Generator[RunningServer]:
    running = start_server(tmp_path / "server")
    yield running
    running.stop()


@pytest.fixture
def shop(server: RunningServer, tmp_path: Path) -> Generator[str]:
    """The example app in a subprocess (its own dev server), pointed at the reference server."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        OPENPANEL_CLIENT_ID=server.client_id,
        OPENPANEL_CLIENT_SECRET=server.secret,
        OPENPANEL_API_URL=server.url,
        OPENPANEL_IP_HEADER="x-forwarded-for",  # the app sits behind a (simulated) proxy
    )
    log = (tmp_path / "shop.log").open("w")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "examples.django_app"),
            *("--port", str(port), "--db", str(tmp_path / "shop.sqlite3")),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail("the shop exited:\n" + (tmp_path / "shop.log").read_text())
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the shop did not start:\n" + (tmp_path / "shop.log").read_text())
        time.sleep(0.1)
    yield url
    proc.terminate()  # SIGTERM: the app sends what is still queued, then exits
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


def csrf(browser: httpx.Client) -> str:
    token = browser.cookies.get("csrftoken")
    assert token, "Django set its CSRF cookie"
    return token


def wait_for(server: RunningServer, names: set[str], timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events: list[dict[str, Any]] = server.events(includes="properties,revenue,sdkName")["data"]
        if names <= {e["name"] for e in events} or time.monotonic() > deadline:
            return events
        time.sleep(0.25)


def test_browser_and_server_events_share_one_device_and_session(
    server: RunningServer, shop: str
) -> None:
    headers = {"user-agent": BROWSER_UA, "x-forwarded-for": VISITOR_IP}
    with httpx.Client(base_url=shop, headers=headers, follow_redirects=False) as browser:
        # The page with the snippet: first-party script, proxy as API, CSP nonce on the tags.
        page = browser.get("/")
        assert page.status_code == 200
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
        assert nonce is not None
        assert f'<script nonce="{nonce.group(1)}">' in page.text
        assert '"apiUrl":"/_op"' in page.text
        assert server.secret not in page.text
        script = re.search(r'src="(/_op/op\.js\?v=[^"]+)"', page.text)
        assert script is not None
        assert browser.get(script.group(1)).status_code == 200

        # What the browser script sends: through the app's proxy, with the page's origin.
        event = {
            "type": "track",
            "payload": {
                "name": "screen_view",
                "properties": {"__path": f"{shop}/", "__title": "Coffee gear"},
            },
        }
        sent = browser.post(
            "/_op/track",
            json=event,
            headers={"origin": shop, "openpanel-sdk-name": "web", "openpanel-sdk-version": "1"},
        )
        assert sent.status_code == 200, sent.text
        browser_ids = sent.json()
        assert browser_ids["deviceId"] and browser_ids["sessionId"]

        # Log in (Django's login form with its CSRF token), then buy.
        assert browser.get("/login/").status_code == 200
        login = browser.post(
            "/login/",
            data={
                "csrfmiddlewaretoken": csrf(browser),
                "username": "demo",
                "password": "demo-password",
                "next": "/products/aeropress/",
            },
            headers={"referer": f"{shop}/login/"},
        )
        assert login.status_code == 302, login.text
        product = browser.get("/products/aeropress/")
        assert "Buy now" in product.text
        bought = browser.post(
            "/products/aeropress/buy/",
            data={"csrfmiddlewaretoken": csrf(browser)},
            headers={"referer": f"{shop}/products/aeropress/"},
        )
        assert bought.status_code == 302
        assert browser.get(bought.headers["location"]).status_code == 200

    events = wait_for(server, {"screen_view", "purchase", "revenue", "server_request"})
    by_name: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_name.setdefault(e["name"], []).append(e)
    [view] = by_name["screen_view"]
    [purchase] = by_name["purchase"]
    [revenue] = by_name["revenue"]
    requests = by_name["server_request"]
    assert {r["properties"]["path"] for r in requests} >= {"/", "/login/", "/products/aeropress/"}

    # One device and one session for the browser's event and every server-side event.
    server_side = [purchase, revenue, *requests]
    assert view["deviceId"] == browser_ids["deviceId"]
    assert {e["deviceId"] for e in server_side} == {view["deviceId"]}
    assert {e["sessionId"] for e in server_side} == {view["sessionId"]}

    # The logged-in user is the profile of the server-side events after the login.
    profile = purchase["profileId"]
    assert profile and profile != view["deviceId"]
    assert revenue["profileId"] == profile
    assert revenue["revenue"] == 3995
    assert view["sdkName"] == "web"
    assert {e["sdkName"] for e in server_side} == {"python"}
    assert purchase["properties"]["sku"] == "aeropress"
    after_login = [r for r in requests if r["properties"]["path"].startswith("/products/")]
    assert after_login and {r["profileId"] for r in after_login} == {profile}
    identified = httpx.get(
        f"{server.url}/export/profiles/{profile}", headers=server.read_headers()
    ).json()
    assert identified["email"] == "demo@example.com"
    assert identified["firstName"] == "Demo"
