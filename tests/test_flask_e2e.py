"""End to end: the Flask example shop, a browser's requests, the real reference server.

The browser's own event (through the app's first-party proxy) and the backend events tracked
while serving the same visitor land in one device and one session, and the logged-in user is
the profile of the backend events.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server
from werkzeug.serving import BaseWSGIServer, make_server

from examples.flask_app import create_app, openpanel
from openpanel_core.webhooks import generate_secret, sign

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
# The reverse proxy in front of the app appends the visitor's public address.
BROWSER_HEADERS = {
    "User-Agent": BROWSER_UA,
    "Accept-Language": "en-GB,en;q=0.9",
    "X-Forwarded-For": "203.0.113.50",
}
WEBHOOK_SECRET = generate_secret()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def shop(server: RunningServer) -> Iterator[tuple[str, Any]]:
    app = create_app(
        {
            "SECRET_KEY": "e2e-secret-key",
            "OPENPANEL_CLIENT_ID": server.client_id,
            "OPENPANEL_CLIENT_SECRET": server.secret,
            "OPENPANEL_API_URL": server.url,
            "OPENPANEL_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
            "OPENPANEL_CLIENT_OPTIONS": {"flush_interval": 0.2},
            # As deployed behind a reverse proxy: the visitor's address is in X-Forwarded-For.
            "OPENPANEL_IP_HEADER": "x-forwarded-for",
        }
    )
    http: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="flask-e2e", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", app
    finally:
        http.shutdown()
        thread.join(5)
        openpanel.shutdown(app, timeout=5.0)


def test_browser_and_backend_events_share_device_and_session(
    server: RunningServer, shop: tuple[str, Any]
) -> None:
    url, app = shop
    with httpx.Client(
        base_url=url, headers=BROWSER_HEADERS, follow_redirects=True, timeout=10
    ) as browser:
        page = browser.get("/")
        assert page.status_code == 200
        assert '<script src="/_op/op.js?v=' in page.text
        assert server.secret not in page.text
        assert browser.get("/_op/op.js").status_code == 200

        # What the browser script sends on load, through the app's own origin.
        tracked = browser.post(
            "/_op/track",
            content=json.dumps(
                {
                    "type": "track",
                    "payload": {
                        "name": "screen_view",
                        "properties": {"__path": f"{url}/", "__title": "Coffee gear"},
                    },
                }
            ),
            headers={
                "Content-Type": "application/json",
                "Origin": url,
                "openpanel-sdk-name": "web",
                "openpanel-sdk-version": "1.0.0",
            },
        )
        assert tracked.status_code == 200, tracked.text
        browser_ids = tracked.json()

        assert browser.get("/products/grinder").status_code == 200
        login = browser.post("/login", data={"name": "Ada Lovelace", "next": "/products/grinder"})
        assert login.status_code == 200 and "Ada Lovelace" in login.text
        bought = browser.post("/buy/grinder", data={"quantity": "2"})
        assert bought.status_code == 200 and "is on its way" in bought.text

    assert openpanel.state(app).client.flush(10)
    rows = [
        e
        for e in server.events(includes="properties,revenue,sdkName")["data"]
        if e["name"] not in ("session_start", "session_end")
    ]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)

    [browser_event] = by_name["screen_view"]
    backend = [r for r in rows if r["name"] != "screen_view"]
    assert {"login", "purchase", "revenue", "server_request"} <= set(by_name)
    assert browser_event["deviceId"] == browser_ids["deviceId"]
    assert browser_event["sessionId"] == browser_ids["sessionId"]
    assert {r["deviceId"] for r in backend} == {browser_event["deviceId"]}
    assert {r["sessionId"] for r in backend} == {browser_event["sessionId"]}

    [purchase] = by_name["purchase"]
    [revenue] = by_name["revenue"]
    assert purchase["profileId"] == revenue["profileId"] == "user-ada-lovelace"
    assert by_name["login"][0]["profileId"] == "user-ada-lovelace"
    assert revenue["revenue"] == 2 * 12900
    assert browser_event["sdkName"] == "web"
    assert purchase["properties"]["quantity"] == "2"  # the export's properties are strings
    paths = {r["properties"]["path"] for r in by_name["server_request"]}
    assert {"/", "/products/grinder", "/login", "/buy/grinder"} <= paths
    assert not any(p.startswith("/_op") for p in paths)


def test_the_webhook_receiver_accepts_only_signed_deliveries(shop: tuple[str, Any]) -> None:
    url, _ = shop
    body = json.dumps({"type": "event.created", "data": {"name": "purchase"}}).encode()
    with httpx.Client(base_url=url, timeout=10) as http:
        forged = http.post("/webhooks/openpanel", content=body)
        assert forged.status_code == 400
        assert forged.json() == {"error": "missing_header"}
        headers = sign(body, WEBHOOK_SECRET, msg_id="msg_e2e_1")
        ok = http.post("/webhooks/openpanel", content=body, headers=headers)
        assert ok.status_code == 204
        assert "msg_e2e_1" in http.get("/webhooks").text
