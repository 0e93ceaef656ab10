"""The dashboard's pages in headless Chromium, against a real server with known events.

One server (events sent by the core client, two webhook endpoints, and an older profile whose
session is over a year old, written to the store before the server starts) and one Chromium are
shared by the module; each test runs a short Playwright scenario (the JavaScript below, written
to a temporary ``.mjs`` that imports ``tests/browser/harness.mjs``) in a fresh browser context:
sign in with the read client, open a page by its hash route, read what it shows
(``window.__opDashboard.views[page]`` plus the DOM), change a filter or an option, read again.
With ``OPENPANEL_SCREENSHOTS=1`` each scenario writes ``docs/screenshots/dashboard-<page>.png``
(fixed 1280x900 viewport).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, WebhookReceiver, eventually, make_geo_db, start_server

from openpanel_core import OpenPanel
from tests.browser_helpers import BROWSER_DIR, Browser, launch_browser, run_driver

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "docs" / "screenshots"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
#: Loopback webhook receivers allowed, http allowed, quick retries.
WEBHOOK_ENV = {
    "OPENPANEL_SERVER_WEBHOOK_ALLOW_SUBNETS": "127.0.0.0/8",
    "OPENPANEL_SERVER_WEBHOOK_ALLOW_HTTP": "1",
    "OPENPANEL_SERVER_WEBHOOK_SCHEDULE": "0,0.3,0.3",
}
#: Data is shown as text, never parsed: this first name must not become an element.
ALICE = "Alice <img src=x onerror=window.__xss=1>"
# profile: (ip, user agent, identity or None, [(event, page or None, properties)]).
# 203.0.113.0/24 is Sweden in the test geo database; u-far comes from Google.
VISITORS: dict[str, tuple[str, str, tuple[str, str, str] | None, list[tuple[str, str | None]]]] = {
    "u-sv1": (
        "203.0.113.1",
        SAFARI,
        (ALICE, "Svensson", "alice@shop.test"),
        [
            ("screen_view", "/home"),
        ],
    ),
    "u-sv2": (
        "203.0.113.2",
        SAFARI,
        ("Bob", "Berg", "bob@shop.test"),
        [
            ("screen_view", "/home"),
            ("screen_view", "/pricing"),
            ("add_to_cart", None),
            ("screen_view", "/checkout"),
            ("purchase", None),
        ],
    ),
    "u-far": (
        "198.51.100.7",
        FIREFOX,
        None,
        [
            ("screen_view", "/docs"),
            ("screen_view", "/pricing"),
            ("add_to_cart", None),
        ],
    ),
}
# Retention: events days ago (no sessions: the server stores them as from the past).
RETENTION = [
    ("r1", "signup", 3), ("r2", "signup", 3), ("r3", "signup", 3),
    ("r1", "login", 2), ("r2", "login", 2), ("r1", "login", 1),
]  # fmt: skip
#: Written to the store before the server starts (the server never makes sessions of backdated
#: events): profile u-old, active 20 days ago, and its session 400 days ago.
OLD_SESSION = "old-session-1"
SEED = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from openpanel_server._cli import ensure_default_project
    from openpanel_server._meta import MetaStore
    from openpanel_server._store import EventRow, ProfileRow, SessionRow, open_store

    data = Path(sys.argv[1])
    data.mkdir(parents=True)
    creds = ensure_default_project(MetaStore(data / "meta.db"), data)
    project = creds["projectId"]
    noon = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    start, recent = noon - timedelta(days=400), noon - timedelta(days=20)
    common = dict(project_id=project, device_id="d-old", profile_id="u-old", country="DE",
                  city="Berlin", browser="Firefox", os="Linux", device="desktop",
                  origin="https://shop.test")
    steps = [("session_start", "/legacy", 0), ("screen_view", "/legacy", 0.1),
             ("legacy_checkout", "/legacy", 30), ("screen_view", "/thanks", 60),
             ("session_end", "/thanks", 61)]
    events = [EventRow(id=f"old-{i}", name=name, path=path, session_id=sys.argv[2],
                       created_at=start + timedelta(seconds=at), **common)
              for i, (name, path, at) in enumerate(steps)]
    events.append(EventRow(id="old-recent", name="screen_view", path="/home",
                           created_at=recent, **common))
    store = open_store(None, data)
    store.insert_events(events)
    store.insert_sessions([SessionRow(
        id=sys.argv[2], project_id=project, created_at=start, ended_at=start + timedelta(seconds=60),
        version=1, profile_id="u-old", device_id="d-old", is_bounce=False, entry_path="/legacy",
        exit_path="/thanks", screen_view_count=2, event_count=5, duration=60_000, country="DE",
        city="Berlin", browser="Firefox", os="Linux", device="desktop")])
    store.insert_profiles([ProfileRow(
        id="u-old", project_id=project, created_at=start, last_seen_at=recent,
        first_name="Olga", last_name="Old", email="olga@shop.test")])
    store.close()
    """
)


