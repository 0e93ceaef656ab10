"""The real npm clients (``@openpanel/sdk``, ``@openpanel/web``) against the running server.

The clients are pinned in ``tests/npm/package-lock.json`` and installed with ``npm ci`` the first
time the module runs (one xdist worker installs, the others wait on a file lock). Each test runs a
Node script from ``tests/npm`` that drives a client and prints what it saw as JSON; the test
then reads back what the server stored through the export API.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from npm_helpers import NPM_DIR, npm_ci, run_node, tool
from server_helpers import RunningServer, start_server

# A cold `npm ci` can take minutes on a slow runner; the scripts have their own timeouts.
pytestmark = pytest.mark.timeout(720)


HEX32 = re.compile(r"[0-9a-f]{32}")
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
SAFARI_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
PAGE_ORIGIN = "http://localhost:5173"
# The headers @openpanel/web sends from a browser (no secret), so the ones a preflight asks for.
BROWSER_SDK_HEADERS = (
    "content-type",
    "openpanel-client-id",
    "openpanel-sdk-name",
    "openpanel-sdk-version",
)

# --------------------------------------------------------------------------- npm install


@pytest.fixture(scope="session")
def npm_clients() -> Path:
    """The folder with the installed npm clients and the driver scripts."""
    tool("node")
    npm_ci()
    return NPM_DIR


# --------------------------------------------------------------------------- server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("npm-compat"))
    yield running
    running.stop()


def stored(
    server: RunningServer, *names: str, includes: str = "properties"
) -> list[dict[str, Any]]:
    """The stored events with these names, oldest first."""
    data: list[dict[str, Any]] = server.events(event=",".join(names), includes=includes)["data"]
    return sorted(data, key=lambda e: str(e["createdAt"]))


def profile(server: RunningServer, profile_id: str) -> httpx.Response:
    return httpx.get(f"{server.url}/export/profiles/{profile_id}", headers=server.read_headers())


def bodies(result: dict[str, Any]) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = result["requests"]
    return [r["body"] for r in requests]


# --------------------------------------------------------------------------- @openpanel/sdk


@pytest.fixture(scope="module")
def sdk_roundtrip(npm_clients: Path, server: RunningServer) -> dict[str, Any]:
    """One run of every @openpanel/sdk method against the server (scenario in sdk_node.mjs)."""
    tag = uuid.uuid4().hex[:8]
    result = run_node(
        npm_clients,
        "sdk_node.mjs",
        {
            "apiUrl": server.url,
            "clientId": server.client_id,
            "clientSecret": server.secret,
            "tag": tag,
            "scenario": "roundtrip",
        },
    )
    result["tag"] = tag
    return result


def calls_by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    calls: list[dict[str, Any]] = result["calls"]
    return {c["name"]: c for c in calls}


def test_sdk_round_trip_resolves_each_call_with_one_request(
    sdk_roundtrip: dict[str, Any],
) -> None:
    calls = calls_by_name(sdk_roundtrip)
    assert list(calls) == [
        "track",
        "identify",
        "increment",
        "increment_by",
        "decrement",
        "upsertGroup",
        "setGroup",
        "track_after_group",
        "revenue",
        "revenue_device",
    ]
    requests: list[dict[str, Any]] = sdk_roundtrip["requests"]
    assert [(r["status"], r["error"]) for r in requests] == [(200, None)] * len(calls)
    assert sdk_roundtrip["errors"] == []  # no "Max retries reached"
    for name, call in calls.items():
        assert call["requests"] == 1, f"{name}: {call['requests']} requests (a retry?)"
        result = call["result"]
        assert isinstance(result, dict), f"{name} resolved with {result!r}"
        assert "deviceId" in result, (name, result)
        assert "sessionId" in result, (name, result)
    for name in ("track", "track_after_group", "revenue"):
        result = calls[name]["result"]
        assert HEX32.fullmatch(result["deviceId"]), (name, result)
        assert isinstance(result["sessionId"], str)
        assert calls[name]["deviceId"] == result["deviceId"]  # op.getDeviceId()
    # revenue(amount, {deviceId}) sends __deviceId, which the server echoes back.
    assert calls["revenue_device"]["result"]["deviceId"] == f"device-{sdk_roundtrip['tag']}"
    headers: dict[str, str] = requests[0]["headers"]
    assert headers["openpanel-sdk-name"] == "node"
    assert headers["openpanel-sdk-version"] == "1.3.1"


def test_sdk_round_trip_stored_events(sdk_roundtrip: dict[str, Any], server: RunningServer) -> None:
    tag = sdk_roundtrip["tag"]
    profile_id = f"node-user-{tag}"
    group_id = f"acme-{tag}"
    [first] = stored(server, f"node_track_{tag}", includes="properties,groups,sdkName,sdkVersion")
    assert first["profileId"] == profile_id
    assert first["groups"] == ["g-explicit"]
    assert first["properties"] == {
        "app": "compat",
        "tag": tag,
        "plan": "pro",
        "cart.items": "2",
        "cart.currency": "EUR",
    }
    assert (first["sdkName"], first["sdkVersion"]) == ("node", "1.3.1")
    # A server event (user agent `node`) with no live session: no device, no session.
    assert (first["deviceId"], first["sessionId"]) == ("", "")

    [after] = stored(server, f"node_after_group_{tag}", includes="properties,groups")
    assert after["profileId"] == profile_id  # the instance profile id from identify()
    assert after["groups"] == [group_id]  # the instance groups from setGroup()
    assert after["properties"] == {"app": "compat", "tag": tag, "step": "2"}

    revenues = [
        e
        for e in stored(server, "revenue", includes="properties,revenue,groups")
        if e["properties"].get("tag") == tag
    ]
    assert sorted(e["revenue"] for e in revenues) == [499, 1299]
    by_amount = {e["revenue"]: e for e in revenues}
    assert by_amount[1299]["properties"] == {"app": "compat", "tag": tag, "currency": "EUR"}
    assert by_amount[499]["properties"] == {
        "app": "compat",
        "tag": tag,
        "currency": "USD",
        "__deviceId": f"device-{tag}",  # kept as a property, as upstream does
    }
    for event in revenues:
        assert event["profileId"] == profile_id
        assert event["groups"] == [group_id]
        # Upstream discards __deviceId on server events (protocol notes 2.3).
        assert event["deviceId"] == ""


def test_sdk_round_trip_stored_profile(
    sdk_roundtrip: dict[str, Any], server: RunningServer
) -> None:
    tag = sdk_roundtrip["tag"]
    response = profile(server, f"node-user-{tag}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["isExternal"] is True
    assert (body["firstName"], body["lastName"], body["email"]) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
    )
    # identify() merges the global properties; visits: +1, +5, -2.
    assert body["properties"] == {
        "app": "compat",
        "tag": tag,
        "tier": "gold",
        "nested.level": "3",
        "visits": "4",
    }
    assert body["groups"] == [f"acme-{tag}"]


def test_sdk_non_track_responses_carry_the_device_id(sdk_roundtrip: dict[str, Any]) -> None:
    calls = calls_by_name(sdk_roundtrip)
    device = calls["track"]["result"]["deviceId"]
    for name in ("identify", "increment", "increment_by", "decrement", "upsertGroup", "setGroup"):
        assert calls[name]["result"]["deviceId"] == device, (name, calls[name]["result"])
        assert calls[name]["deviceId"] == device, name  # op.getDeviceId() after the call


def test_sdk_wrong_secret_is_not_retried(npm_clients: Path, server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:8]
    result = run_node(
        npm_clients,
        "sdk_node.mjs",
        {
            "apiUrl": server.url,
            "clientId": server.client_id,
            "clientSecret": "sec_" + "0" * 32,
            "tag": tag,
            "scenario": "wrong_secret",
        },
    )
    calls = calls_by_name(result)
    for name in ("track", "identify"):
        assert calls[name]["requests"] == 1, f"{name}: a 401 must not be retried"
        assert calls[name]["result"] is None  # the SDK resolves null on 401
    requests: list[dict[str, Any]] = result["requests"]
    assert [(r["status"], r["text"]) for r in requests] == [
        (401, "Ingestion: Invalid cors or secret")
    ] * 2
    assert result["errors"] == []
    assert stored(server, f"node_wrong_secret_{tag}") == []
    assert profile(server, f"node-mallory-{tag}").status_code == 404


# --------------------------------------------------------------------------- @openpanel/web


def test_web_sdk_in_jsdom(npm_clients: Path, server: RunningServer) -> None:
    result = run_node(
        npm_clients,
        "web_jsdom.mjs",
        {
            "apiUrl": server.url,
            "clientId": server.client_id,
            "origin": PAGE_ORIGIN,
            "userAgent": CHROME_UA,
            "pageUrl": f"{PAGE_ORIGIN}/start?utm_source=google",
            "referrer": "https://www.google.com/search?q=x",
        },
    )
    requests: list[dict[str, Any]] = result["requests"]
    assert [r["body"]["payload"]["name"] for r in requests] == [
        "screen_view",
        "screen_view",
        "signup_click",
        "link_out",
    ]
    assert [r["status"] for r in requests] == [200] * 4
    headers: dict[str, str] = requests[0]["headers"]
    assert "openpanel-client-secret" not in headers
    assert (headers["openpanel-sdk-name"], headers["openpanel-sdk-version"]) == ("web", "1.4.1")
    device, session = result["deviceId"], result["sessionId"]
    assert HEX32.fullmatch(device)
    assert session

    events = [
        e
        for e in stored(
            server,
            "session_start",
            "screen_view",
            "signup_click",
            "link_out",
            includes="properties,origin,referrer,referrerName,referrerType,sdkName",
        )
        if e["deviceId"] == device
    ]
    assert [e["name"] for e in events] == [
        "session_start",
        "screen_view",
        "screen_view",
        "signup_click",
        "link_out",
    ]
    assert {e["sessionId"] for e in events} == {session}
    for event in events:
        assert (event["referrerName"], event["referrerType"]) == ("Google", "search")
        assert event["referrer"] == "https://www.google.com/search?q=x"
        assert event["browser"] == "Chrome"
        assert event["sdkName"] == "web"
        assert event["profileId"] == device  # anonymous visitor
    # jsdom claims to be Chrome without sending sec-ch-ua: OpenPanel's header signal marks it
    # (one category of signals only, so not as a bot).
    for event in events[1:]:
        assert event["properties"].pop("__bot_reasons") == "header:missing_sec_ch_ua"
        assert "__bot" not in event["properties"]
    _, start, pricing, click, link = events
    assert (start["origin"], start["path"]) == (PAGE_ORIGIN, "/start")
    assert start["properties"] == {"__title": "Start", "__query.utm_source": "google"}
    assert (pricing["origin"], pricing["path"]) == (PAGE_ORIGIN, "/pricing")
    assert pricing["properties"] == {"__title": "Pricing"}
    assert click["properties"] == {"planName": "pro", "billingPeriod": "yearly"}
    assert click["path"] == ""  # attribute and link events carry no __path
    assert link["properties"] == {
        "href": "https://docs.example.org/guide?from=app",
        "text": "Read the docs",
    }


def test_script_tag_queue(npm_clients: Path, server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:8]
    profile_id = f"queue-user-{tag}"
    page_origin = "http://127.0.0.1:5173"
    result = run_node(
        npm_clients,
        "script_tag.mjs",
        {
            "apiUrl": server.url,
            "clientId": server.client_id,
            "origin": page_origin,
            "userAgent": FIREFOX_UA,
            "pageUrl": f"{page_origin}/queue",
            "profileId": profile_id,
            "tag": tag,
        },
    )
    assert result["trackerPath"].endswith("@openpanel/web/dist/src/tracker.global.js")
    assert result["queuedBeforeLoad"] == 4  # init + three calls waited for the script
    sent = bodies(result)
    assert [(b["type"], b["payload"].get("name")) for b in sent] == [
        ("track", f"queued_first_{tag}"),
        ("identify", None),
        ("track", f"queued_second_{tag}"),
        ("track", "screen_view"),
        ("track", f"after_load_call_{tag}"),
        ("track", f"after_load_property_{tag}"),
    ]
    requests: list[dict[str, Any]] = result["requests"]
    assert [r["status"] for r in requests] == [200] * 6

    names = [
        f"queued_first_{tag}",
        f"queued_second_{tag}",
        "screen_view",
        f"after_load_call_{tag}",
        f"after_load_property_{tag}",
    ]
    device = result["deviceId"]
    events = [e for e in stored(server, *names, includes="properties") if e["deviceId"] == device]
    assert sorted(e["name"] for e in events) == sorted(names)
    by_name = {e["name"]: e for e in events}
    # The requests were made one after the other, so the server saw them in this order.
    created = [by_name[n]["createdAt"] for n in names]
    assert created == sorted(created)
    first, second, view, call, prop = (by_name[n] for n in names)
    assert first["profileId"] == device  # tracked before identify(): anonymous
    assert first["properties"] == {"step": "1"}
    assert second["profileId"] == profile_id
    assert second["properties"] == {"step": "2"}
    assert (view["path"], view["profileId"]) == ("/queue", profile_id)
    assert call["properties"] == {"via": "call"}
    assert prop["properties"] == {"via": "property"}
    assert len({e["sessionId"] for e in events}) == 1

    response = profile(server, profile_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["firstName"], body["email"]) == ("Quinn", "quinn@example.com")
    assert body["properties"]["browser"] == "Firefox"  # from the identify request's user agent


# --------------------------------------------------------------------------- CORS


def test_cors_preflight_allows_the_browser_sdk_headers(server: RunningServer) -> None:
    # What a browser sends before @openpanel/web's first POST /track (no secret header).
    for origin in (PAGE_ORIGIN, "https://not-allowed.example"):  # preflights allow any origin
        response = httpx.options(
            f"{server.url}/track",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": ",".join(BROWSER_SDK_HEADERS),
                "user-agent": SAFARI_UA,
            },
        )
        # Browsers accept any 2xx ("ok status"); upstream's @fastify/cors answers 204.
        assert 200 <= response.status_code < 300, response.text
        allowed = {
            h.strip().lower()
            for h in response.headers.get("access-control-allow-headers", "").split(",")
        }
        assert allowed >= set(BROWSER_SDK_HEADERS) or allowed == {"*"}, allowed
        methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
        assert "POST" in methods
        assert response.headers["access-control-allow-origin"] in ("*", origin)
        assert "access-control-allow-credentials" not in response.headers
        assert int(response.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (PAGE_ORIGIN, 200),
        ("http://127.0.0.1:8080", 200),
        ("https://not-allowed.example", 401),
    ],
)
def test_cors_post_checks_the_project_origins(
    server: RunningServer, origin: str, status: int
) -> None:
    name = f"cors_probe_{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        f"{server.url}/track",
        json={"type": "track", "payload": {"name": name}},
        headers={
            "origin": origin,
            "openpanel-client-id": server.client_id,
            "openpanel-sdk-name": "web",
            "openpanel-sdk-version": "1.4.1",
            "user-agent": SAFARI_UA,
        },
    )
    assert response.status_code == status, response.text
    # The browser lets the SDK read the answer (and so not retry a 401) only with this header.
    assert response.headers["access-control-allow-origin"] in ("*", origin)
    if status == 401:
        assert response.text == "Ingestion: Invalid cors or secret"
    assert len(stored(server, name)) == (1 if status == 200 else 0)


def test_npm_dir_is_pinned() -> None:
    lock: dict[str, Any] = json.loads((NPM_DIR / "package-lock.json").read_text())
    packages: dict[str, dict[str, Any]] = lock["packages"]
    assert packages["node_modules/@openpanel/sdk"]["version"] == "1.3.1"
    assert packages["node_modules/@openpanel/web"]["version"] == "1.4.1"
    assert packages["node_modules/jsdom"]["version"].startswith("24.")


# --------------------------------------------------------------------------- ua-parser-js names

# Browsers and devices whose names cannot be matched by renaming uap-core's families; each is
# a different classification, not a spelling, so it stays as uap-core has it.
UA_NAME_EXCEPTIONS = {
    "PlayStation 5/2.26": "uap-core finds no OS; ua-parser-js says PlayStation / WebKit",
    "Xbox One": "uap-core says Windows; ua-parser-js says Xbox",
    "Applebot/0.1": "uap-core says Applebot (a crawler, refused as a bot anyway)",
    "Electron/30.0.1": "uap-core says Electron; ua-parser-js says Chrome",
}

UA_CORPUS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.32.107;FBBV/583123215;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.40.92 (iPhone15,2; iOS 17_4; en_US; en; scale=3.00; 1179x2556; 596386111)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 12; 2201117TG) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 OPR/81.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64",
    "Mozilla/5.0 (Linux; U; Android 9; en-US; SM-J730F Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 YaBrowser/24.4.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Vivaldi/6.7",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like Chrome/124.0.6367.82 Safari/537.36",
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edge/44.18363.8131",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chromium/124.0.6367.60 Chrome/124.0.6367.60 Safari/537.36",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Brave/1.65",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 8.0.0; SM-G960F Build/R16NW) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/62.0.3202.84 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; OpenBSD amd64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Electron/30.0.1 Chrome/124.0.6367.91 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; moto g power 5G - 2023) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
)


def test_ua_names_match_ua_parser_js(npm_clients: Path) -> None:
    """OS and browser names are the ones ua-parser-js 1.x (OpenPanel's parser) gives."""
    from openpanel_server._normalize import parse_user_agent

    results = run_node(npm_clients, "ua_names.mjs", {"userAgents": list(UA_CORPUS)})["results"]
    assert len(results) == len(UA_CORPUS)
    mismatches: list[str] = []
    for ua, expected in zip(UA_CORPUS, results, strict=True):
        if any(marker in ua for marker in UA_NAME_EXCEPTIONS):
            continue
        ours = parse_user_agent(ua)
        if (ours.os, ours.browser) != (expected["os"], expected["browser"]):
            mismatches.append(
                f"{ua}: ours {(ours.os, ours.browser)}, ua-parser-js "
                f"{(expected['os'], expected['browser'])}"
            )
        if expected["browserVersion"] and not expected["browserVersion"].startswith(
            ours.browser_version
        ):
            mismatches.append(
                f"{ua}: version {ours.browser_version} vs {expected['browserVersion']}"
            )
    assert not mismatches, "\n".join(mismatches)
