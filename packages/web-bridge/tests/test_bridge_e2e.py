"""End to end against the real reference server: browser events through the proxy and backend
events in a request context land in the same device and session."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from bridge_helpers import BROWSER_UA
from server_helpers import RunningServer, start_server

from openpanel_web_bridge import (
    BridgeConfig,
    Proxy,
    device_cookie_header,
    new_device_id,
    read_device_cookie,
)

USER_IP = "203.0.113.9"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("bridge-server"))
    yield running
    running.stop()


def bridge_config(server: RunningServer, **overrides: Any) -> BridgeConfig:
    return BridgeConfig(
        client_id=server.client_id, client_secret=server.secret, api_url=server.url, **overrides
    )


def browser_headers(server: RunningServer) -> dict[str, str]:
    port = urlsplit(server.url).port
    origin = f"http://127.0.0.1:{port}"
    return {
        "content-type": "application/json",
        "user-agent": BROWSER_UA,
        "origin": origin,
        "referer": f"{origin}/pricing",
        "openpanel-sdk-name": "openpanel-browser",
        "openpanel-sdk-version": "0.1.0",
        # A page cannot be trusted with these; the proxy drops or replaces them.
        "openpanel-client-id": "00000000-0000-4000-8000-000000000000",
        "openpanel-client-ip": "198.51.100.200",
    }


def wait_for(server: RunningServer, names: set[str], **params: Any) -> list[dict[str, Any]]:
    """The stored events with these names, once all are there (the WAL flushes every ~0.2 s)."""
    deadline = time.monotonic() + 10
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        events = [e for e in server.events(**params)["data"] if e["name"] in names]
        if {e["name"] for e in events} >= names:
            return events
        time.sleep(0.1)
    pytest.fail(f"events {sorted(names)} not stored within 10 s; got {events!r}")


def test_browser_and_backend_events_share_device_and_session(server: RunningServer) -> None:
    config = bridge_config(server)
    proxy = Proxy(config)
    port = urlsplit(server.url).port
    body = json.dumps(
        {
            "type": "track",
            "payload": {
                "name": "bridge_page_opened",
                "properties": {"__path": f"http://127.0.0.1:{port}/pricing"},
            },
        }
    ).encode()
    try:
        answer = proxy.forward("POST", "track", browser_headers(server), body, USER_IP)
    finally:
        proxy.close()
    assert answer.status == 200, answer.body
    browser = json.loads(answer.body)
    assert browser["deviceId"]
    assert browser["sessionId"]

    client = config.make_client(flush_interval=0.05)
    try:
        with client.context(ip=USER_IP, user_agent=BROWSER_UA):
            client.track("bridge_order_placed", {"total": 42})
        assert client.flush(10)
        assert client.stats.delivered == 1
    finally:
        client.shutdown(5)

    events = wait_for(server, {"bridge_page_opened", "bridge_order_placed"})
    by_name = {e["name"]: e for e in events}
    page, order = by_name["bridge_page_opened"], by_name["bridge_order_placed"]
    assert page["deviceId"] == order["deviceId"] == browser["deviceId"]
    assert page["sessionId"] == order["sessionId"] == browser["sessionId"]
    assert page["path"] == "/pricing"
    assert order["properties"]["total"] == "42"  # the store keeps properties as strings


def test_device_cookie_joins_browser_and_backend(server: RunningServer) -> None:
    config = bridge_config(server, device_cookie=True)
    # First visit: the app sets the cookie; the browser sends it back on later requests.
    device = new_device_id()
    set_cookie = device_cookie_header(device, config, https=False)
    cookie_header = "sessionid=xyz; " + set_cookie.split(";", 1)[0]
    read = read_device_cookie(cookie_header, config)
    assert read == device

    proxy = Proxy(config)
    body = json.dumps({"type": "track", "payload": {"name": "bridge_cookie_view"}}).encode()
    try:
        # Another ip than the backend's: only the cookie can join them.
        answer = proxy.forward(
            "POST", "track", browser_headers(server), body, "198.51.100.7", device_id=read
        )
    finally:
        proxy.close()
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["deviceId"] == device

    client = config.make_client(flush_interval=0.05)
    try:
        with client.context(ip=USER_IP, user_agent=BROWSER_UA, device_id=read):
            client.track("bridge_cookie_signup")
        assert client.flush(10)
    finally:
        client.shutdown(5)

    events = wait_for(server, {"bridge_cookie_view", "bridge_cookie_signup"})
    assert {e["deviceId"] for e in events} == {device}
    assert len({e["sessionId"] for e in events}) == 1


def test_refused_by_upstream_passes_the_reason(server: RunningServer) -> None:
    # A client id the server does not know: its 401 reaches the browser unchanged.
    config = BridgeConfig(client_id="11111111-1111-4111-8111-111111111111", api_url=server.url)
    proxy = Proxy(config)
    body = json.dumps({"type": "track", "payload": {"name": "x"}}).encode()
    try:
        answer = proxy.forward("POST", "track", browser_headers(server), body, USER_IP)
    finally:
        proxy.close()
    assert answer.status == 401
    assert answer.body == b"Ingestion: Invalid client id"