def cli(data_dir: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | WEBHOOK_ENV
    done = subprocess.run(
        [sys.executable, "-m", "openpanel_server", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[WebhookReceiver, WebhookReceiver]]:
    good, failing = WebhookReceiver(), WebhookReceiver(status=500)
    yield good, failing
    good.close()
    failing.close()


def send(
    running: RunningServer,
    profile: str,
    events: list[tuple[str, str | None]],
    ip: str | None = None,
) -> None:
    known_ip, agent, identity, _ = VISITORS.get(profile, ("203.0.113.9", SAFARI, None, []))
    ip = ip or known_ip
    op = OpenPanel(running.client_id, running.secret, api_url=running.url, flush_interval=0.02)
    start = time.time()
    with op.context(ip=ip, user_agent=agent):
        if identity:
            first, last, email = identity
            op.identify(profile, first_name=first, last_name=last, email=email)
        for i, (name, page) in enumerate(events):
            props: dict[str, Any] = {}
            if page:
                props["__path"] = f"https://shop.test{page}"
                if profile == "u-far":
                    props["__referrer"] = "https://www.google.com/"
            if name == "purchase":
                props["amount"] = 30
            op.track(name, props, profile_id=profile, timestamp=start + i * 0.1)
    assert op.flush(10)
    op.shutdown()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, receivers: tuple[WebhookReceiver, WebhookReceiver]
) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("dashboard-pages")
    db = make_geo_db(tmp / "city.mmdb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    subprocess.run(
        [sys.executable, "-c", SEED, str(tmp / "data"), OLD_SESSION],
        env=env,
        timeout=60,
        check=True,
    )
    running = start_server(
        tmp / "data", "--geoip-db", str(db), "--session-timeout", "1", env=WEBHOOK_ENV
    )
    try:
        root = cli(
            running.data_dir,
            *("client", "create", "--project", running.creds["projectId"], "--type", "root"),
        )
        running.creds["rootClientId"] = root["clientId"]
        running.creds["rootClientSecret"] = root["clientSecret"]
        root_headers = {
            "openpanel-client-id": root["clientId"],
            "openpanel-client-secret": root["clientSecret"],
        }
        good, failing = receivers
        for url, description in [(good.url, "shop"), (failing.url, "failing")]:
            created = httpx.post(
                f"{running.url}/api/webhooks",
                headers=root_headers,
                json={"url": url, "description": description, "eventTypes": ["profile.identified"]},
            )
            assert created.status_code == 201, created.text
        for profile, (_, _, _, events) in VISITORS.items():
            send(running, profile, events)
        op = OpenPanel(running.client_id, running.secret, api_url=running.url)
        today = dt.datetime.now(dt.timezone.utc).replace(hour=12, minute=0, second=0)
        for profile, name, days in RETENTION:
            op.track(name, profile_id=profile, timestamp=today - dt.timedelta(days=days))
        assert op.flush(10)
        op.shutdown()
        # Sessions are stored when they end; webhooks are sent after the profiles are stored.
        # (Plus the seeded session's end, over a year old.)
        ended = len(VISITORS) + 1
        eventually(lambda: len(running.events(event="session_end")["data"]) == ended)
        # The failing endpoint's two messages are exhausted after three attempts each.
        eventually(lambda: len(good.processed) == 2 and len(failing.requests) == 6)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_browser() as running:
        yield running


# ---------------------------------------------------------------------- the driver

PRELUDE = """
import { openContext, output, readConfig, watchdog } from '__HARNESS__';
import { existsSync, writeFileSync } from 'node:fs';

const config = await readConfig();
const { browser, context } = await openContext(config);
const page = await context.newPage();
await page.setViewportSize({ width: 1280, height: 900 });
const pageErrors = [];
const consoleErrors = [];
const result = {};
page.on('pageerror', (e) => pageErrors.push(String(e && e.stack ? e.stack : e)));
page.on('console', (msg) => {
  if (msg.type() === 'error' || msg.type() === 'warning') {
    consoleErrors.push({ text: msg.text(), url: msg.location().url });
  }
});
watchdog(config.timeoutMs, () => JSON.stringify({ result, pageErrors, consoleErrors }));

const snapshot = () => page.evaluate(() => window.__opDashboard);
async function settled(after) {
  await page.waitForFunction((g) => {
    const d = window.__opDashboard;
    return Boolean(d && d.attempt > g && (d.attempt === d.generation || d.error));
  }, after);
  return snapshot();
}
// Run `action` (clicks...) and wait for the load it starts.
async function act(action) {
  const before = (await snapshot()).attempt;
  await action();
  return settled(before);
}
const texts = (selector) => page.locator(selector).allTextContents();
const rows = (selector) =>
  page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
async function shoot(name) {
  if (config.screenshots) {
    await page.screenshot({ path: `${config.screenshots}/dashboard-${name}.png`, fullPage: true });
  }
}

await page.goto(`${config.url}/dashboard#/${config.start}`);
await page.waitForFunction(() => window.__opDashboard !== undefined);
await page.fill('#client-id', config.clientId);
await page.fill('#client-secret', config.clientSecret);
await page.click('#login-form button[type=submit]');
result.initial = await settled(0);
"""

EPILOGUE = """
result.pageErrors = pageErrors;
result.consoleErrors = consoleErrors;
result.navCurrent = await texts('#nav a[aria-current=page]');
output(result);
await context.close();
await browser.close();
"""


def drive(
    server: RunningServer,
    browser: Browser,
    tmp_path: Path,
    start: str,
    scenario: str,
    **extra: Any,
) -> dict[str, Any]:
    """Sign in on ``#/<start>``, run ``scenario`` (JavaScript), return its ``result``."""
    harness = (BROWSER_DIR / "harness.mjs").as_uri()
    script = tmp_path / f"dashboard_{start}.mjs"
    script.write_text(PRELUDE.replace("__HARNESS__", harness) + scenario + EPILOGUE)
    shoot = os.environ.get("OPENPANEL_SCREENSHOTS") == "1"
    if shoot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    creds = server.read_headers()
    config = {
        "url": server.url,
        "clientId": creds["openpanel-client-id"],
        "clientSecret": creds["openpanel-client-secret"],
        "start": start,
        "screenshots": str(SCREENSHOTS) if shoot else None,
        **extra,
    }
    seen = run_driver(str(script), browser, config, timeout=60)
    assert seen["pageErrors"] == []
    return seen


def no_console_errors(seen: dict[str, Any]) -> None:
    assert seen["consoleErrors"] == []


def view(snapshot: dict[str, Any], page: str) -> dict[str, Any]:
    assert snapshot["error"] == ""
    assert snapshot["page"] == page
    found: dict[str, Any] = snapshot["views"][page]
    return found


def dataset(chart: dict[str, Any], label: str) -> list[float]:
    [found] = [d["data"] for d in chart["datasets"] if d["label"] == label]
    return found


# ---------------------------------------------------------------------- pages

EVENTS = """
result.names = await texts('#events-name option');
await page.selectOption('#events-name', 'screen_view');
result.screenViews = await act(() => page.click('#events-form button[type=submit]'));
await page.fill('#events-breakdown', 'browser');
await page.check('#events-previous');
result.byBrowser = await act(() => page.click('#events-form button[type=submit]'));
result.legend = result.byBrowser.views.events.chart.datasets.map((d) => d.label);
result.table = await rows('#events-table');
await shoot('events');
await page.fill('#events-breakdown', '');
await page.uncheck('#events-previous');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
await page.click('#filter-list li button');
await page.selectOption('#events-metric', 'property_sum');
await page.fill('#events-property', 'properties.amount');
await page.selectOption('#events-name', 'purchase');
result.amount = await act(() => page.click('#events-form button[type=submit]'));
await page.selectOption('#events-metric', 'user');
await page.selectOption('#events-name', '');
await page.selectOption('#events-interval', 'hour');
result.hourly = await act(() => page.click('#events-form button[type=submit]'));
"""


def test_events_page(server: RunningServer, browser: Browser, tmp_path: Path) -> None:
    seen = drive(server, browser, tmp_path, "events", EVENTS)
    no_console_errors(seen)
    assert seen["navCurrent"] == ["Events"]
    # All events a day over 7 days: 9 tracked + 3 session_start + 3 session_end + 6 past.
    initial = view(seen["initial"], "events")
    assert initial["series"] == [{"name": "*", "breakdown": [], "total": 21, "previousTotal": None}]
    assert len(initial["chart"]["labels"]) == 7
    assert sum(dataset(initial["chart"], "All events: Events")) == 21
    # The picker lists every event name, of any age, most frequent first (event_names).
    assert seen["names"][:2] == ["All events", "screen_view"]
    assert {"legacy_checkout", "login", "signup", "purchase", "add_to_cart"} <= set(seen["names"])

    screen_views = view(seen["screenViews"], "events")
    assert [s["total"] for s in screen_views["series"]] == [6]
    assert sum(dataset(screen_views["chart"], "screen_view: Events")) == 6

    # Broken down by browser, compared with the (empty) previous period.
    by_browser = view(seen["byBrowser"], "events")
    assert by_browser["request"]["breakdowns"] == [{"name": "browser"}]
    assert [(s["breakdown"], s["total"], s["previousTotal"]) for s in by_browser["series"]] == [
        (["Safari"], 4, 0),
        (["Firefox"], 2, 0),
    ]
    assert seen["legend"] == [
        "screen_view: Events · Safari",
        "screen_view: Events · Safari (previous period)",
        "screen_view: Events · Firefox",
        "screen_view: Events · Firefox (previous period)",
    ]
    assert [row[0:2] + row[5:] for row in seen["table"]] == [
        ["screen_view: Events · Safari", "4", "0", "new"],
        ["screen_view: Events · Firefox", "2", "0", "new"],
    ]

    filtered = view(seen["filtered"], "events")  # country is SE
    assert seen["filtered"]["filters"] == [{"name": "country", "operator": "is", "value": ["SE"]}]
    assert [s["total"] for s in filtered["series"]] == [4]
    assert sum(dataset(filtered["chart"], "screen_view: Events")) == 4

    amount = view(seen["amount"], "events")  # sum of properties.amount over purchases
    assert amount["request"]["series"] == [
        {"name": "purchase", "segment": "property_sum", "property": "properties.amount"}
    ]
    assert [s["total"] for s in amount["series"]] == [30]

    hourly = view(seen["hourly"], "events")  # unique visitors an hour
    assert hourly["interval"] == "hour"
    assert len(hourly["chart"]["labels"]) == 7 * 24
    # 3 visitors this hour, and the retention profiles on three past days (3, 2 and 1).
    assert sorted(v for v in dataset(hourly["chart"], "All events: Unique visitors") if v) == [
        1,
        2,
        3,
        3,
    ]


FUNNEL = """
result.hint = await texts('#funnel-table tbody td');
await page.selectOption('#funnel-step-1', 'screen_view');
await page.selectOption('#funnel-step-2', 'add_to_cart');
await page.click('#funnel-add');
await page.selectOption('#funnel-step-3', 'purchase');
result.steps = await act(() => page.click('#funnel-form button[type=submit]'));
result.table = await rows('#funnel-table');
await shoot('funnel');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
await page.click('#filter-list li button');
await page.fill('#funnel-breakdown', 'browser');
result.byBrowser = await act(() => page.click('#funnel-form button[type=submit]'));
result.groups = await rows('#funnel-breakdowns');
await page.fill('#funnel-breakdown', '');
await page.fill('#funnel-window', '0.00005');
result.narrow = await act(() => page.click('#funnel-form button[type=submit]'));
"""


def test_funnel_page(server: RunningServer, browser: Browser, tmp_path: Path) -> None:
    seen = drive(server, browser, tmp_path, "funnel", FUNNEL)
    no_console_errors(seen)
    assert view(seen["initial"], "funnel")["steps"] == []  # nothing chosen yet
    assert seen["hint"] == ["Choose at least two steps, then Apply."]

    steps = view(seen["steps"], "funnel")
    assert steps["request"]["steps"] == [
        {"name": "screen_view"},
        {"name": "add_to_cart"},
        {"name": "purchase"},
    ]
    assert [(s["count"], s["conversion"], s["dropoff"]) for s in steps["steps"]] == [
        (3, 100, 0),
        (2, 66.67, 1),
        (1, 33.33, 1),
    ]
    assert dataset(steps["chart"], "Visitors") == [3, 2, 1]
    assert seen["table"] == [
        ["1. screen_view", "3", "100%", "100%", "0"],
        ["2. add_to_cart", "2", "66.67%", "66.67%", "1"],
        ["3. purchase", "1", "33.33%", "50%", "1"],
    ]

    filtered = view(seen["filtered"], "funnel")  # country is SE: u-sv1 and u-sv2
    assert dataset(filtered["chart"], "Visitors") == [2, 1, 1]
    assert filtered["totalConversion"] == 50

    by_browser = view(seen["byBrowser"], "funnel")
    assert by_browser["breakdowns"] == [
        {"breakdown": ["Safari"], "counts": [2, 1, 1]},
        {"breakdown": ["Firefox"], "counts": [1, 1, 0]},
    ]
    assert dataset(by_browser["chart"], "Firefox") == [1, 1, 0]
    assert seen["groups"] == [["Safari", "2", "1", "1", "50%"], ["Firefox", "1", "1", "0", "0%"]]

    # A 0.18 s window: Bob's cart came 0.1 s after /pricing but his purchase 0.3 s after it
    # (and no page view came later), so his funnel stops at the cart, as u-far's does.
    narrow = view(seen["narrow"], "funnel")
    assert narrow["request"]["windowHours"] == 0.00005
    assert dataset(narrow["chart"], "Visitors") == [3, 2, 0]


RETENTION_SCENARIO = """
await page.selectOption('#retention-period', 'day');
result.daily = await act(() => page.click('#retention-form button[type=submit]'));
await page.selectOption('#retention-start', 'signup');
await page.selectOption('#retention-return', 'login');
result.signup = await act(() => page.click('#retention-form button[type=submit]'));
result.grid = await rows('#retention-table');
await shoot('retention');
await page.fill('#filter-name', 'profile_id');
await page.selectOption('#filter-operator', 'isNot');
await page.fill('#filter-value', 'r2');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
await page.click('#filter-list li button');
await page.selectOption('#retention-start', '');
await page.selectOption('#retention-return', '');
await act(() => page.click('#retention-form button[type=submit]'));
result.today = await act(() => page.click('[data-range=today]'));
"""


def test_retention_page(server: RunningServer, browser: Browser, tmp_path: Path) -> None:
    seen = drive(server, browser, tmp_path, "retention", RETENTION_SCENARIO)
    no_console_errors(seen)
    day = dt.datetime.now(dt.timezone.utc).date()
    signup_day = (day - dt.timedelta(days=3)).isoformat()

    # Any event, by day: the signups' cohort (3 days ago) and today's visitors.
    daily = view(seen["daily"], "retention")
    assert [(c["date"][:10], c["size"], c["retained"]) for c in daily["cohorts"]] == [
        (signup_day, 3, [3, 2, 1, 0]),
        (day.isoformat(), 3, [3]),
    ]
    assert daily["average"] == [100, 66.67, 33.33, 0]

    signup = view(seen["signup"], "retention")  # first signup, returning with a login
    assert [(c["date"][:10], c["size"], c["retained"]) for c in signup["cohorts"]] == [
        (signup_day, 3, [0, 2, 1, 0]),
    ]
    assert dataset(signup["chart"], "All cohorts") == [0, 66.67, 33.33, 0]
    assert seen["grid"] == [
        ["All cohorts", "3", "0%", "66.67%", "33.33%", "0%"],
        [signup_day[5:], "3", "0%", "66.67%", "33.33%", "0%"],
    ]

    filtered = view(seen["filtered"], "retention")  # without r2
    assert [(c["size"], c["retained"]) for c in filtered["cohorts"]] == [(2, [0, 1, 1, 0])]
    assert dataset(filtered["chart"], "All cohorts") == [0, 50, 50, 0]

    today = view(seen["today"], "retention")  # the range applies: only today's visitors
    assert seen["today"]["range"] == "today"
    assert [(c["date"][:10], c["size"], c["retained"]) for c in today["cohorts"]] == [
        (day.isoformat(), 3, [3])
    ]


PATHS = """
result.table = await rows('#paths-table');
await shoot('paths');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
await page.click('#filter-list li button');
await page.fill('#paths-start', '/pricing');
result.fromPricing = await act(() => page.click('#paths-form button[type=submit]'));
"""


def test_paths_page(server: RunningServer, browser: Browser, tmp_path: Path) -> None:
    seen = drive(server, browser, tmp_path, "paths", PATHS)
    no_console_errors(seen)
    initial = view(seen["initial"], "paths")
    flows = {(d["from"], d["to"], d["flow"]) for d in initial["chart"]["datasets"][0]["data"]}
    assert initial["chart"]["type"] == "sankey"
    assert flows == {
        ("1|/docs", "2|/pricing", 1),
        ("1|/home", "2|/pricing", 1),
        ("2|/pricing", "3|/checkout", 1),
    }
    assert {(n["step"], n["path"], n["count"]) for n in initial["nodes"]} == {
        (1, "/docs", 1),
        (1, "/home", 1),
        (2, "/pricing", 2),
        (3, "/checkout", 1),
    }
    # Sequences from each entry page, with the mean time between steps (0.1 s apart).
    assert sorted(seen["table"]) == [
        ["/docs → 0.1s → /pricing", "1"],
        ["/home", "1"],
        ["/home → 0.1s → /pricing → 0.2s → /checkout", "1"],
    ]

    filtered = view(seen["filtered"], "paths")  # country is SE: u-far's /docs is gone
    assert {(d["from"], d["to"]) for d in filtered["chart"]["datasets"][0]["data"]} == {
        ("1|/home", "2|/pricing"),
        ("2|/pricing", "3|/checkout"),
    }
    assert all("/docs" not in row[0] for row in filtered["table"])

    from_pricing = view(seen["fromPricing"], "paths")
    assert from_pricing["request"]["startPath"] == "/pricing"
    assert sorted(s["paths"] for s in from_pricing["sequences"]) == [
        ["/pricing"],
        ["/pricing", "/checkout"],
    ]


PROFILES = """
result.list = await rows('#profiles-table');
result.injected = await page.evaluate(() => ({
  images: document.querySelectorAll('main img').length,
  flag: window.__xss === undefined ? null : window.__xss,
}));
await shoot('profiles');
result.month = await act(() => page.click('[data-range="30d"]'));
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.swedes = await act(() => page.click('#filter-form button[type=submit]'));
result.swedeRows = await rows('#profiles-table');
await act(() => page.click('#filter-list li button'));
await page.fill('#filter-name', 'name');
await page.fill('#filter-value', 'legacy_checkout');
result.legacy = await act(() => page.click('#filter-form button[type=submit]'));
await act(() => page.click('#filter-list li button'));
result.week = await act(() => page.click('[data-range="7d"]'));
await page.fill('#profiles-search', 'bob');
result.searched = await act(() => page.click('#profiles-form button[type=submit]'));
result.searchedRows = await rows('#profiles-table');
result.detail = await act(() => page.click('#profiles-table tbody tr'));
result.hash = await page.evaluate(() => location.hash);
result.facts = await texts('#profile-facts dt, #profile-facts dd');
result.events = await rows('#profile-events');
await shoot('profile');
result.back = await act(() => page.click('#profile-detail a'));
// Rows are links for the keyboard too: Tab to one, Enter.
await page.focus('#profiles-table tbody tr');
result.rowRole = await page.getAttribute('#profiles-table tbody tr', 'role');
result.keyboard = await act(() => page.keyboard.press('Enter'));
"""


def test_profiles_page(server: RunningServer, browser: Browser, tmp_path: Path) -> None:
    seen = drive(server, browser, tmp_path, "profiles", PROFILES)
    no_console_errors(seen)
    initial = view(seen["initial"], "profiles")
    assert (initial["total"], initial["ids"]) == (2, ["u-sv2", "u-sv1"])  # last seen first
    assert [row[:3] for row in seen["list"]] == [
        ["u-sv2", "Bob Berg", "bob@shop.test"],
        ["u-sv1", f"{ALICE} Svensson", "alice@shop.test"],
    ]
    assert seen["injected"] == {"images": 0, "flag": None}
    # The list follows the range (u-old was last active 20 days ago) and the filters.
    month = view(seen["month"], "profiles")
    assert (month["range"], month["total"], month["ids"]) == ("30d", 3, ["u-sv2", "u-sv1", "u-old"])
    swedes = view(seen["swedes"], "profiles")
    assert swedes["filters"] == [{"name": "country", "operator": "is", "value": ["SE"]}]
    assert (swedes["total"], swedes["ids"]) == (2, ["u-sv2", "u-sv1"])
    assert [row[0] for row in seen["swedeRows"]] == ["u-sv2", "u-sv1"]
    legacy = view(seen["legacy"], "profiles")  # its only legacy_checkout is 400 days old
    assert (legacy["total"], legacy["ids"]) == (0, [])
    week = view(seen["week"], "profiles")
    assert (week["range"], week["filters"], week["ids"]) == ("7d", [], ["u-sv2", "u-sv1"])
    searched = view(seen["searched"], "profiles")
    assert (searched["search"], searched["total"], searched["ids"]) == ("bob", 1, ["u-sv2"])
    assert [row[0] for row in seen["searchedRows"]] == ["u-sv2"]

    detail = view(seen["detail"], "profiles")
    assert seen["hash"] == "#/profiles/u-sv2"
    assert seen["detail"]["param"] == "u-sv2"
    assert (detail["identified"], detail["email"]) == (True, "bob@shop.test")
    metrics = detail["metrics"]
    assert (metrics["sessions"], metrics["screenViews"], metrics["events"]) == (1, 3, 7)
    facts = dict(zip(seen["facts"][::2], seen["facts"][1::2], strict=True))
    assert facts["Email"] == "bob@shop.test" and facts["Screen views"] == "3"
    assert facts["properties.browser"] == "Safari"
    # Latest first: the session's end, then what Bob did, newest first.
    assert [row[1] for row in seen["events"]] == [
        "session_end",
        "purchase",
        "screen_view",
        "add_to_cart",
        "screen_view",
        "screen_view",
        "session_start",
    ]
    assert [row[2] for row in seen["events"] if row[1] == "screen_view"] == [
        "/checkout",
        "/pricing",
        "/home",
    ]
    back = view(seen["back"], "profiles")
    assert back["mode"] == "list" and seen["back"]["param"] == ""
    assert seen["rowRole"] == "link"
    assert seen["keyboard"]["param"] == "u-sv2"
    assert view(seen["keyboard"], "profiles")["mode"] == "detail"


SESSIONS = """
result.kpis = await texts('#sessions-overview .kpi strong');
result.table = await rows('#sessions-table');
result.entry = await rows('#sessions-entry');
await shoot('sessions');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
result.filteredKpis = await texts('#sessions-overview .kpi strong');
const index = result.filtered.views.sessions.sessions.findIndex((s) => s.profileId === 'u-sv2');
result.detail = await act(() => page.click(`#sessions-table tbody tr:nth-child(${index + 1})`));
result.facts = await texts('#session-facts dt, #session-facts dd');
result.events = await rows('#session-events');
await shoot('session');
// A session over a year old opens by its id (no range reaches it), and an unknown id.
result.old = await act(() => page.evaluate((id) => { location.hash = `#/sessions/${id}`; }, config.oldSession));
result.oldFacts = await texts('#session-facts dt, #session-facts dd');
result.oldEvents = await rows('#session-events');
result.ghost = await act(() => page.evaluate(() => { location.hash = '#/sessions/no-such-session'; }));
result.ghostTitle = await page.textContent('#session-name');
"""


def test_sessions_page(server: RunningServer, browser: Browser, tmp_path: Path) -> None:
    seen = drive(server, browser, tmp_path, "sessions", SESSIONS, oldSession=OLD_SESSION)
    no_console_errors(seen)
    initial = view(seen["initial"], "sessions")
    stats = initial["stats"]
    assert (stats["sessions"], stats["visitors"], stats["avgScreenViews"]) == (3, 3, 2)
    assert stats["bounceRate"] == pytest.approx(100 / 3, abs=0.01)  # u-sv1 saw one page
    # Durations: first to last event, 0.1 s apart (u-sv2: 0.4 s, u-far: 0.2 s, u-sv1: 0).
    assert stats["avgDuration"] == pytest.approx(0.2, abs=0.01)
    assert seen["kpis"][:5] == ["3", "3", "0.2s", "33%", "2"]
    assert {(r["value"], r["count"]) for r in initial["entry"]} == {("/home", 2), ("/docs", 1)}
    assert {(r["value"], r["count"]) for r in initial["exit"]} == {
        ("/home", 1),
        ("/pricing", 1),
        ("/checkout", 1),
    }
    assert seen["entry"][0][:2] == ["/home", "2"]
    assert sorted((r[1], r[3], r[4], r[5]) for r in seen["table"]) == [
        ("u-far", "2", "/docs", "/pricing"),
        ("u-sv1", "1", "/home", "/home"),
        ("u-sv2", "3", "/home", "/checkout"),
    ]

    filtered = view(seen["filtered"], "sessions")  # country is SE
    assert (filtered["total"], filtered["stats"]["bounceRate"]) == (2, 50)
    assert {s["profileId"] for s in filtered["sessions"]} == {"u-sv1", "u-sv2"}
    assert seen["filteredKpis"][:4] == ["2", "2", "0.2s", "50%"]

    detail = view(seen["detail"], "sessions")  # u-sv2's session and its events, in order
    assert detail["found"] is True and detail["session"]["profileId"] == "u-sv2"
    assert seen["detail"]["param"] == detail["sessionId"]
    assert [(e["name"], e["path"]) for e in detail["events"]] == [
        ("session_start", "/home"),
        ("screen_view", "/home"),
        ("screen_view", "/pricing"),
        ("add_to_cart", ""),
        ("screen_view", "/checkout"),
        ("purchase", ""),
        ("session_end", "/checkout"),
    ]
    assert [row[1] for row in seen["events"]][1:3] == ["screen_view", "screen_view"]
    facts = dict(zip(seen["facts"][::2], seen["facts"][1::2], strict=True))
    assert (facts["Entry page"], facts["Exit page"], facts["Duration"]) == (
        "/home",
        "/checkout",
        "0.4s",
    )

    old = view(seen["old"], "sessions")
    assert seen["old"]["param"] == OLD_SESSION
    assert old["found"] is True and old["session"]["profileId"] == "u-old"
    assert [(e["name"], e["path"]) for e in old["events"]] == [
        ("session_start", "/legacy"),
        ("screen_view", "/legacy"),
        ("legacy_checkout", "/legacy"),
        ("screen_view", "/thanks"),
        ("session_end", "/thanks"),
    ]
    assert [row[1] for row in seen["oldEvents"]] == [e["name"] for e in old["events"]]
    old_facts = dict(zip(seen["oldFacts"][::2], seen["oldFacts"][1::2], strict=True))
    started = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)).date().isoformat()
    assert old_facts["Started"].startswith(started)
    assert (old_facts["Duration"], old_facts["Browser"]) == ("1m 00s", "Firefox")
    ghost = view(seen["ghost"], "sessions")
    assert (ghost["found"], ghost["live"], ghost["events"]) == (False, False, [])
    assert seen["ghostTitle"] == "Session not found"


