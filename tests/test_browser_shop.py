"""Headless Chromium in the Flask example shop: the browser script through the app's proxy.

A real browser loads the shop's pages (the first-party script from ``/_op/op.js``, events
through ``/_op/track``), follows a product link, logs in and buys. The reference server must
then hold the page views with their paths, titles and the search referrer, the ``data-track``
clicks on their pages, and the backend's purchase and revenue in the same device and session as the browser's
events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import RunningServer, start_server

from examples.flask_app import create_app, openpanel
from tests.browser_helpers import Browser, launch_browser, run_driver, serve_wsgi

SEARCH_REFERRER = "https://www.google.com/search?q=burr+grinder"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_browser() as running:
        yield running


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
            "SECRET_KEY": "browser-e2e-secret-key",
            "OPENPANEL_CLIENT_ID": server.client_id,
            "OPENPANEL_CLIENT_SECRET": server.secret,
            "OPENPANEL_API_URL": server.url,
            "OPENPANEL_CLIENT_OPTIONS": {"flush_interval": 0.2},
            # Chromium's own favicon request (a 404 here) carries no search referrer; tracked,
            # it may reach the server first and open the session without one.
            "OPENPANEL_EXCLUDE_PATHS": ["/favicon.ico"],
            # The browser script will leave localhost and automated browsers out by default:
            # these switches keep a headless browser on 127.0.0.1 tracked.
            "OPENPANEL_BROWSER": {
                "trackLocalhost": True,
                "trackAutomation": True,
                "trackOutgoingLinks": True,
                "trackAttributes": True,
            },
        }
    )
    try:
        with serve_wsgi(app) as url:
            yield url, app
    finally:
        openpanel.shutdown(app, timeout=5.0)


def _by_name(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["createdAt"]):
        out.setdefault(row["name"], []).append(row)
    return out


def test_shop_pages_clicks_login_and_purchase_land_in_one_session(
    browser: Browser, server: RunningServer, shop: tuple[str, Any]
) -> None:
    url, app = shop
    seen = run_driver(
        "shop.mjs",
        browser,
        {"shopUrl": url, "referrer": SEARCH_REFERRER, "name": "Ada Lovelace", "quantity": 2},
    )
    assert openpanel.state(app).client.flush(10)

    # What the browser did: every event went through the app's own origin, and succeeded.
    assert seen["pageErrors"] == []
    assert seen["consoleErrors"] == []  # no CSP violation, no failed request
    tracks: list[dict[str, Any]] = seen["tracks"]
    assert tracks
    assert {t["url"] for t in tracks} == {f"{url}/_op/track"}
    assert all(t["method"] == "POST" for t in tracks)
    answered = [t for t in tracks if not t["orphaned"]]
    assert all(t["status"] == 200 and t["failure"] is None for t in answered), answered
    # A click that navigates: its keepalive request outlives the page, so the browser reports
    # no answer for it (the server's rows below show it arrived).
    assert {t["body"]["payload"]["name"] for t in tracks if t["orphaned"]} <= {
        "product_clicked",
        "buy_clicked",
    }
    assert seen["preflights"] == []  # same origin: no CORS preflight
    assert all(server.secret not in repr(t) for t in tracks)
    assert [p["title"] for p in seen["pages"]] == [
        "Coffee gear · Bean There",
        "Burr grinder · Bean There",
        "Log in · Bean There",
        "Burr grinder · Bean There",
        "Thank you · Bean There",
    ]

    # Each page load's view sends its document.referrer: the search page, then the shop's own
    # pages (which the server drops as internal).
    referrers = [
        t["body"]["payload"]["properties"].get("__referrer")
        for t in tracks
        if t["body"]["payload"].get("name") == "screen_view"
    ]
    assert referrers == [
        SEARCH_REFERRER,
        f"{url}/",
        f"{url}/products/grinder",
        f"{url}/login?next=/products/grinder",
        f"{url}/products/grinder",
    ]
    # The clicks carry their page's address and referrer, as its view did.
    clicks = {
        p["name"]: (p["properties"]["__path"], p["properties"].get("__referrer"))
        for p in (t["body"]["payload"] for t in tracks)
        if p.get("name") in ("product_clicked", "buy_clicked")
    }
    assert clicks == {
        "product_clicked": (f"{url}/", SEARCH_REFERRER),
        "buy_clicked": (f"{url}/products/grinder", f"{url}/login?next=/products/grinder"),
    }

    rows = server.events(includes="properties,revenue,referrer,referrerName,referrerType,sdkName")
    by_name = _by_name(rows["data"])

    # Page views: path and title of each page in order, the search referrer on the first.
    views = by_name["screen_view"]
    assert [v["path"] for v in views] == [
        "/",
        "/products/grinder",
        "/login",
        "/products/grinder",
        "/thanks/grinder",
    ]
    assert [v["properties"]["__title"] for v in views] == [p["title"] for p in seen["pages"]]
    first = views[0]
    assert first["referrer"] == "https://www.google.com/search?q=burr+grinder"
    assert (first["referrerName"], first["referrerType"]) == ("Google", "search")

    # data-track clicks with their data-* properties, on the page they happened on.
    [product_click] = by_name["product_clicked"]
    assert (product_click["path"], product_click["properties"]["sku"]) == ("/", "grinder")
    [buy_click] = by_name["buy_clicked"]
    assert (buy_click["path"], buy_click["properties"]["sku"]) == ("/products/grinder", "grinder")

    # The backend's events of the same visit.
    [purchase] = by_name["purchase"]
    [revenue] = by_name["revenue"]
    [login] = by_name["login"]
    assert revenue["revenue"] == 2 * 12900
    assert purchase["properties"]["quantity"] == "2"
    assert (
        purchase["profileId"] == revenue["profileId"] == login["profileId"] == "user-ada-lovelace"
    )
    # After the login, the page's snippet names the user: the browser's events carry the profile.
    after_login = [views[3], views[4], buy_click]
    assert {r["profileId"] for r in after_login} == {"user-ada-lovelace"}
    assert {r["profileId"] for r in [*views[:3], product_click]} == {views[0]["deviceId"]}

    # Browser and backend: one device, one session.
    browser_rows = [*views, product_click, buy_click]
    backend_rows = [purchase, revenue, login, *by_name["server_request"]]
    all_rows = browser_rows + backend_rows
    # The session keeps the search referrer it was opened with.
    assert {r["referrer"] for r in browser_rows} == {SEARCH_REFERRER}
    assert len({r["deviceId"] for r in all_rows}) == 1, {r["name"]: r["deviceId"] for r in all_rows}
    assert len({r["sessionId"] for r in all_rows}) == 1
    assert all(r["sessionId"] for r in all_rows)
    assert len(by_name["session_start"]) == 1
    browser_sdks = {r["sdkName"] for r in browser_rows}
    assert len(browser_sdks) == 1 and browser_sdks != {purchase["sdkName"]}
