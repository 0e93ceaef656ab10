"""Webhooks through the real server process: API, CLI, ingestion triggers, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, WebhookReceiver, eventually, free_port, start_server

from openpanel_core.webhooks import Verifier, verify
from openpanel_server._webhook_events import message_id

#: Loopback allowed (tests), http allowed, retries within a second or two.
ENV = {
    "OPENPANEL_SERVER_WEBHOOK_ALLOW_SUBNETS": "127.0.0.0/8",
    "OPENPANEL_SERVER_WEBHOOK_ALLOW_HTTP": "1",
    "OPENPANEL_SERVER_WEBHOOK_SCHEDULE": "0,0.3,0.3,0.5,0.5,1,1,1",
}
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(ENV)
    return subprocess.run(
        [sys.executable, "-m", "openpanel_server", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def root_headers(server: RunningServer) -> dict[str, str]:
    out = cli(
        server.data_dir,
        "client",
        "create",
        "--project",
        server.creds["projectId"],
        "--type",
        "root",
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    return {
        "openpanel-client-id": created["clientId"],
        "openpanel-client-secret": created["clientSecret"],
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path / "data", "--session-timeout", "1", env=ENV)
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def track(server: RunningServer, name: str, **extra: Any) -> None:
    headers = server.server_headers()
    if "event_id" in extra:
        headers["openpanel-event-id"] = extra.pop("event_id")
    r = httpx.post(
        f"{server.url}/track",
        headers=headers,
        json={"type": "track", "payload": {"name": name, **extra}},
    )
    assert r.status_code == 200, r.text


def test_the_api_needs_a_read_client_and_a_root_client_for_changes(
    server: RunningServer, receiver: WebhookReceiver
) -> None:
    api = f"{server.url}/api/webhooks"
    assert httpx.get(api).status_code == 401
    assert httpx.get(api, headers=server.server_headers()).status_code == 401  # a write client
    assert httpx.get(api, headers=server.read_headers()).json() == {"data": []}
    refused = httpx.post(api, headers=server.read_headers(), json={"url": receiver.url})
    assert refused.status_code == 403
    root = root_headers(server)
    created = httpx.post(api, headers=root, json={"url": receiver.url})
    assert created.status_code == 201
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["eventTypes"] == [] and endpoint["legacySignature"] is True
    listed = httpx.get(api, headers=server.read_headers()).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]  # shown once, never again
    one = httpx.get(f"{api}/{endpoint['id']}", headers=server.read_headers()).json()
    assert "secret" not in one and one["url"] == receiver.url
    # Another project's client sees none of it.
    other = cli(server.data_dir, "project", "create", "Other")
    other_project = json.loads(other.stdout)["projectId"]
    made = cli(server.data_dir, "client", "create", "--project", other_project, "--type", "root")
    foreign = json.loads(made.stdout)
    foreign_headers = {
        "openpanel-client-id": foreign["clientId"],
        "openpanel-client-secret": foreign["clientSecret"],
    }
    assert httpx.get(f"{api}/{endpoint['id']}", headers=foreign_headers).status_code == 404
    assert httpx.delete(f"{api}/{endpoint['id']}", headers=foreign_headers).status_code == 404
    assert httpx.get(api, headers=foreign_headers).json() == {"data": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://10.0.0.1/hook"}, "url"),
        ({"url": "http://169.254.169.254/"}, "url"),
        ({"url": "http://[::1]:9/hook"}, "url"),  # only 127.0.0.0/8 is allowed
        ({"url": "http://user:pw@127.0.0.1/"}, "url"),
        ({"url": "ftp://127.0.0.1/"}, "url"),
        ({"url": 5}, "url"),
        ({}, "url"),
        ({"url": "http://127.0.0.1:9/h", "eventTypes": ["event.deleted"]}, "eventTypes"),
        ({"url": "http://127.0.0.1:9/h", "eventTypes": "event.created"}, "eventTypes"),
        ({"url": "http://127.0.0.1:9/h", "eventNames": [""]}, "eventNames"),
        ({"url": "http://127.0.0.1:9/h", "legacySignature": "yes"}, "legacySignature"),
        ({"url": "http://127.0.0.1:9/h", "secret": "whsec_mine"}, "secret"),
    ],
)
def test_invalid_endpoints_are_refused_with_the_field(
    server: RunningServer, body: dict[str, Any], field: str
) -> None:
    r = httpx.post(f"{server.url}/api/webhooks", headers=root_headers(server), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field


def test_ingestion_triggers_each_event_type_once(
    server: RunningServer, receiver: WebhookReceiver
) -> None:
    root = root_headers(server)
    api = f"{server.url}/api/webhooks"
    created = httpx.post(api, headers=root, json={"url": receiver.url}).json()
    purchases = WebhookReceiver()
    try:
        only_purchases = httpx.post(
            api,
            headers=root,
            json={
                "url": purchases.url,
                "eventTypes": ["event.created"],
                "eventNames": ["purchase"],
                "legacySignature": False,
            },
        ).json()
        # A browser visit (session start, screen view), a server-side purchase, an identify,
        # an increment; the session ends a second later (--session-timeout 1).
        browser = {"user-agent": BROWSER_UA, "origin": "http://localhost:3000"}
        r = httpx.post(
            f"{server.url}/track",
            headers={"openpanel-client-id": server.client_id, **browser},
            json={
                "type": "track",
                "payload": {
                    "name": "screen_view",
                    "properties": {"__path": "http://localhost:3000/"},
                },
            },
        )
        assert r.status_code == 200
        track(server, "purchase", event_id="order-1", properties={"total": 12})
        for payload in (
            {"type": "identify", "payload": {"profileId": "u1", "email": "u1@example.com"}},
            {"type": "increment", "payload": {"profileId": "u1", "property": "visits"}},
        ):
            r = httpx.post(f"{server.url}/track", headers=server.server_headers(), json=payload)
            assert r.status_code == 200, r.text
        deliveries = receiver.wait_for(6)
        purchase_deliveries = purchases.wait_for(1)
    finally:
        purchases.close()
    verifier = Verifier(created["secret"])
    types: list[str] = []
    for d in deliveries:
        message = verifier.verify(d.body, d.headers)
        verify(d.body, d.headers, created["secret"], scheme="openpanel")
        assert d.headers["X-OpenPanel-Event"] == message.type
        types.append(str(message.type))
    assert sorted(types) == sorted(
        [
            "session.started",
            "event.created",  # screen_view
            "event.created",  # purchase
            "profile.identified",
            "profile.updated",
            "session.ended",
        ]
    )
    time.sleep(1.0)  # nothing else comes
    assert len(receiver.requests) == 6
    [purchase] = purchase_deliveries
    assert "X-OpenPanel-Signature" not in purchase.headers
    message = Verifier(only_purchases["secret"]).verify(purchase.body, purchase.headers)
    assert message.data is not None and message.data["data"]["name"] == "purchase"
    assert message.data["data"]["id"] == "order-1"
    assert message.id == message_id(only_purchases["id"], "event.created", "order-1")
    ended = next(d for d in deliveries if b'"session.ended"' in d.body)
    session = json.loads(ended.body)["data"]
    assert session["screenViewCount"] == 1 and session["isBounce"] is True


def test_delivery_log_filters_and_redelivery(
    server: RunningServer, receiver: WebhookReceiver
) -> None:
    root = root_headers(server)
    api = f"{server.url}/api/webhooks"
    endpoint = httpx.post(
        api, headers=root, json={"url": receiver.url, "eventTypes": ["event.created"]}
    ).json()
    eid = endpoint["id"]
    receiver.status = 500
    track(server, "signup", event_id="evt-a")
    eventually(lambda: len(receiver.requests) >= 3)
    receiver.status = 204
    track(server, "signup", event_id="evt-b")
    read = server.read_headers()

    def succeeded_both() -> list[dict[str, Any]] | None:
        rows = httpx.get(f"{api}/{eid}/messages", headers=read).json()["data"]
        return rows if len(rows) == 2 and all(m["state"] == "succeeded" for m in rows) else None

    messages = eventually(succeeded_both)
    by_source = {m["sourceId"]: m for m in messages}
    a = by_source["evt-a"]
    assert a["attempts"] >= 4 and a["lastStatus"] == 204

    log = httpx.get(f"{api}/{eid}/deliveries", headers=read).json()
    assert log["meta"]["totalCount"] == len(receiver.requests)
    failed = httpx.get(f"{api}/{eid}/deliveries", headers=read, params={"status": "failed"}).json()
    assert failed["data"] and all(d["statusCode"] == 500 for d in failed["data"])
    assert all(not d["succeeded"] and d["errorKind"] == "http_status" for d in failed["data"])
    ok = httpx.get(f"{api}/{eid}/deliveries", headers=read, params={"status": "succeeded"}).json()
    assert ok["meta"]["totalCount"] == 2
    one = httpx.get(f"{api}/{eid}/deliveries", headers=read, params={"messageId": a["id"]}).json()
    assert [d["attempt"] for d in one["data"]] == list(range(a["attempts"], 0, -1))
    assert all(d["durationMs"] >= 0 and d["startedAt"].endswith("Z") for d in one["data"])
    page = httpx.get(f"{api}/{eid}/deliveries", headers=read, params={"limit": 1, "page": 2}).json()
    assert page["meta"]["count"] == 1 and page["meta"]["current"] == 2
    bad = httpx.get(f"{api}/{eid}/deliveries", headers=read, params={"status": "meh"})
    assert bad.status_code == 400

    detail = httpx.get(f"{api}/{eid}/messages/{a['id']}", headers=read).json()
    assert detail["payload"]["type"] == "event.created"
    assert detail["payload"]["data"]["id"] == "evt-a"
    assert len(detail["deliveries"]) == a["attempts"]

    before = len(receiver.requests)
    r = httpx.post(f"{api}/{eid}/messages/{a['id']}/redeliver", headers=root)
    assert r.status_code == 202
    again = receiver.wait_for(before + 1)[-1]
    assert again.headers["webhook-id"] == a["id"]
    Verifier(endpoint["secret"]).verify(again.body, again.headers)
    triggers = eventually(
        lambda: [
            d["trigger"]
            for d in httpx.get(
                f"{api}/{eid}/deliveries", headers=read, params={"messageId": a["id"]}
            ).json()["data"]
            if d["trigger"] == "manual"
        ]
    )
    assert triggers == ["manual"]
    assert httpx.post(f"{api}/{eid}/messages/msg_nope/redeliver", headers=root).status_code == 404

    # Disabled: no messages are made, and no redelivery; enabled again: deliveries resume.
    assert httpx.post(f"{api}/{eid}/disable", headers=root).json()["disabledReason"] == "manual"
    assert httpx.post(f"{api}/{eid}/messages/{a['id']}/redeliver", headers=root).status_code == 409
    track(server, "signup", event_id="evt-c")
    time.sleep(1.5)
    assert not any(b'"evt-c"' in d.body for d in receiver.requests)
    assert httpx.post(f"{api}/{eid}/enable", headers=root).json()["enabled"] is True
    track(server, "signup", event_id="evt-d")
    eventually(lambda: any(b'"evt-d"' in d.body for d in receiver.requests))

    changed = httpx.patch(
        f"{api}/{eid}", headers=root, json={"description": "shop", "eventNames": ["signup"]}
    )
    assert changed.status_code == 200 and changed.json()["description"] == "shop"
    assert (
        httpx.patch(f"{api}/{eid}", headers=root, json={"url": "http://10.1.1.1/"}).status_code
        == 400
    )
    assert httpx.delete(f"{api}/{eid}", headers=root).status_code == 204
    assert httpx.get(f"{api}/{eid}", headers=read).status_code == 404


def test_rotation_through_the_api_signs_with_both_secrets(
    server: RunningServer, receiver: WebhookReceiver
) -> None:
    root = root_headers(server)
    api = f"{server.url}/api/webhooks"
    endpoint = httpx.post(api, headers=root, json={"url": receiver.url}).json()
    rotated = httpx.post(
        f"{api}/{endpoint['id']}/rotate", headers=root, json={"gracePeriodSeconds": 3600}
    )
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != endpoint["secret"] and rotated.json()["rotatingUntil"]
    bad = httpx.post(
        f"{api}/{endpoint['id']}/rotate", headers=root, json={"gracePeriodSeconds": 10**7}
    )
    assert bad.status_code == 400
    track(server, "after_rotation")
    [d] = receiver.wait_for(1)
    Verifier(endpoint["secret"]).verify(d.body, d.headers)
    Verifier(new).verify(d.body, d.headers)
    verify(d.body, d.headers, new, scheme="openpanel")


def test_the_cli_manages_endpoints(server: RunningServer, receiver: WebhookReceiver) -> None:
    data = server.data_dir
    for action in (
        "",
        "create",
        "list",
        "rotate",
        "disable",
        "enable",
        "deliveries",
        "redeliver",
        "messages",
        "delete",
    ):
        out = cli(data, "webhook", *([action] if action else []), "--help")
        assert out.returncode == 0 and "usage:" in out.stdout, action
    project = server.creds["projectId"]
    out = cli(
        data, "webhook", "create", receiver.url, "--project", project, "--event", "event.created"
    )
    assert out.returncode == 0, out.stderr
    endpoint = json.loads(out.stdout)
    assert endpoint["eventTypes"] == ["event.created"] and endpoint["secret"].startswith("whsec_")
    refused = cli(data, "webhook", "create", "http://10.0.0.1/", "--project", project)
    assert refused.returncode == 2 and "blocked address" in refused.stderr
    unknown = cli(data, "webhook", "create", receiver.url, "--project", "nope")
    assert unknown.returncode == 2
    listed = cli(data, "webhook", "list").stdout
    assert endpoint["id"] in listed and "enabled" in listed

    track(server, "cli_event", event_id="cli-1")  # the running server sees the CLI's endpoint
    [first] = receiver.wait_for(1)
    Verifier(endpoint["secret"]).verify(first.body, first.headers)

    rotated = json.loads(cli(data, "webhook", "rotate", endpoint["id"], "--grace", "60").stdout)
    assert rotated["secret"] != endpoint["secret"]
    track(server, "cli_event", event_id="cli-2")
    second = receiver.wait_for(2)[1]
    Verifier(rotated["secret"]).verify(second.body, second.headers)
    Verifier(endpoint["secret"]).verify(second.body, second.headers)

    assert "disabled (manual)" in cli(data, "webhook", "disable", endpoint["id"]).stdout
    track(server, "cli_event", event_id="cli-3")
    time.sleep(1.5)
    assert len(receiver.requests) == 2
    assert "enabled" in cli(data, "webhook", "enable", endpoint["id"]).stdout

    log = cli(data, "webhook", "deliveries", endpoint["id"]).stdout
    msg = message_id(endpoint["id"], "event.created", "cli-1")
    assert msg in log and "204" in log and "(2 of 2)" in log
    as_json = json.loads(cli(data, "webhook", "deliveries", endpoint["id"], "--json").stdout)
    assert {a["messageId"] for a in as_json} == {
        msg,
        message_id(endpoint["id"], "event.created", "cli-2"),
    }
    assert msg in cli(data, "webhook", "messages", endpoint["id"], "--state", "succeeded").stdout

    out = cli(data, "webhook", "redeliver", endpoint["id"], msg)
    assert out.returncode == 0 and "queued" in out.stdout
    third = receiver.wait_for(3)[2]
    assert third.headers["webhook-id"] == msg and third.body == first.body
    assert cli(data, "webhook", "redeliver", endpoint["id"], "msg_nope").returncode == 2
    assert cli(data, "webhook", "delete", endpoint["id"]).returncode == 0
    assert endpoint["id"] not in cli(data, "webhook", "list").stdout


def _batch(server: RunningServer, ids: list[str]) -> None:
    items = [
        {"id": i, "type": "track", "payload": {"name": "order", "properties": {"n": i}}}
        for i in ids
    ]
    r = httpx.post(
        f"{server.url}/track/batch", headers=server.server_headers(), json=items, timeout=30
    )
    assert r.status_code == 200
    assert all(res["status"] == 200 for res in r.json()["results"])  # acknowledged


def test_nothing_is_lost_or_processed_twice_across_crashes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    receiver = WebhookReceiver(port, delay=0.2)  # slow: deliveries are in flight at the kill
    server = start_server(data, env=ENV)
    try:
        created = cli(
            data, "webhook", "create", receiver.url, "--project", server.creds["projectId"]
        )
        endpoint = json.loads(created.stdout)
        # 1. Acknowledged events, then kill -9 at once: some are only in the write-ahead log,
        #    some deliveries are cut mid-request.
        first = [f"crash1-{i}" for i in range(40)]
        _batch(server, first)
        receiver.wait_for(1)
        server.stop(signal.SIGKILL)
        server = start_server(data, env=ENV)
        expected1 = {message_id(endpoint["id"], "event.created", i) for i in first}
        eventually(lambda: set(receiver.processed) >= expected1, timeout=60)
        assert set(receiver.processed) == expected1

        # 2. The receiver is down: attempts fail; kill -9; it comes back; restart.
        receiver.close()
        second = [f"crash2-{i}" for i in range(10)]
        _batch(server, second)
        api = f"{server.url}/api/webhooks/{endpoint['id']}/deliveries"
        eventually(
            lambda: (
                httpx.get(api, headers=server.read_headers(), params={"status": "failed"}).json()[
                    "meta"
                ]["totalCount"]
                >= 10
            )
        )
        server.stop(signal.SIGKILL)
        receiver = WebhookReceiver(port)
        server = start_server(data, env=ENV)
        expected2 = {message_id(endpoint["id"], "event.created", i) for i in second}
        eventually(lambda: set(receiver.processed) >= expected2, timeout=60)
        time.sleep(1.0)
        assert set(receiver.processed) == expected2
        expected = expected1 | expected2

        # Exactly one message per acknowledged event, all delivered, nothing else.
        messages = httpx.get(
            f"{server.url}/api/webhooks/{endpoint['id']}/messages",
            headers=server.read_headers(),
            params={"limit": 500},
        ).json()
        assert messages["meta"]["totalCount"] == 50
        assert {m["id"] for m in messages["data"]} == expected
        assert all(m["state"] == "succeeded" for m in messages["data"])
        verifier = Verifier(endpoint["secret"])
        for d in receiver.requests:
            verifier.verify(d.body, d.headers)
    finally:
        server.stop()
        receiver.close()