WEBHOOKS = """
result.endpoints = await rows('#webhooks-endpoints');
result.note = await page.isVisible('#webhooks-redeliver-note');
result.redeliverButtons = await page.locator('button', { hasText: /redeliver/i }).count();
const failing = result.initial.views.webhooks.endpoints.findIndex((e) => e.url.endsWith('/hook') && e.id !== result.initial.views.webhooks.selected.endpoint);
result.failing = await act(() => page.click(`#webhooks-endpoints tbody tr:nth-child(${failing + 1})`));
result.messages = await rows('#webhooks-messages');
result.deliveries = await act(() => page.click('#webhooks-messages tbody tr'));
result.attempts = await rows('#webhooks-deliveries');
// A root client (signed in the same tab) gets a Redeliver button on each message.
await page.click('#logout');
await page.fill('#client-id', config.rootId);
await page.fill('#client-secret', config.rootSecret);
result.root = await act(() => page.click('#login-form button[type=submit]'));
result.rootNote = await page.isVisible('#webhooks-redeliver-note');
await act(() => page.click('#webhooks-endpoints tbody tr:nth-child(1)'));
result.rootButtons = await page.locator('#webhooks-messages button', { hasText: 'Redeliver' }).count();
await shoot('webhooks');
result.redelivered = await act(() => page.click('#webhooks-messages tbody tr:nth-child(1) button'));
result.action = await page.textContent('#webhooks-action');
// The redelivery is queued: reload the message until its new attempt shows.
for (let i = 0; i < 50; i += 1) {
  result.after = await act(() => page.click('#webhooks-messages tbody tr:nth-child(1)'));
  if ((result.after.views.webhooks.deliveries || []).length >= 2) break;
  await page.waitForTimeout(100);
}
result.afterAttempts = await rows('#webhooks-deliveries');
"""


