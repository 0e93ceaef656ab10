"""The served op.js in jsdom (Node): queue before init, init order, SPA navigation, never throws.

jsdom comes from the server package's npm test folder (``packages/server/tests/npm``, pinned in
its ``package-lock.json``), installed through the shared ``npm_helpers.npm_ci``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from bridge_helpers import CLIENT_ID
from npm_helpers import NPM_DIR, npm_ci, tool

from openpanel_core import __version__
from openpanel_web_bridge._script import script_source

DRIVER = Path(__file__).parent / "js" / "op_jsdom.cjs"
NODE_TIMEOUT = 60
HOME = "https://shop.example/"
GOOGLE = "https://www.google.com/"
# Every track event carries the page's referrer and the last screen view's path (the page's
# address before any view), so whichever event reaches the server first opens the session.
ON_PAGE = {"__path": HOME, "__referrer": GOOGLE}


@pytest.fixture(scope="module")
def scenarios() -> dict[str, Any]:
    node = tool("node")
    npm_ci()  # jsdom, pinned in the server's npm test folder
    config = {
        "npmDir": str(NPM_DIR),
        "script": script_source().decode(),
        "clientId": CLIENT_ID,
        "version": __version__,
    }
    done = subprocess.run(
        [node, str(DRIVER)],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(f"node {DRIVER.name} failed ({done.returncode}):\n{done.stderr}", pytrace=False)
    out: dict[str, Any] = json.loads(done.stdout)
    assert out.pop("unhandled") == [], "no unhandled promise rejections"
    return out


def bodies(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    assert scenario["errors"] == [], scenario["errors"]
    return [r["body"] for r in scenario["requests"]]


def names(scenario: dict[str, Any]) -> list[str]:
    return [b["payload"].get("name", b["type"]) for b in bodies(scenario)]


def test_request_shape(scenarios: dict[str, Any]) -> None:
    for name, scenario in scenarios.items():
        for request in scenario["requests"]:
            assert request["url"] == "/_op/track", name
            assert request["method"] == "POST"
            assert request["keepalive"] is True
            assert request["headers"] == {
                "content-type": "application/json",
                "openpanel-client-id": CLIENT_ID,
                "openpanel-sdk-name": "openpanel-browser",
                "openpanel-sdk-version": __version__,
            }
            assert set(request["body"]) == {"type", "payload"}
            assert "null" not in json.dumps(request["body"]), "optional fields never null"


def test_queue_before_init_is_replayed_in_order(scenarios: dict[str, Any]) -> None:
    s = scenarios["queueBeforeInit"]
    assert s["thrown"] == []
    assert bodies(s) == [
        {"type": "track", "payload": {"name": "early", "properties": {"a": 1, **ON_PAGE}}},
        {
            "type": "identify",
            "payload": {"profileId": "u1", "email": "u1@example.com", "properties": {}},
        },
        {
            "type": "track",
            "payload": {
                "name": "after",
                "profileId": "u1",
                "properties": {"app": "shop", "c": 2, **ON_PAGE},
            },
        },
        # The first screen view follows the whole queue (an identify after init applies to it).
        {
            "type": "track",
            "payload": {
                "name": "screen_view",
                "profileId": "u1",
                "properties": {
                    "app": "shop",
                    "__path": HOME,
                    "__title": "Start",
                    "__referrer": GOOGLE,
                },
            },
        },
        {
            "type": "track",
            "payload": {
                "name": "loaded",
                "profileId": "u1",
                "properties": {"app": "shop", **ON_PAGE},
            },
        },
        {
            "type": "track",
            "payload": {
                "name": "method_style",
                "profileId": "u1",
                "properties": {"app": "shop", "m": True, **ON_PAGE},
            },
        },
    ]


def test_init_first(scenarios: dict[str, Any]) -> None:
    assert names(scenarios["initFirst"]) == ["clicked", "screen_view"]


def test_stub_without_init_waits_and_never_throws(scenarios: dict[str, Any]) -> None:
    s = scenarios["noInit"]
    assert s["before"] == 0
    assert s["thrown"] == []
    assert bodies(s) == [
        {"type": "track", "payload": {"name": "waiting", "properties": {"n": 1, "__path": HOME}}},
        {
            "type": "track",
            "payload": {"name": "revenue", "properties": {"__revenue": 500, "__path": HOME}},
        },
        {"type": "track", "payload": {"name": "still_waiting", "properties": {"__path": HOME}}},
    ]


def test_spa_navigation(scenarios: dict[str, Any]) -> None:
    s = scenarios["spa"]
    assert s["thrown"] == []
    views = [b["payload"]["properties"] for b in bodies(s)]
    assert [v["__path"] for v in views] == [
        "https://shop.example/",
        "https://shop.example/pricing",  # pushState (replaceState to it again: no new view)
        "https://shop.example/checkout?step=1",  # the hash-only change was not a view
        "https://shop.example/",  # popstate (history.go)
        "https://shop.example/b",  # two quick pushes: one view, the last
    ]
    assert views[1]["__title"] == "Pricing"
    assert [v["__referrer"] for v in views] == [GOOGLE] * 5, "the page's referrer on every view"
    assert names(s) == ["screen_view"] * 5


def test_hash_changes_when_asked(scenarios: dict[str, Any]) -> None:
    paths = [b["payload"]["properties"]["__path"] for b in bodies(scenarios["hashChanges"])]
    assert paths == [
        "https://shop.example/",
        "https://shop.example/#faq",
        "https://shop.example/#team",
    ]


def test_never_throws(scenarios: dict[str, Any]) -> None:
    s = scenarios["neverThrows"]
    assert s["loaded"] is True
    assert s["same"] is True, "a second copy of the script changes nothing"
    # Only the page's own error reached the page: the SDK does not swallow or cause errors.
    assert len(s["thrown"]) == 1
    assert s["thrown"][0].startswith("SecurityError")
    assert names(s) == ["ok"]


def test_without_stub(scenarios: dict[str, Any]) -> None:
    assert names(scenarios["noStub"]) == ["direct"]


def test_api_calls(scenarios: dict[str, Any]) -> None:
    """Track events carry the page's referrer and path; identify and increment do not."""
    s = scenarios["api"]
    assert s["thrown"] == []
    assert bodies(s) == [
        {
            "type": "track",
            "payload": {
                "name": "revenue",
                "profileId": "u1",
                "properties": {"plan": "pro", "__revenue": 1299, **ON_PAGE},
            },
        },
        # no value: the server adds 1
        {"type": "increment", "payload": {"profileId": "u1", "property": "logins"}},
        {"type": "decrement", "payload": {"profileId": "u2", "property": "credits", "value": 5}},
        {
            "type": "identify",
            "payload": {"profileId": "u1", "firstName": "Ada", "properties": {"tier": "gold"}},
        },
        {
            "type": "track",
            "payload": {
                "name": "signup_click",
                "profileId": "u1",
                "properties": {"app": "shop", "release": "1.2", "planName": "pro", **ON_PAGE},
            },
        },
        {
            "type": "track",
            "payload": {
                "name": "link_out",
                "profileId": "u1",
                "properties": {
                    "app": "shop",
                    "release": "1.2",
                    "href": "https://docs.example.org/guide",
                    "text": "Read the docs",
                    **ON_PAGE,
                },
            },
        },
        # clear(): no profile any more, so no increment either.
        {
            "type": "track",
            "payload": {
                "name": "anonymous",
                "properties": {"app": "shop", "release": "1.2", **ON_PAGE},
            },
        },
    ]
