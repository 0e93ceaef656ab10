"""The dashboard: its static serving, and the page itself in headless Chromium."""

from __future__ import annotations

import http.client
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from server_helpers import RunningServer, make_geo_db, start_server

from openpanel_core import OpenPanel
from openpanel_server._dashboard import ASSET_CACHE, CSP
from tests.browser_helpers import Browser, launch_browser, run_driver

REPO = Path(__file__).resolve().parents[3]
SCREENSHOT = REPO / "docs" / "screenshots" / "dashboard-overview.png"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
# profile: (ip, user agent, pages). 203.0.113.0/24 is Sweden in the test geo database.
VISITORS: dict[str, tuple[str, str, list[str]]] = {
    "u-sv1": ("203.0.113.1", SAFARI, ["/home"]),
    "u-sv2": ("203.0.113.2", SAFARI, ["/home", "/pricing"]),
    "u-far": ("198.51.100.7", FIREFOX, ["/docs"]),  # from Google
}


# ---------------------------------------------------------------------- static serving


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()


class Client:
    """Raw HTTP/1.1 requests: the path is sent exactly as written (no dot-segment cleanup)."""

    def __init__(self, url: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers)

    def head(self, path: str) -> Answer:
        return self.request("HEAD", path)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return Client(server.url)


def test_the_page_has_a_csp_an_etag_and_versioned_assets(client: Client) -> None:
    r = client.get("/dashboard")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["etag"].startswith('"')
    assert "__ASSETS_VERSION__" not in r.text
    assert "<script>" not in r.text and "style=" not in r.text  # nothing inline
    assert "/dashboard/assets/app.js?v=" in r.text
    assert client.get("/dashboard/").content == r.content