def test_webhooks_page(
    server: RunningServer,
    browser: Browser,
    tmp_path: Path,
    receivers: tuple[WebhookReceiver, WebhookReceiver],
) -> None:
    seen = drive(
        server,
        browser,
        tmp_path,
        "webhooks",
        WEBHOOKS,
        rootId=server.creds["rootClientId"],
        rootSecret=server.creds["rootClientSecret"],
    )
    no_console_errors(seen)
    good, failing = receivers
    initial = view(seen["initial"], "webhooks")
    assert [e["url"] for e in initial["endpoints"]] == [good.url, failing.url]
    assert [row[:4] for row in seen["endpoints"]] == [
        [good.url, "shop", "profile.identified", "enabled"],
        [failing.url, "failing", "profile.identified", "enabled"],
    ]
    assert seen["endpoints"][1][4] != "\u2013"  # failing since (a time, not a dash)
    # The first endpoint is shown: Alice's and Bob's identifications, delivered.
    assert [(m["state"], m["lastStatus"]) for m in initial["messages"]] == [("succeeded", 204)] * 2
    # Redelivery needs a root client: the read client gets a note, no button.
    assert seen["initial"]["client"] == {"type": "read", "projectName": "Default"}
    assert seen["initial"]["rootActions"] is False
    assert seen["note"] is True and seen["redeliverButtons"] == 0
    assert initial["redeliver"] is False

    on_failing = view(seen["failing"], "webhooks")
    assert on_failing["selected"]["endpoint"] == initial["endpoints"][1]["id"]
    assert [(m["state"], m["lastStatus"]) for m in on_failing["messages"]] == [
        ("exhausted", 500)
    ] * 2
    assert [row[1:5] for row in seen["messages"]] == [
        ["profile.identified", "exhausted", "3", "500"]
    ] * 2
    deliveries = view(seen["deliveries"], "webhooks")
    assert deliveries["deliveries"] == [
        {"attempt": n, "statusCode": 500, "succeeded": False} for n in (3, 2, 1)
    ]
    assert [(row[1], row[3], row[4]) for row in seen["attempts"]] == [
        ("3", "failed", "500"),
        ("2", "failed", "500"),
        ("1", "failed", "500"),
    ]

    # The root client: no note, a button per message; one click redelivers.
    assert seen["root"]["client"] == {"type": "root", "projectName": "Default"}
    assert view(seen["root"], "webhooks")["redeliver"] is True
    assert seen["rootNote"] is False and seen["rootButtons"] == 2
    redelivered = view(seen["redelivered"], "webhooks")
    message = redelivered["selected"]["message"]
    assert message == redelivered["messages"][0]["id"]
    assert redelivered["action"].startswith(f"Redelivery of message {message} queued")
    assert seen["action"] == redelivered["action"]
    after = view(seen["after"], "webhooks")
    assert [(d["attempt"], d["succeeded"]) for d in after["deliveries"]] == [(2, True), (1, True)]
    assert seen["afterAttempts"][0][2] == "manual"
    # The same message again (same webhook-id): the receiver got it twice, processed it once.
    assert eventually(lambda: len(good.requests) == 3)
    assert len(good.processed) == 2


