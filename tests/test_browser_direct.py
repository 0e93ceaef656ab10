"""Headless Chromium on a site of its own origin, sending straight to the reference server.

The page (``tests/browser/pages/spa.html``) loads the browser script the web bridge serves,
from a second origin, so every event is a cross-origin request with custom headers: the
browser must get through a CORS preflight. It queues calls before the script loads, navigates
as a single-page app, clicks a ``data-track`` element and an outgoing link. The reference server
must then hold the views in order with their paths and titles, the referrer on the session
and every event, the clicks and queued events on their page's path with their properties, the
identified profile, the revenue and every event in one session.

Two more pages check that the script never throws into a page: a stub with calls but no
``init``, and a page whose ``fetch`` is broken.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server

from openpanel_web_bridge import script_response
from tests.browser_helpers import (
    Browser,
    StaticSite,
    browser_project,
    launch_browser,
    run_driver,
    serve_static,
)

REFERRER = "https://news.ycombinator.com/item?id=4242"
PROFILE_ID = "user-grace-hopper"
#: The page's URLs, in the order the driver visits them (load, push, replace, back, hash).
VIEW_PATHS = ["/spa.html", "/app/features", "/app/plans", "/spa.html", "/spa.html#faq"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_browser() as running:
        yield running


@pytest.fixture
def page_config() -> dict[str, Any]:
    """What ``/config.js`` gives the pages as ``window.OP_TEST`` (tests fill it in)."""
    return {}


@pytest.fixture
def site(page_config: dict[str, Any]) -> Iterator[StaticSite]:
    def config_js() -> tuple[str, bytes]:
        body = f"window.OP_TEST = {json.dumps(page_config)};\n"
        return "text/javascript; charset=utf-8", body.encode()

    routes = {
        # The bytes the web bridge serves at {prefix}/op.js.
        "/op.js": lambda: ("text/javascript; charset=utf-8", script_response().body),
        "/config.js": config_js,
    }
    with serve_static(routes) as running:
        yield running


@pytest.fixture
def server(tmp_path: Path, site: StaticSite) -> Iterator[RunningServer]:
    # A project that allows exactly the site's origin and browser revenue.
    browser_project(tmp_path / "data", site.url)
    running = start_server(tmp_path / "data")
    try:
        yield running
    finally:
        running.stop()


def _payload(track: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = track["body"]["payload"]
    return payload


def test_cross_origin_spa_events_reach_the_server_through_a_preflight(
    browser: Browser, site: StaticSite, server: RunningServer, page_config: dict[str, Any]
) -> None:
    outgoing = f"{site.other_url}/elsewhere.html"
    page_config.update(
        clientId=server.client_id,
        apiUrl=server.url,
        profileId=PROFILE_ID,
        outgoingUrl=outgoing,
    )
    seen = run_driver(
        "spa.mjs",
        browser,
        {"pageUrl": f"{site.url}/spa.html", "referrer": REFERRER, "outgoingUrl": outgoing},
    )
    assert seen["pageErrors"] == []
    assert seen["consoleErrors"] == []
    assert seen["queuedBeforeLoad"] == 5  # globals, identify, init, track, revenue

    # The wire: custom headers made Chromium ask first, the server allowed the site's origin,
    # and every POST succeeded.
    tracks: list[dict[str, Any]] = seen["tracks"]
    assert {t["url"] for t in tracks} == {f"{server.url}/track"}
    assert all(t["method"] == "POST" for t in tracks)
    preflights: list[dict[str, Any]] = seen["preflights"]
    assert preflights, "no CORS preflight was made"
    for preflight in preflights:
        assert preflight["status"] in (200, 204), preflight
        asked = preflight["requestHeaders"]["Access-Control-Request-Headers"]
        assert "openpanel-client-id" in asked.split(",")
        allowed = {k.lower(): v for k, v in preflight["responseHeaders"].items()}
        assert allowed["access-control-allow-origin"] in ("*", site.url)
        allowed_headers = allowed["access-control-allow-headers"].lower().replace(" ", "")
        assert "openpanel-client-id" in allowed_headers.split(",") or allowed_headers == "*"
    answered = [t for t in tracks if not t["orphaned"]]
    assert all(t["status"] == 200 and t["allowOrigin"] in ("*", site.url) for t in answered), [
        (t["status"], t["allowOrigin"], t["failure"], t["response"], t["body"]) for t in answered
    ]
    # Only the outgoing link's request outlives its page (DevTools may lose its answer).
    assert all(_payload(t).get("name") == "link_out" for t in tracks if t["orphaned"])
    assert all(t["headers"]["openpanel-client-id"] == server.client_id for t in tracks)

    # The steps as the browser saw them.
    assert [(s["step"], s["url"].removeprefix(site.url), s["title"]) for s in seen["steps"]] == [
        ("load", "/spa.html", "Pricing"),
        ("pushState", "/app/features", "Features"),
        ("replaceState", "/app/plans", "Plans"),
        ("popstate", "/spa.html", "Pricing"),
        ("hashchange", "/spa.html#faq", "Pricing: FAQ"),
    ]
    sent = [_payload(t) for t in tracks if t["body"]["type"] == "track"]
    view_props = [p["properties"] for p in sent if p["name"] == "screen_view"]
    assert [p["__path"] for p in view_props] == [f"{site.url}{s}" for s in VIEW_PATHS]
    # Every event carries the page's referrer, and the other events the last view's path
    # (the page's address for the calls queued before the first view).
    assert {p["properties"].get("__referrer") for p in sent} == {REFERRER}
    paths = {p["name"]: p["properties"]["__path"] for p in sent if p["name"] != "screen_view"}
    assert paths == {
        "pricing_viewed": f"{site.url}/spa.html",
        "revenue": f"{site.url}/spa.html",
        "signup": f"{site.url}/spa.html#faq",
        "link_out": f"{site.url}/spa.html#faq",
    }

    # What the server stored.
    rows = server.events(includes="properties,revenue,referrer,referrerName,origin,sdkName")
    events = sorted(rows["data"], key=lambda r: r["createdAt"])
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in events:
        by_name.setdefault(row["name"], []).append(row)

    views = by_name["screen_view"]
    assert [(v["path"], v["properties"]["__title"]) for v in views] == [
        ("/spa.html", "Pricing"),
        ("/app/features", "Features"),
        ("/app/plans", "Plans"),
        ("/spa.html", "Pricing"),
        ("/spa.html", "Pricing: FAQ"),
    ]
    assert views[-1]["properties"]["__hash"] == "#faq"
    assert {v["origin"] for v in views} == {site.url}
    # The queued calls leave together with the first view, and any of them may open the
    # session: all carry the referrer, so the session and every row have the page's referrer.
    [start] = by_name["session_start"]
    assert (start["referrer"], start["referrerName"]) == (REFERRER, "Hacker News")
    assert {(r["referrer"], r["referrerName"]) for r in events} == {(REFERRER, "Hacker News")}

    # The calls queued before init apply to the first view already.
    assert all(r["properties"]["app_version"] == "1.2.3" for r in views)

    # The clicks and the queued events are stored on the page they happened on.
    for name in ("signup", "link_out", "pricing_viewed", "revenue"):
        [row] = by_name[name]
        assert (row["path"], row["origin"]) == ("/spa.html", site.url), row
        assert row["properties"].get("__hash") == (
            "#faq" if name in ("signup", "link_out") else None
        )

    [signup] = by_name["signup"]
    assert signup["properties"]["plan"] == "pro"
    assert signup["properties"]["billingCycle"] == "yearly"  # data-billing-cycle, camelCased
    [link_out] = by_name["link_out"]
    assert link_out["properties"]["href"] == outgoing
    assert link_out["properties"]["text"] == "Read the docs"

    [queued] = by_name["pricing_viewed"]
    assert queued["properties"]["source"] == "queue"
    assert queued["properties"]["seats"] == "3"  # the export's properties are strings
    [revenue] = by_name["revenue"]
    assert revenue["revenue"] == 4900
    assert revenue["properties"]["currency"] == "USD"

    # identify made the profile; increment then decrement changed it.
    profile = httpx.get(
        f"{server.url}/export/profiles/{PROFILE_ID}", headers=server.read_headers(), timeout=10
    )
    assert profile.status_code == 200, profile.text
    stored = profile.json()
    assert (stored["firstName"], stored["lastName"], stored["email"]) == (
        "Grace",
        "Hopper",
        "grace@example.com",
    )
    assert stored["properties"]["plan"] == "free"
    assert stored["properties"]["visits"] == "2"

    # One device, one session, one profile for everything the page sent.
    browser_rows = [r for r in events if r["name"] not in ("session_start", "session_end")]
    assert {r["deviceId"] for r in browser_rows} == {views[0]["deviceId"]}
    assert len({r["sessionId"] for r in browser_rows}) == 1 and views[0]["sessionId"]
    assert len(by_name["session_start"]) == 1
    assert {r["profileId"] for r in [signup, link_out, queued, revenue, *views]} == {PROFILE_ID}
    assert len({r["sdkName"] for r in browser_rows}) == 1


def test_the_script_never_throws_into_a_page(
    browser: Browser, site: StaticSite, page_config: dict[str, Any]
) -> None:
    page_config.update(clientId="5f0f1c52-7a4e-4c1b-9a59-2d1f7c1e0b33")  # any well-formed id
    urls = [
        f"{site.url}/control.html",
        f"{site.url}/no-init.html",
        *(f"{site.url}/broken-fetch.html?mode={mode}" for mode in ("throw", "reject", "missing")),
    ]
    seen = run_driver("never_throws.mjs", browser, {"pages": urls})
    control, no_init, *broken = seen["pages"]

    # The driver does see a page's errors (an uncaught error, an unhandled rejection).
    assert len(control["pageErrors"]) == 2, control

    for page in [no_init, *broken]:
        assert page["pageErrors"] == [], page
        assert page["consoleErrors"] == [], page
        assert page["thrown"] == [], page  # no call threw into its caller
        # The page's own errors are not swallowed on their way (patched history methods).
        assert page["ownError"] == "SecurityError", page
        assert page["tracks"] == [], page  # nothing reached the network

    assert no_init["fetchCalls"] == 0  # without init nothing is even tried
    throw, reject, missing = broken
    assert throw["fetchCalls"] > 0 and reject["fetchCalls"] > 0  # it did try, and coped
    assert missing["fetchCalls"] == 0
