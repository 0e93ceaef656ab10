"""Latency of the analytics queries (``openpanel_server._analytics``) at 1M and 10M events.

Usage, from the repository root (needs only the workspace venv)::

    .tools/bin/uv run --no-sync python benchmarks/analytics.py            # 1M events
    .tools/bin/uv run --no-sync python benchmarks/analytics.py --large    # 1M and 10M events

The first run generates each dataset and writes it through ``Store.insert_events`` (and
``insert_sessions``/``insert_profiles``) into a chDB folder cached under
``/tmp/openpanel-analytics-bench/<size>`` (about 1 minute for 1M, several for 10M; the time is
reported), then merges it (``OPTIMIZE ... FINAL``) so reruns see the same parts. Later runs reuse
the folder. chDB hosts one data folder per process, so each size runs in a child process (this
script re-executed with ``--one``).

The data is OpenPanel-shaped, like the storage research's (deterministic, seed 42): 90 days
(2026-08-03 .. 10-31) with growing traffic and a daily curve; 3 projects (85/12/3 %); 55 % of
sessions from a new device, the others mostly from recent devices and a loyal core; 30 % of
devices identified; sessions of ``session_start``, 1..n ``screen_view`` (42 % bounce), an ordered
``view_product -> add_to_cart -> begin_checkout -> purchase`` funnel, ``click_cta``/``signup``
and ``session_end``; Zipf-like paths, referrers and countries; one ``sessions`` row per session.

Each query runs once to warm up, then 3 times; the median is reported. "Now" is pinned to
2026-11-01 00:00 UTC, so ``30d`` is October. Queries target the main project.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = Path("/tmp/openpanel-analytics-bench")
GENERATOR_VERSION = 1
UTC = timezone.utc
START = datetime(2026, 8, 3, tzinfo=UTC)
DAYS = 90
NOW = START + timedelta(days=DAYS)
PROJECTS = (("proj_main", 0.85), ("proj_b", 0.12), ("proj_c", 0.03))
MAIN = "proj_main"
TARGET_MS = 300.0
SIZES = {"1m": 1_000_000, "10m": 10_000_000}

# -- the dataset ------------------------------------------------------------------------------

COUNTRIES = [
    ("US", "New York", 30),
    ("DE", "Berlin", 7.5),
    ("GB", "London", 7),
    ("FR", "Paris", 6),
    ("IN", "Bangalore", 6),
    ("BR", "Sao Paulo", 4),
    ("CA", "Toronto", 4),
    ("JP", "Tokyo", 3.5),
    ("NL", "Amsterdam", 3),
    ("SE", "Stockholm", 2.5),
    ("ES", "Madrid", 2.5),
    ("IT", "Rome", 2.5),
    ("PL", "Warsaw", 2),
    ("AU", "Sydney", 2),
    ("KR", "Seoul", 2),
    ("MX", "Mexico City", 2),
    ("CH", "Zurich", 1.5),
    ("NO", "Oslo", 1.5),
    ("", "", 3),
]
TECH = [
    ("Windows", "Chrome", "desktop", 30),
    ("macOS", "Chrome", "desktop", 12),
    ("macOS", "Safari", "desktop", 10),
    ("Windows", "Edge", "desktop", 8),
    ("Linux", "Firefox", "desktop", 4),
    ("Windows", "Firefox", "desktop", 4),
    ("iOS", "Mobile Safari", "mobile", 16),
    ("Android", "Chrome Mobile", "mobile", 14),
    ("Android", "Samsung Internet", "mobile", 2),
]
REFERRERS = [
    ("", "", "", 40),
    ("https://www.google.com/", "Google", "search", 30),
    ("https://www.bing.com/", "Bing", "search", 4),
    ("https://duckduckgo.com/", "DuckDuckGo", "search", 3),
    ("https://t.co/", "Twitter", "social", 6),
    ("https://www.linkedin.com/", "LinkedIn", "social", 4),
    ("https://www.reddit.com/", "Reddit", "social", 4),
    ("https://news.ycombinator.com/", "Hacker News", "social", 3),
    ("https://github.com/", "GitHub", "unknown", 3),
    ("https://mail.google.com/", "Gmail", "email", 3),
]
PATHS = (
    ["/", "/pricing", "/features", "/docs", "/blog", "/signup", "/login", "/about", "/contact"]
    + [f"/blog/post-{i}" for i in range(120)]
    + [f"/docs/page-{i}" for i in range(80)]
    + [f"/product/p-{i}" for i in range(90)]
)
UTMS = ["newsletter", "google", "twitter", "partner", "launch"]


def _zipf(n: int, s: float = 1.1) -> list[float]:
    return [1 / (k + 1) ** s for k in range(n)]


def _cumulative(weights: list[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class Generator:
    """Deterministic OpenPanel-shaped events, sessions and profiles."""

    def __init__(self, events: int, seed: int = 42) -> None:
        self.rng = random.Random(seed)
        self.target = events
        self.devices: list[
            tuple[str, str, int, int, int]
        ] = []  # id, profile, country, tech, project
        self.loyal: list[int] = []
        self.day_cum = _cumulative([0.6 + 0.8 * d / DAYS for d in range(DAYS)])
        hours = [0.3, 0.2, 0.15, 0.15, 0.2, 0.3, 0.5, 0.8, 1.1, 1.3, 1.4, 1.4]
        hours += [1.3, 1.3, 1.4, 1.5, 1.5, 1.4, 1.3, 1.2, 1.1, 0.9, 0.7, 0.5]
        self.hour_cum = _cumulative(hours)
        self.path_cum = _cumulative(_zipf(len(PATHS)))
        self.country_cum = _cumulative([c[2] for c in COUNTRIES])
        self.tech_cum = _cumulative([t[3] for t in TECH])
        self.ref_cum = _cumulative([r[3] for r in REFERRERS])
        self.project_cum = _cumulative([p[1] for p in PROJECTS])
        self.session_no = 0

    def _pick(self, cum: list[float]) -> int:
        x = self.rng.random() * cum[-1]
        lo, hi = 0, len(cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _device(self) -> tuple[str, str, int, int, int]:
        rng = self.rng
        if not self.devices or rng.random() < 0.55:
            n = len(self.devices)
            device = f"dev{n:08x}{rng.getrandbits(32):08x}"
            profile = f"user-{n}" if rng.random() < 0.3 else device
            entry = (
                device,
                profile,
                self._pick(self.country_cum),
                self._pick(self.tech_cum),
                self._pick(self.project_cum),
            )
            self.devices.append(entry)
            if rng.random() < 0.02:
                self.loyal.append(n)
            return entry
        if self.loyal and rng.random() < 0.15:
            return self.devices[rng.choice(self.loyal)]
        n = len(self.devices)
        back = min(n, 1 + int(rng.expovariate(1 / 3000)))
        return self.devices[n - back]

    def sessions(self) -> Any:
        """Yield (events, session row, profile row or None) per session until the target."""
        from openpanel_server._store import EventRow, ProfileRow, SessionRow

        rng = self.rng
        produced = 0
        seen_profiles: set[str] = set()
        while produced < self.target:
            # Time: a day weighted by growth (sessions are generated in time order per chunk).
            day = self._pick(self.day_cum)
            hour = self._pick(self.hour_cum)
            t = START + timedelta(days=day, hours=hour, seconds=rng.random() * 3600)
            device, profile, ci, ti, pi = self._device()
            country, city, _ = COUNTRIES[ci]
            os_name, browser, kind, _ = TECH[ti]
            ref_url, ref_name, ref_type, _ = REFERRERS[self._pick(self.ref_cum)]
            project = PROJECTS[pi][0]
            self.session_no += 1
            sid = f"s{self.session_no:09d}"
            common = {
                "project_id": project,
                "device_id": device,
                "profile_id": profile,
                "session_id": sid,
                "origin": "https://www.example.com",
                "referrer": ref_url,
                "referrer_name": ref_name,
                "referrer_type": ref_type,
                "country": country,
                "city": city,
                "region": city,
                "os": os_name,
                "browser": browser,
                "device": kind,
                "sdk_name": "web",
                "sdk_version": "1.0.0",
            }
            utm = {"__query.utm_source": rng.choice(UTMS)} if rng.random() < 0.1 else {}
            views = 1 if rng.random() < 0.42 else 2 + int(rng.expovariate(1 / 2.5))
            events: list[EventRow] = []

            def add(
                name: str,
                when: datetime,
                path: str,
                events: list[EventRow] = events,
                sid: str = sid,
                common: dict[str, str] = common,
                **kw: Any,
            ) -> None:
                n = len(events) + 1
                events.append(
                    EventRow(id=f"{sid}-{n}", name=name, created_at=when, path=path, **common, **kw)
                )

            first_path = PATHS[self._pick(self.path_cum)]
            add("session_start", t - timedelta(milliseconds=100), first_path, properties=utm)
            path = first_path
            paths: list[str] = []
            for v in range(views):
                if v:
                    t += timedelta(seconds=5 + rng.expovariate(1 / 40))
                    path = PATHS[self._pick(self.path_cum)]
                paths.append(path)
                add(
                    "screen_view", t, path, properties={"__title": path.strip("/") or "home", **utm}
                )
            revenue = 0
            if views > 1 and rng.random() < 0.4:
                product = f"p-{int(rng.expovariate(1 / 15)) % 90}"
                price = rng.choice([9, 19, 29, 49, 99])
                steps = ["view_product"]
                for nxt, p in (("add_to_cart", 0.4), ("begin_checkout", 0.6), ("purchase", 0.5)):
                    if rng.random() >= p:
                        break
                    steps.append(nxt)
                for name in steps:
                    t += timedelta(seconds=3 + rng.expovariate(1 / 30))
                    props = {"product_id": product, "price": str(price)}
                    if name == "purchase":
                        revenue = price * 100
                        add(name, t, f"/product/{product}", properties=props, revenue=revenue)
                    else:
                        add(name, t, f"/product/{product}", properties=props)
            if rng.random() < 0.2:
                t += timedelta(seconds=2 + rng.expovariate(1 / 20))
                add("click_cta", t, path, properties={"cta": rng.choice(["hero", "footer", "nav"])})
            if rng.random() < 0.03:
                t += timedelta(seconds=10)
                add("signup", t, "/signup", properties={"plan": rng.choice(["free", "pro"])})
            start = events[0].created_at
            duration = int((t - start).total_seconds() * 1000)
            bounce = views <= 1
            add(
                "session_end",
                t + timedelta(seconds=1),
                path,
                duration=duration,
                properties={"__bounce": "true" if bounce else "false"},
            )
            produced += len(events)
            session = SessionRow(
                id=sid,
                project_id=project,
                created_at=start,
                ended_at=t,
                version=1,
                profile_id=profile,
                device_id=device,
                is_bounce=bounce,
                entry_origin="https://www.example.com",
                entry_path=paths[0],
                exit_origin="https://www.example.com",
                exit_path=paths[-1],
                screen_view_count=views,
                revenue=float(revenue),
                event_count=len(events),
                duration=duration,
                country=country,
                city=city,
                region=city,
                device=kind,
                browser=browser,
                os=os_name,
                referrer=ref_url,
                referrer_name=ref_name,
                referrer_type=ref_type,
                utm_source=utm.get("__query.utm_source", ""),
            )
            person = None
            if profile != device and profile not in seen_profiles:
                seen_profiles.add(profile)
                person = ProfileRow(
                    id=profile,
                    project_id=project,
                    created_at=start,
                    last_seen_at=t,
                    email=f"{profile}@example.com",
                    first_name=profile.title(),
                )
            yield events, session, person


def _generate(store: Any, events: int) -> dict[str, Any]:
    started = time.perf_counter()
    gen = Generator(events)
    batch: list[Any] = []
    sessions: list[Any] = []
    profiles: list[Any] = []
    counts: dict[str, Any] = {"events": 0, "sessions": 0, "profiles": 0}
    for evs, session, person in gen.sessions():
        batch.extend(evs)
        sessions.append(session)
        if person is not None:
            profiles.append(person)
        if len(batch) >= 100_000:
            store.insert_events(batch)
            store.insert_sessions(sessions)
            store.insert_profiles(profiles)
            counts["events"] += len(batch)
            counts["sessions"] += len(sessions)
            counts["profiles"] += len(profiles)
            batch, sessions, profiles = [], [], []
            print(f"  {counts['events']:>11,} events", file=sys.stderr, flush=True)
    store.insert_events(batch)
    store.insert_sessions(sessions)
    store.insert_profiles(profiles)
    counts["events"] += len(batch)
    counts["sessions"] += len(sessions)
    counts["profiles"] += len(profiles)
    loaded = time.perf_counter() - started
    merge_started = time.perf_counter()
    for table in ("events", "sessions", "profiles"):
        store.client.command(f"OPTIMIZE TABLE {table} FINAL")
    counts["devices"] = len(gen.devices)
    counts["load_s"] = round(loaded, 1)
    counts["merge_s"] = round(time.perf_counter() - merge_started, 1)
    counts["version"] = GENERATOR_VERSION
    return counts


# -- measuring --------------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm up
    times: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def _queries(analytics: Any, ctx: Any) -> list[tuple[str, Callable[[], Any], Callable[[Any], str]]]:
    from openpanel_server._analytics import (
        EventNamesRequest,
        FunnelRequest,
        OverviewRequest,
        PathsRequest,
        ProfileListRequest,
        RealtimeRequest,
        RetentionRequest,
        SankeyRequest,
        SessionListRequest,
        SessionRequest,
        TimeSeriesRequest,
        TopRequest,
    )

    m30 = {"range": "30d"}
    full = {"range": "custom", "startDate": "2026-08-03", "endDate": "2026-10-31"}
    overview_req = OverviewRequest.model_validate(m30)
    tops = {
        dim: TopRequest.model_validate({**m30, "dimension": dim})
        for dim in ("path", "referrer_name", "country", "browser")
    }
    visitors = TimeSeriesRequest.model_validate(
        {**m30, "series": [{"name": "screen_view", "segment": "user"}], "previous": True}
    )
    breakdown = TimeSeriesRequest.model_validate(
        {
            **m30,
            "series": [{"name": "screen_view"}],
            "breakdowns": [{"name": "country"}],
            "limit": 10,
        }
    )
    filtered = TimeSeriesRequest.model_validate(
        {
            **m30,
            "series": [{"name": "screen_view", "segment": "user"}],
            "filters": [
                {"name": "country", "operator": "is", "value": ["DE"]},
                {"name": "path", "operator": "startsWith", "value": ["/blog"]},
            ],
        }
    )
    funnel_req = FunnelRequest.model_validate(
        {
            **m30,
            "steps": [
                {"name": n} for n in ("view_product", "add_to_cart", "begin_checkout", "purchase")
            ],
            "windowHours": 24,
        }
    )
    funnel_bd = funnel_req.model_copy(update={"breakdowns": list(breakdown.breakdowns)})
    retention_req = RetentionRequest.model_validate({**full, "period": "week"})
    retention_day = RetentionRequest.model_validate({**m30, "period": "day"})
    paths_req = PathsRequest.model_validate(m30)
    sankey_req = SankeyRequest.model_validate(m30)
    sessions_req = SessionListRequest.model_validate(m30)
    a = analytics
    # A session from the middle of the range, for the session detail.
    middle = SessionListRequest.model_validate(
        {"range": "custom", "startDate": "2026-10-15", "endDate": "2026-10-15"}
    )
    session_req = SessionRequest(session_id=a.sessions(middle, ctx).sessions[0].id)
    names_req = EventNamesRequest.model_validate(m30)
    profiles_30d = ProfileListRequest.model_validate(m30)
    profiles_de = ProfileListRequest.model_validate(
        {**m30, "filters": [{"name": "country", "operator": "is", "value": ["DE"]}]}
    )
    return [
        (
            "overview metrics (+ previous)",
            lambda: a.overview(overview_req, ctx),
            lambda r: f"{r.metrics.visitors:,} visitors, {r.metrics.sessions:,} sessions",
        ),
        ("top pages", lambda: a.top(tops["path"], ctx), lambda r: f"{len(r.rows)} rows"),
        (
            "top referrers",
            lambda: a.top(tops["referrer_name"], ctx),
            lambda r: f"{len(r.rows)} rows",
        ),
        ("top countries", lambda: a.top(tops["country"], ctx), lambda r: f"{len(r.rows)} rows"),
        ("top browsers", lambda: a.top(tops["browser"], ctx), lambda r: f"{len(r.rows)} rows"),
        (
            "daily visitors (+ previous)",
            lambda: a.time_series(visitors, ctx),
            lambda r: f"{r.series[0].metrics.sum:,.0f} visitor-days",
        ),
        (
            "daily views by country (top 10)",
            lambda: a.time_series(breakdown, ctx),
            lambda r: f"{len(r.series)} series",
        ),
        (
            "daily visitors, DE + /blog*",
            lambda: a.time_series(filtered, ctx),
            lambda r: f"{r.series[0].metrics.sum:,.0f} visitor-days",
        ),
        (
            "funnel, 4 steps, 24 h",
            lambda: a.funnel(funnel_req, ctx),
            lambda r: f"{r.steps[0].count:,} -> {r.steps[-1].count:,}",
        ),
        (
            "funnel by country",
            lambda: a.funnel(funnel_bd, ctx),
            lambda r: f"{len(r.breakdowns)} groups",
        ),
        (
            "retention, weekly, 90 days",
            lambda: a.retention(retention_req, ctx),
            lambda r: f"{len(r.cohorts)} cohorts",
        ),
        (
            "retention, daily, 30 days",
            lambda: a.retention(retention_day, ctx),
            lambda r: f"{len(r.cohorts)} cohorts",
        ),
        (
            "paths from entry (5 steps)",
            lambda: a.paths(paths_req, ctx),
            lambda r: f"{len(r.sequences)} sequences",
        ),
        ("sankey (5 steps)", lambda: a.sankey(sankey_req, ctx), lambda r: f"{len(r.links)} links"),
        (
            "session list (page 1)",
            lambda: a.sessions(sessions_req, ctx),
            lambda r: f"{r.total:,} sessions",
        ),
        (
            "session stats",
            lambda: a.session_stats(sessions_req, ctx),
            lambda r: f"bounce {r.bounce_rate} %",
        ),
        (
            "profiles list (page 1)",
            lambda: a.profiles(ProfileListRequest(), ctx),
            lambda r: f"{r.total:,} profiles",
        ),
        (
            "profiles active in 30 days",
            lambda: a.profiles(profiles_30d, ctx),
            lambda r: f"{r.total:,} profiles",
        ),
        (
            "profiles active in 30 days, DE",
            lambda: a.profiles(profiles_de, ctx),
            lambda r: f"{r.total:,} profiles",
        ),
        (
            "one session and its events",
            lambda: a.session(session_req, ctx),
            lambda r: f"{len(r.events)} events",
        ),
        (
            "event names (30 days)",
            lambda: a.event_names(names_req, ctx),
            lambda r: f"{len(r.names)} names",
        ),
        (
            "realtime (30 min)",
            lambda: a.realtime(RealtimeRequest(minutes=30), ctx),
            lambda r: f"{r.events:,} events",
        ),
    ]


def _export(analytics: Any, ctx: Any, fmt: str, days: int) -> dict[str, Any]:
    from openpanel_server._analytics import ExportRequest

    end = NOW - timedelta(days=1)
    request = ExportRequest.model_validate(
        {
            "range": "custom",
            "startDate": (end - timedelta(days=days - 1)).date().isoformat(),
            "endDate": end.date().isoformat(),
            "format": fmt,
            "includes": ["properties"],
        }
    )
    before = _rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    first = None
    size = lines = 0
    for chunk in analytics.export(request, ctx):
        if first is None:
            first = time.perf_counter() - t0
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    rows = lines - (1 if fmt == "csv" else 0)
    return {
        "format": fmt,
        "rows": rows,
        "mb": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "ttfb_ms": round((first or 0) * 1000, 1),
        "rows_per_s": round(rows / elapsed),
        "mb_per_s": round(size / 1e6 / elapsed, 1),
        "rss_growth_mb": round(peak[0] - before, 1),
    }


def run_one(size: str, repeat: int) -> dict[str, Any]:
    from openpanel_server._analytics import Analytics, QueryContext
    from openpanel_server._store import open_store

    folder = CACHE / size
    marker = folder / "complete.json"
    meta: dict[str, Any] | None = None
    if marker.exists():
        meta = json.loads(marker.read_text())
        assert meta is not None
        if meta.get("version") != GENERATOR_VERSION:
            meta = None
    if meta is None and folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(None, folder)
    try:
        if meta is None:
            print(f"generating {size} ...", file=sys.stderr, flush=True)
            meta = _generate(store, SIZES[size])
            marker.write_text(json.dumps(meta))
            meta["generated_now"] = True
        analytics = Analytics(store)
        ctx = QueryContext(project_id=MAIN, timezone="UTC", now=NOW)
        rows = store.client.query(
            "SELECT count(), countIf(project_id = {p:String}) FROM events", parameters={"p": MAIN}
        ).result_rows[0]
        meta["events_total"], meta["events_main"] = int(rows[0]), int(rows[1])
        parts = store.client.query(
            "SELECT table, count() FROM system.parts WHERE active AND database = currentDatabase()"
            " GROUP BY table"
        ).result_rows
        meta["parts"] = {str(t): int(n) for t, n in parts}
        results: list[dict[str, Any]] = []
        for name, fn, describe in _queries(analytics, ctx):
            ms, result = _median_ms(fn, repeat)
            results.append({"query": name, "ms": round(ms, 1), "result": describe(result)})
            print(f"  {name:<34} {ms:8.1f} ms  {describe(result)}", file=sys.stderr, flush=True)
        exports = [
            _export(analytics, ctx, fmt, 30 if size == "10m" else 90) for fmt in ("ndjson", "csv")
        ]
        for e in exports:
            print(f"  export {e}", file=sys.stderr, flush=True)
        meta["rss_mb_after"] = round(_rss_mb(), 1)
        return {"size": size, "meta": meta, "queries": results, "exports": exports}
    finally:
        store.close()


def _table(runs: list[dict[str, Any]]) -> str:
    sizes = [r["size"] for r in runs]
    head = (
        "| query | "
        + " | ".join(f"{s.upper()} events" for s in sizes)
        + " | result at the largest |"
    )
    lines = [head, "|---|" + "---:|" * len(sizes) + "---|"]
    for i, q in enumerate(runs[0]["queries"]):
        cells = [
            f"{r['queries'][i]['ms']:.0f} ms" + ("" if r["queries"][i]["ms"] < TARGET_MS else " ⚠")
            for r in runs
        ]
        lines.append(
            f"| {q['query']} | " + " | ".join(cells) + f" | {runs[-1]['queries'][i]['result']} |"
        )
    lines.append("")
    lines.append("| export | rows | MB | time | first byte | rows/s | MB/s | RSS growth |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    lines.extend(
        f"| {r['size'].upper()} {e['format']} | {e['rows']:,} | {e['mb']} | {e['seconds']} s |"
        f" {e['ttfb_ms']} ms | {e['rows_per_s']:,} | {e['mb_per_s']} | {e['rss_growth_mb']} MB |"
        for r in runs
        for e in r["exports"]
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--large", action="store_true", help="also run the 10M dataset")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query (median)")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--one", choices=sorted(SIZES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.repeat)))
        return
    runs: list[dict[str, Any]] = []
    for size in ["1m", "10m"] if args.large else ["1m"]:
        print(f"== {size} ==", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--one", size, "--repeat", str(args.repeat)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    info = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": runs,
    }
    if args.json:
        args.json.write_text(json.dumps(info, indent=2))
    for r in runs:
        m = r["meta"]
        print(
            f"{r['size']}: {m['events_total']:,} events ({m['events_main']:,} in {MAIN}),"
            f" generated in {m.get('load_s')} s + merged in {m.get('merge_s')} s, parts {m['parts']},"
            f" RSS after {m['rss_mb_after']} MB"
        )
    print()
    print(_table(runs))


if __name__ == "__main__":
    main()