LIVE = """
result.kpis = await texts('#live .kpi strong');
writeFileSync(config.marker, 'ready');
await page.waitForFunction(
  (n) => {
    const live = window.__opDashboard.views.live;
    return Boolean(live && live.visitors >= n);
  },
  result.initial.views.live.visitors + 1,
  { timeout: 20000 },
);
result.updated = await snapshot();
result.updatedKpis = await texts('#live .kpi strong');
result.pages = await rows('#live-pages');
result.mode = await page.textContent('#live-mode');
await shoot('live');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
result.filteredPages = await rows('#live-pages');
await act(() => page.click('#filter-list li button'));
await act(() => page.click('#nav a[data-page=overview]'));
// A server without the stream (404, as before it existed): the page polls instead.
await page.route('**/api/analytics/realtime/stream**', (route) =>
  route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"Not Found"}' }),
);
// The page's clock is Playwright's from here: the 5 s between polls pass at once.
await page.clock.install();
result.polling = await act(() => page.click('#nav a[data-page=live]'));
await page.clock.runFor(5000);
await page.waitForFunction(() => window.__opDashboard.views.live.updates >= 2);
result.polled = await snapshot();
result.pollingMode = await page.textContent('#live-mode');
"""


def test_live_page_updates_as_events_arrive(
    tmp_path_factory: pytest.TempPathFactory, browser: Browser, tmp_path: Path
) -> None:
    # A server of its own: the events sent during the test change every number.
    tmp = tmp_path_factory.mktemp("dashboard-live")
    running = start_server(tmp / "data", "--geoip-db", str(make_geo_db(tmp / "city.mmdb")))
    try:
        send(running, "u-sv1", [("screen_view", "/home")])
        send(running, "u-far", [("screen_view", "/docs")])
        marker = tmp_path / "ready"
        outcome: dict[str, Any] = {}

        def scenario() -> None:
            try:
                outcome["seen"] = drive(
                    running, browser, tmp_path, "live", LIVE, marker=str(marker)
                )
            except BaseException as exc:  # reported by the test thread
                outcome["error"] = exc

        thread = threading.Thread(target=scenario)
        thread.start()
        eventually(lambda: marker.exists() or not thread.is_alive(), timeout=40)
        send(running, "u-new", [("screen_view", "/live-now"), ("screen_view", "/pricing")])
        thread.join(60)
        if "error" in outcome:
            raise outcome["error"]
    finally:
        running.stop()
    seen = outcome["seen"]
    # Only the browser's own log of the simulated 404.
    assert [e["url"].split("?")[0].rsplit("/", 1)[-1] for e in seen["consoleErrors"]] == ["stream"]
    initial = view(seen["initial"], "live")
    assert (initial["visitors"], initial["sessions"]) == (2, 2)
    assert {(p["value"], p["visitors"]) for p in initial["pages"]} == {("/home", 1), ("/docs", 1)}
    assert seen["kpis"][0] == "2"

    # Pushed by the server: no reload, more updates, the new visitor and pages.
    updated = view(seen["updated"], "live")
    assert updated["mode"] == "stream" and seen["mode"] == "streaming"
    assert seen["updated"]["generation"] == seen["initial"]["generation"]
    assert updated["updates"] > initial["updates"]
    assert (updated["visitors"], updated["sessions"]) == (3, 3)
    assert updated["events"] == initial["events"] + 3  # a session start and two views
    assert sum(updated["perMinute"]) == updated["events"]
    assert sum(dataset(updated["chart"], "Events")) == updated["events"]
    assert {row[0]: row[1] for row in seen["pages"]} == {
        "/home": "1",
        "/docs": "1",
        "/live-now": "1",
        "/pricing": "1",
    }
    assert seen["updatedKpis"][0] == "3"

    filtered = view(seen["filtered"], "live")  # country is SE: u-far is gone
    assert filtered["visitors"] == 2
    assert {row[0] for row in seen["filteredPages"]} == {"/home", "/live-now", "/pricing"}
    assert {c["value"] for c in filtered["countries"]} == {"SE"}

    polling = view(seen["polling"], "live")
    assert (polling["mode"], polling["updates"], polling["visitors"]) == ("polling", 1, 3)
    polled = view(seen["polled"], "live")  # polled again 5 s later, no reload
    assert seen["polled"]["generation"] == seen["polling"]["generation"]
    assert (polled["updates"], polled["visitors"], polled["events"]) == (2, 3, updated["events"])
    assert seen["pollingMode"] == "polling every 5 s"