def test_assets_are_cached_for_long_and_revalidate_with_304(client: Client) -> None:
    for path, media in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("vendor/chart.umd.min.js", "text/javascript; charset=utf-8"),
    ]:
        r = client.get(f"/dashboard/assets/{path}")
        assert r.status_code == 200, path
        assert r.headers["content-type"] == media
        assert r.headers["cache-control"] == ASSET_CACHE
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        etag = r.headers["etag"]
        again = client.get(f"/dashboard/assets/{path}", headers={"if-none-match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        for header in (f'"other", W/{etag}', "*"):
            assert (
                client.get(
                    f"/dashboard/assets/{path}", headers={"if-none-match": header}
                ).status_code
                == 304
            )
        stale = client.get(f"/dashboard/assets/{path}", headers={"if-none-match": '"stale"'})
        assert stale.status_code == 200 and stale.content == r.content
    head = client.head("/dashboard/assets/app.js")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(
        client.get("/dashboard/assets/app.js").content
    )


def test_the_vendored_chart_libraries_ship_with_their_licenses(client: Client) -> None:
    lib = client.get("/dashboard/assets/vendor/chart.umd.min.js").text
    assert lib.startswith("/*!\n * Chart.js v4.")
    assert "MIT License" in client.get("/dashboard/assets/vendor/chart.js-LICENSE.md").text
    sankey = client.get("/dashboard/assets/vendor/chartjs-chart-sankey.min.js")
    assert sankey.text.startswith("/*!\n * chartjs-chart-sankey v0.19.1")
    assert sankey.headers["content-type"] == "text/javascript; charset=utf-8"
    license_text = client.get("/dashboard/assets/vendor/chartjs-chart-sankey-LICENSE.md").text
    assert "MIT License" in license_text and "Jukka Kurkela" in license_text
    page = client.get("/dashboard").text
    # Chart.js, then its sankey plugin (which registers itself with window.Chart), then the app.
    assert (
        page.index("chart.umd.min.js") < page.index("chartjs-chart-sankey") < page.index("app.js")
    )


PAGES = ["overview", "events", "funnel", "retention", "paths", "profiles", "sessions", "live"]


def test_the_modules_import_each_other_with_the_assets_version(client: Client) -> None:
    page = client.get("/dashboard").text
    version = re.search(r"app\.js\?v=([0-9a-f]{16})\"", page)
    assert version is not None
    mark = f"?v={version.group(1)}"
    imports: list[str] = []
    for module in ["app.js", "api.js", "ui.js", *(f"pages/{p}.js" for p in [*PAGES, "webhooks"])]:
        r = client.get(f"/dashboard/assets/{module}")
        assert r.status_code == 200, module
        assert "__ASSETS_VERSION__" not in r.text
        found = re.findall(
            r"^import [^;]+? from '([^']+)';", r.text, flags=re.MULTILINE | re.DOTALL
        )
        assert all(spec.endswith(mark) for spec in found), (module, found)
        imports += found
        assert "innerHTML" not in r.text and "insertAdjacentHTML" not in r.text, module
    # Every page module is imported by the app, each a page of the nav.
    for name in [*PAGES, "webhooks"]:
        assert f"./pages/{name}.js{mark}" in imports
        assert f'href="#/{name}"' in page
    # The vendored files are served as published (no version mark replaced in them).
    assert "?v=" not in client.get("/dashboard/assets/vendor/chartjs-chart-sankey.min.js").text


@pytest.mark.parametrize(
    "path",
    [
        "nope.js",
        "index.html",  # the page is only at /dashboard
        "../_dashboard.py",
        "..%2F_dashboard.py",
        "%2e%2e/__init__.py",
        "vendor/../../_app.py",
        "/etc/passwd",
        "__pycache__",
        "vendor",
    ],
)
def test_unknown_assets_are_404_and_nothing_outside_is_reachable(client: Client, path: str) -> None:
    r = client.get(f"/dashboard/assets/{path}")
    assert r.status_code == 404
    assert "openpanel" not in r.text.lower()


# ---------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("dashboard")
    db = make_geo_db(tmp / "city.mmdb")
    running = start_server(tmp / "data", "--geoip-db", str(db), "--session-timeout", "1")
    try:
        op = OpenPanel(running.client_id, running.secret, api_url=running.url, flush_interval=0.02)
        for profile, (ip, agent, pages) in VISITORS.items():
            with op.context(ip=ip, user_agent=agent):
                for page in pages:
                    props = {"__path": f"https://shop.test{page}"}
                    if profile == "u-far":
                        props["__referrer"] = "https://www.google.com/"
                    op.track("screen_view", props, profile_id=profile)
        assert op.flush(10)
        op.shutdown()
        deadline = time.monotonic() + 15  # sessions are stored when they end
        while len(running.events(event="session_end")["data"]) < len(VISITORS):
            if time.monotonic() > deadline:
                pytest.fail("the sessions did not end")
            time.sleep(0.3)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_browser() as running:
        yield running


def rows(snapshot: dict[str, Any], dimension: str) -> dict[str, int]:
    return {row["value"]: row["count"] for row in snapshot["tops"][dimension]}


def total(snapshot: dict[str, Any], label: str) -> float:
    [dataset] = [d for d in snapshot["chart"]["datasets"] if d["label"] == label]
    return sum(dataset["data"])


def test_the_overview_loads_filters_and_changes_range(
    server: RunningServer, browser: Browser
) -> None:
    shoot = os.environ.get("OPENPANEL_SCREENSHOTS") == "1"
    if shoot:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    creds = server.read_headers()
    config = {
        "url": server.url,
        "clientId": creds["openpanel-client-id"],
        "clientSecret": creds["openpanel-client-secret"],
        "screenshot": str(SCREENSHOT) if shoot else None,
    }
    seen = run_driver("dashboard.mjs", browser, config, timeout=90)

    assert seen["pageErrors"] == []
    # Only the refused requests of the last two steps, which the browser itself logs.
    errors = seen["consoleErrors"]
    assert [e for e in errors if e["step"] == "load"] == []
    assert {e["step"] for e in errors} == {"refused", "wrong secret"}
    assert all("Failed to load resource" in e["text"] for e in errors), errors
    assert seen["signedOut"] == {"loginVisible": True, "overviewVisible": False}

    initial = seen["initial"]
    assert initial["error"] == ""
    assert initial["range"] == "7d"
    kpis = initial["kpis"]
    assert (kpis["visitors"], kpis["sessions"]) == (3, 3)
    assert kpis["bounceRate"] == pytest.approx(200 / 3, abs=0.01)  # u-sv2 saw two pages
    assert initial["domKpis"][:3] == ["3", "3", "67%"]
    assert rows(initial, "path") == {"/home": 2, "/pricing": 1, "/docs": 1}
    assert rows(initial, "country") == {"SE": 2, "": 1}
    assert rows(initial, "browser") == {"Safari": 2, "Firefox": 1}
    assert rows(initial, "referrer_name") == {"": 2, "Google": 1}
    assert any(text.startswith("/home") and text.endswith("22") for text in initial["domPages"])
    assert len(initial["chart"]["labels"]) == 7  # one point a day
    assert (total(initial, "Visitors"), total(initial, "Sessions")) == (3, 3)

    filtered = seen["filtered"]
    assert filtered["error"] == ""
    assert filtered["filters"] == [{"name": "country", "operator": "is", "value": ["SE"]}]
    assert filtered["filterChips"] == ["country is SE"]
    assert (filtered["kpis"]["visitors"], filtered["kpis"]["sessions"]) == (2, 2)
    assert rows(filtered, "path") == {"/home": 2, "/pricing": 1}
    assert rows(filtered, "country") == {"SE": 2}
    assert (total(filtered, "Visitors"), total(filtered, "Sessions")) == (2, 2)

    unfiltered = seen["unfiltered"]
    assert unfiltered["filters"] == []
    assert (unfiltered["kpis"]["visitors"], total(unfiltered, "Visitors")) == (3, 3)

    today = seen["today"]
    assert today["range"] == "today"
    assert today["kpis"]["visitors"] == 3
    assert all(len(label) == 5 and label[2] == ":" for label in today["chart"]["labels"])
    assert total(today, "Sessions") == 3

    refused = seen["refused"]
    assert "filters.0" in refused["error"]
    assert refused["status"].startswith("Could not load the overview: filters.0")
    assert refused["generation"] == today["generation"]  # the last good data stays
    recovered = seen["recovered"]
    assert recovered["error"] == "" and recovered["filters"] == []
    assert recovered["kpis"]["visitors"] == 3

    wrong = seen["wrongSecret"]
    assert (wrong["loginVisible"], wrong["overviewVisible"]) == (True, False)
    assert "refused" in wrong["message"]
    assert wrong["stored"] == 0

    # The secret stays in this tab's session storage: never in a URL, never in localStorage.
    secret = config["clientSecret"]
    assert any(secret in value for value in seen["storage"]["session"].values())
    assert seen["storage"]["local"] == []
    assert not any(secret in url for url in [*seen["requestUrls"], seen["pageUrl"]])
    if shoot:
        assert SCREENSHOT.stat().st_size > 10_000