COHORTS = """
const controls = () => page.evaluate(() =>
  [...document.querySelectorAll('#cohort-form button, #cohort-form input, #cohort-root-note')]
    .filter((node) => node.offsetParent !== null)
    .map((node) => node.id),
);
await page.waitForSelector('#cohort-form:not([hidden])');
result.pickerBefore = await texts('#cohort-picker option');
// A read client may not save, update or delete cohorts: no such controls, a note instead.
result.readControls = await controls();
result.readWho = await page.textContent('#whoami');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
result.filtered = await act(() => page.click('#filter-form button[type=submit]'));
// Signed in again with a root client (which reads too), the same filters are saved.
await page.click('#logout');
await page.fill('#client-id', config.rootId);
await page.fill('#client-secret', config.rootSecret);
result.root = await act(() => page.click('#login-form button[type=submit]'));
await page.waitForSelector('#cohort-form:not([hidden])');
result.rootControls = await controls();
result.rootWho = await page.textContent('#whoami');
await page.fill('#filter-name', 'country');
await page.fill('#filter-value', 'SE');
await act(() => page.click('#filter-form button[type=submit]'));
await page.fill('#cohort-name', 'Swedes');
await page.click('#cohort-save');
await page.waitForFunction(() => document.getElementById('cohort-message').textContent.startsWith('Saved'));
result.saved = await page.textContent('#cohort-message');
result.pickerAfter = await texts('#cohort-picker option');
result.unfiltered = await act(() => page.click('#filter-list li button'));
await page.selectOption('#cohort-operator', 'inCohort');
result.inCohort = await act(() => page.click('#cohort-add'));
result.chips = await texts('#filter-list li span');
await shoot('cohort-filter');
await page.click('#filter-list li button');
await page.selectOption('#cohort-operator', 'notInCohort');
result.notInCohort = await act(() => page.click('#cohort-add'));
await act(() => page.click('#filter-list li button'));
// Update "Swedes" with narrower filters: Swedes on Safari.
for (const [name, value] of [['country', 'SE'], ['browser', 'Safari']]) {
  await page.fill('#filter-name', name);
  await page.fill('#filter-value', value);
  await act(() => page.click('#filter-form button[type=submit]'));
}
await page.click('#cohort-update');
await page.waitForFunction(() => document.getElementById('cohort-message').textContent.startsWith('Updated'));
result.updated = await page.textContent('#cohort-message');
// A second cohort, used as a filter, then deleted: the filter goes with it.
await page.fill('#cohort-name', 'Temporary');
await page.click('#cohort-save');
await page.waitForFunction(() => document.getElementById('cohort-message').textContent.startsWith('Saved cohort “Temporary'));
await page.selectOption('#cohort-operator', 'inCohort');
result.withTemporary = await act(() => page.click('#cohort-add'));
page.once('dialog', (dialog) => {
  result.dialog = dialog.message();
  dialog.accept();
});
result.deleted = await act(() => page.click('#cohort-delete'));
await page.waitForFunction(() => document.getElementById('cohort-message').textContent.startsWith('Deleted'));
result.deletedMessage = await page.textContent('#cohort-message');
result.pickerFinal = await texts('#cohort-picker option');
"""


def test_saved_cohorts_in_the_filter_builder(
    server: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    seen = drive(
        server,
        browser,
        tmp_path,
        "overview",
        COHORTS,
        rootId=server.creds["rootClientId"],
        rootSecret=server.creds["rootClientSecret"],
    )
    no_console_errors(seen)  # nothing was refused: a read client is offered no save
    assert seen["pickerBefore"] == ["No saved cohorts yet"]
    assert seen["readControls"] == ["cohort-add", "cohort-root-note"]
    assert seen["readWho"] == "Default · read client"
    assert seen["filtered"]["kpis"]["visitors"] == 2

    assert seen["root"]["error"] == "" and seen["root"]["filters"] == []
    assert seen["rootControls"] == [
        "cohort-add",
        "cohort-update",
        "cohort-delete",
        "cohort-name",
        "cohort-save",
    ]
    assert seen["rootWho"] == "Default · root client"
    assert seen["saved"].startswith("Saved cohort “Swedes”")
    assert seen["pickerAfter"] == ["Swedes"]
    [cohort] = seen["unfiltered"]["cohorts"]
    assert cohort["name"] == "Swedes"
    assert seen["unfiltered"]["kpis"]["visitors"] == 3

    in_cohort = seen["inCohort"]
    assert in_cohort["error"] == ""
    assert in_cohort["filters"] == [
        {"name": "cohort", "operator": "inCohort", "value": [cohort["id"]]}
    ]
    assert seen["chips"] == ["in cohort Swedes"]
    assert (in_cohort["kpis"]["visitors"], in_cohort["kpis"]["sessions"]) == (2, 2)
    assert {r["value"] for r in in_cohort["tops"]["country"]} == {"SE"}
    not_in = seen["notInCohort"]
    assert not_in["error"] == "" and not_in["kpis"]["visitors"] == 1
    assert {r["value"] for r in not_in["tops"]["path"]} == {"/docs", "/pricing"}

    # Updated in place (same id), then a second cohort deleted with the filter naming it.
    assert seen["updated"].startswith("Updated cohort “Swedes”")
    [temporary] = [c for c in seen["withTemporary"]["cohorts"] if c["name"] == "Temporary"]
    assert seen["withTemporary"]["filters"][-1]["value"] == [temporary["id"]]
    assert seen["dialog"] == "Delete the cohort “Temporary”?"
    assert seen["deletedMessage"] == "Deleted cohort “Temporary”."
    assert seen["pickerFinal"] == ["Swedes"]
    deleted = seen["deleted"]
    assert deleted["error"] == "" and [c["name"] for c in deleted["cohorts"]] == ["Swedes"]
    assert deleted["filters"] == [
        {"name": "country", "operator": "is", "value": ["SE"]},
        {"name": "browser", "operator": "is", "value": ["Safari"]},
    ]
    saved = httpx.get(f"{server.url}/api/cohorts", headers=server.read_headers()).json()
    [stored] = saved["cohorts"]
    assert stored["id"] == cohort["id"]
    assert stored["definition"]["filters"] == deleted["filters"]
    assert stored["definition"]["range"] == "7d"
