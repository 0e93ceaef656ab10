"""A small fixed dataset for the analytics tests, and a battery of queries over it.

Times are UTC. "Now" is Thursday 2026-03-05 12:00 UTC. Project ``proj``:

==== ====== ======== ================================== ===================================
sess device profile  start (UTC)                        screen views (path @ time)
==== ====== ======== ================================== ===================================
s0   d1     d1       Fri 02-20 12:00                    /home (anonymous, before identify)
s6   d2     d2       Sun 03-01 20:00 (Mon 05:00 Tokyo)  /blog (bounce)
s1   d1     u1       Mon 03-02 10:00  DE Google         /home 10:00, /pricing 10:01,
                                                        /checkout 10:03; signup 10:02 (pro,
                                                        price 10), purchase 10:04 (1000, 10)
s2   d2     d2       Mon 03-02 23:30  US direct         /home (bounce)
s3   d3     u2       Tue 03-03 14:00  FR Twitter        /home 14:00, /pricing 14:00:30,
                                                        /pricing 14:00:40, /docs 14:02;
                                                        signup 14:03 (free, price 0)
s5   d4     d4       Wed 03-04 02:00  JP Google         /home 02:00, /docs 02:00:20
s4   d1     u1       Wed 03-04 09:00  DE Google         /pricing 09:00, /checkout 09:05;
                                                        purchase 09:06 (2500, price 25)
--   --     u2       Wed 03-04 12:00  server event      invoice_paid (revenue 500, amount 5.5,
                                                        groups [acme])
==== ====== ======== ================================== ===================================

Each browser session also has ``session_start`` (100 ms before its first view, entry path) and
``session_end`` (1 s after its last event, exit path, ``duration`` ms, ``__bounce``). Project
``other`` has one event of profile ``u1`` that must never show up.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from openpanel_server._analytics import (
    AnalyticsClient,
    CohortActivityRequest,
    CohortDefinition,
    ExportRequest,
    Filter,
    FunnelRequest,
    OverviewRequest,
    PathsRequest,
    ProfileListRequest,
    QueryContext,
    RealtimeRequest,
    RetentionRequest,
    SankeyRequest,
    SessionListRequest,
    TimeSeriesRequest,
    TopRequest,
    cohort_activity,
    cohort_members,
    funnel,
    list_profiles,
    list_sessions,
    open_export,
    overview,
    paths,
    profile_detail,
    realtime,
    retention,
    sankey,
    session_stats,
    time_series,
    top_values,
)
from openpanel_server._store import EventRow, ProfileRow, SessionRow, Store

UTC = timezone.utc
PROJECT = "proj"
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def at(text: str) -> datetime:
    """``"03-02 10:00:30"`` -> that UTC time in 2026."""
    day, clock = text.split(" ")
    parts = [int(p) for p in clock.split(":")] + [0]
    return datetime(2026, int(day[:2]), int(day[3:]), parts[0], parts[1], parts[2], tzinfo=UTC)


DEVICE_INFO: dict[str, dict[str, Any]] = {
    "d1": {"os": "Windows", "browser": "Chrome", "device": "desktop"},
    "d2": {"os": "macOS", "browser": "Safari", "device": "desktop"},
    "d3": {"os": "Linux", "browser": "Firefox", "device": "desktop"},
    "d4": {"os": "Android", "browser": "Chrome", "device": "mobile"},
}
GEO: dict[str, dict[str, Any]] = {
    "DE": {"country": "DE", "city": "Berlin", "region": "Berlin"},
    "US": {"country": "US", "city": "New York", "region": "New York"},
    "FR": {"country": "FR", "city": "Paris", "region": "Ile-de-France"},
    "JP": {"country": "JP", "city": "Tokyo", "region": "Tokyo"},
    "": {},
}
REFERRERS: dict[str, dict[str, str]] = {
    "google": {
        "referrer": "https://www.google.com/",
        "referrer_name": "Google",
        "referrer_type": "search",
    },
    "twitter": {"referrer": "https://t.co/", "referrer_name": "Twitter", "referrer_type": "social"},
    "": {},
}


class _Session:
    def __init__(
        self, sid: str, device: str, profile: str, country: str, referrer: str, **extra: Any
    ) -> None:
        self.sid, self.device, self.profile = sid, device, profile
        self.common: dict[str, Any] = {
            **DEVICE_INFO[device],
            **GEO[country],
            **REFERRERS[referrer],
            **extra,
        }
        self.events: list[EventRow] = []
        self.views: list[str] = []

    def add(self, name: str, when: datetime, path: str, **kw: Any) -> None:
        n = len(self.events)
        fields: dict[str, Any] = {
            "id": f"{self.sid}-{n:02d}",
            "project_id": PROJECT,
            "name": name,
            "created_at": when,
            "device_id": self.device,
            "profile_id": self.profile,
            "session_id": self.sid,
            "path": path,
            "origin": "https://shop.example",
            **self.common,
        }
        fields.update(kw)
        self.events.append(EventRow(**fields))
        if name == "screen_view":
            self.views.append(path)

    def build(
        self, pages: list[tuple[str, str]], customs: list[tuple[str, str, str, dict[str, Any]]]
    ):
        """pages: (path, time); customs: (name, time, path, kwargs)."""
        first = at(pages[0][1])
        start_props = dict(self.common.pop("start_properties", {}))
        self.add("session_start", first - 100 * MS, pages[0][0], properties=start_props)
        timeline: list[tuple[datetime, str, str, dict[str, Any]]] = [
            (at(t), "screen_view", p, {"properties": start_props} if i == 0 else {})
            for i, (p, t) in enumerate(pages)
        ]
        timeline += [(at(t), name, p, kw) for name, t, p, kw in customs]
        timeline.sort(key=lambda x: x[0])
        for when, name, path, kw in timeline:
            self.add(name, when, path, **kw)
        last = timeline[-1][0]
        duration = int((last - first).total_seconds() * 1000)
        bounce = len(self.views) <= 1
        self.add(
            "session_end",
            last + timedelta(seconds=1),
            pages[-1][0] if not customs else timeline[-1][2],
            duration=duration,
            properties={"__bounce": "true" if bounce else "false"},
        )
        return self.session_row(first - 100 * MS, last, duration, bounce)

    def session_row(
        self, start: datetime, end: datetime, duration: int, bounce: bool
    ) -> SessionRow:
        c = self.common
        return SessionRow(
            id=self.sid,
            project_id=PROJECT,
            created_at=start,
            ended_at=end,
            version=2 if self.sid == "s1" else 1,
            profile_id=self.profile,
            device_id=self.device,
            is_bounce=bounce,
            entry_origin="https://shop.example",
            entry_path=self.views[0],
            exit_origin="https://shop.example",
            exit_path=self.views[-1],
            screen_view_count=len(self.views),
            revenue=float(sum(e.revenue for e in self.events)),
            event_count=len(self.events),
            duration=duration,
            country=c.get("country", ""),
            city=c.get("city", ""),
            region=c.get("region", ""),
            browser=c["browser"],
            os=c["os"],
            device=c["device"],
            referrer=c.get("referrer", ""),
            referrer_name=c.get("referrer_name", ""),
            referrer_type=c.get("referrer_type", ""),
            utm_source="newsletter" if self.sid == "s3" else "",
            longitude=c.get("longitude"),
            latitude=c.get("latitude"),
        )


def dataset() -> tuple[list[EventRow], list[SessionRow], list[ProfileRow]]:
    """The fixed dataset (see the module docstring)."""
    events: list[EventRow] = []
    sessions: list[SessionRow] = []

    s0 = _Session("s0", "d1", "d1", "DE", "")
    sessions.append(s0.build([("/home", "02-20 12:00")], []))
    s6 = _Session("s6", "d2", "d2", "US", "")
    sessions.append(s6.build([("/blog", "03-01 20:00")], []))
    s1 = _Session("s1", "d1", "u1", "DE", "google", longitude=13.4, latitude=52.5)
    row1 = s1.build(
        [("/home", "03-02 10:00"), ("/pricing", "03-02 10:01"), ("/checkout", "03-02 10:03")],
        [
            ("signup", "03-02 10:02", "/pricing", {"properties": {"plan": "pro", "price": "10"}}),
            (
                "purchase",
                "03-02 10:04",
                "/checkout",
                {"revenue": 1000, "properties": {"price": "10", "product.id": "p-1"}},
            ),
        ],
    )
    # The session was first written while live (one view), then replaced (-1 old, +1 new).
    early = SessionRow(
        id="s1",
        project_id=PROJECT,
        created_at=row1.created_at,
        ended_at=row1.created_at,
        version=1,
        profile_id="u1",
        device_id="d1",
        is_bounce=True,
        entry_path="/home",
        exit_path="/home",
        screen_view_count=1,
        event_count=2,
        country="DE",
        browser="Chrome",
        os="Windows",
        device="desktop",
        referrer_name="Google",
    )
    sessions += [early, dataclasses.replace(early, sign=-1), row1]
    s2 = _Session("s2", "d2", "d2", "US", "")
    sessions.append(s2.build([("/home", "03-02 23:30")], []))
    s3 = _Session(
        "s3",
        "d3",
        "u2",
        "FR",
        "twitter",
        start_properties={"__query.utm_source": "newsletter"},
    )
    sessions.append(
        s3.build(
            [
                ("/home", "03-03 14:00"),
                ("/pricing", "03-03 14:00:30"),
                ("/pricing", "03-03 14:00:40"),
                ("/docs", "03-03 14:02"),
            ],
            [("signup", "03-03 14:03", "/docs", {"properties": {"plan": "free", "price": "0"}})],
        )
    )
    s5 = _Session("s5", "d4", "d4", "JP", "google")
    sessions.append(s5.build([("/home", "03-04 02:00"), ("/docs", "03-04 02:00:20")], []))
    s4 = _Session("s4", "d1", "u1", "DE", "google")
    sessions.append(
        s4.build(
            [("/pricing", "03-04 09:00"), ("/checkout", "03-04 09:05")],
            [
                (
                    "purchase",
                    "03-04 09:06",
                    "/checkout",
                    {"revenue": 2500, "properties": {"price": "25", "product.id": "p-2"}},
                )
            ],
        )
    )
    for s in (s0, s6, s1, s2, s3, s5, s4):
        events += s.events
    events.append(
        EventRow(
            id="srv-01",
            project_id=PROJECT,
            name="invoice_paid",
            created_at=at("03-04 12:00"),
            profile_id="u2",
            revenue=500,
            properties={"amount": "5.5"},
            groups=["acme"],
        )
    )
    events.append(
        EventRow(
            id="oth-01",
            project_id="other",
            name="screen_view",
            created_at=at("03-03 12:00"),
            device_id="d1",
            profile_id="u1",
            session_id="x1",
            path="/home",
            country="DE",
        )
    )
    profiles = [
        ProfileRow(
            id="u1",
            project_id=PROJECT,
            created_at=at("03-02 10:00"),
            last_seen_at=at("03-04 09:06"),
            is_external=True,
            first_name="Ann",
            last_name="Archer",
            email="ann@example.com",
            properties={"plan": "pro"},
        ),
        ProfileRow(
            id="u2",
            project_id=PROJECT,
            created_at=at("03-03 14:00"),
            last_seen_at=at("03-03 14:03"),
            first_name="Bob",
            email="old@example.com",
        ),
        ProfileRow(
            id="u2",
            project_id=PROJECT,
            created_at=at("03-03 14:00"),
            last_seen_at=at("03-04 12:00"),
            first_name="Bob",
            last_name="Baker",
            email="bob@example.com",
            properties={"plan": "free"},
        ),
        ProfileRow(
            id="u1",
            project_id="other",
            created_at=at("03-03 12:00"),
            last_seen_at=at("03-05 11:00"),
            first_name="Other",
        ),
    ]
    return events, sessions, profiles


def load_dataset(store: Store) -> None:
    """Insert the dataset (events in two batches, so reads span several parts)."""
    events, sessions, profiles = dataset()
    store.insert_events(events[:20])
    store.insert_events(events[20:])
    store.insert_sessions(sessions[:3])
    store.insert_sessions(sessions[3:])
    store.insert_profiles(profiles)


COHORTS = {
    "buyers": CohortDefinition(id="buyers", events=["purchase"]),
    "pro": CohortDefinition(
        id="pro",
        events=["signup"],
        filters=[Filter(name="properties.plan", operator="is", value=["pro"])],
    ),
    "pro_buyers": CohortDefinition(
        id="pro_buyers",
        events=["purchase"],
        filters=[Filter(name="cohort", operator="inCohort", value=["pro"])],
    ),
    "viewers3": CohortDefinition(id="viewers3", events=["screen_view"], min_events=3),
    "loop_a": CohortDefinition(
        id="loop_a", filters=[Filter(name="cohort", operator="inCohort", value=["loop_b"])]
    ),
    "loop_b": CohortDefinition(
        id="loop_b", filters=[Filter(name="cohort", operator="inCohort", value=["loop_a"])]
    ),
}


def context(timezone_name: str = "UTC") -> QueryContext:
    """The project context with the pinned clock and the saved cohorts."""
    return QueryContext(project_id=PROJECT, timezone=timezone_name, now=NOW, cohorts=COHORTS)


RANGE = {"range": "custom", "startDate": "2026-03-02", "endDate": "2026-03-04"}
"""Mon..Wed in the project timezone."""


def battery(client: AnalyticsClient) -> dict[str, Any]:
    """Run one of every query; return their results as plain JSON-able data."""
    out: dict[str, Any] = {}
    for tz in ("UTC", "Asia/Tokyo", "America/New_York"):
        ctx = context(tz)
        out[f"series_{tz}"] = time_series(
            client,
            TimeSeriesRequest.model_validate(
                {
                    **RANGE,
                    "series": [{"name": "*"}, {"name": "*", "segment": "user"}],
                    "previous": True,
                }
            ),
            ctx,
        ).model_dump(by_alias=True)
        out[f"retention_{tz}"] = retention(
            client, RetentionRequest.model_validate({**RANGE, "period": "day"}), ctx
        ).model_dump(by_alias=True)
    ctx = context()
    out["breakdown"] = time_series(
        client,
        TimeSeriesRequest.model_validate(
            {**RANGE, "series": [{"name": "*"}], "breakdowns": [{"name": "country"}], "limit": 2}
        ),
        ctx,
    ).model_dump(by_alias=True)
    out["funnel"] = funnel(
        client,
        FunnelRequest.model_validate(
            {
                **RANGE,
                "steps": [
                    {
                        "name": "screen_view",
                        "filters": [{"name": "path", "operator": "is", "value": ["/pricing"]}],
                    },
                    {"name": "signup"},
                    {"name": "purchase"},
                ],
                "breakdowns": [{"name": "country"}],
            }
        ),
        ctx,
    ).model_dump(by_alias=True)
    out["paths"] = paths(client, PathsRequest.model_validate(RANGE), ctx).model_dump(by_alias=True)
    out["sankey"] = sankey(client, SankeyRequest.model_validate(RANGE), ctx).model_dump(
        by_alias=True
    )
    out["overview"] = overview(client, OverviewRequest.model_validate(RANGE), ctx).model_dump(
        by_alias=True
    )
    for dim in ("path", "referrer_name", "country", "browser", "entry_path"):
        out[f"top_{dim}"] = top_values(
            client, TopRequest.model_validate({**RANGE, "dimension": dim}), ctx
        ).model_dump(by_alias=True)
    sessions_request = SessionListRequest.model_validate(
        {**RANGE, "filters": [{"name": "path", "operator": "is", "value": ["/docs"]}]}
    )
    out["sessions"] = list_sessions(client, sessions_request, ctx).model_dump(by_alias=True)
    out["session_stats"] = session_stats(
        client, SessionListRequest.model_validate(RANGE), ctx
    ).model_dump(by_alias=True)
    out["profiles"] = list_profiles(client, ProfileListRequest(), ctx).model_dump(by_alias=True)
    out["profile_u1"] = profile_detail(client, ctx, "u1").model_dump(by_alias=True)
    out["realtime"] = realtime(
        client, RealtimeRequest(minutes=30), context_at(at("03-04 09:10"))
    ).model_dump(by_alias=True)
    out["cohort_buyers"] = cohort_members(client, COHORTS["buyers"], ctx).model_dump(by_alias=True)
    out["cohort_pro_buyers"] = cohort_members(client, COHORTS["pro_buyers"], ctx).model_dump(
        by_alias=True
    )
    out["cohort_activity"] = cohort_activity(
        client, CohortActivityRequest.model_validate({**RANGE, "cohortId": "buyers"}), ctx
    ).model_dump(by_alias=True)
    stream = open_export(
        client,
        ExportRequest.model_validate({**RANGE, "includes": ["properties"], "format": "ndjson"}),
        ctx,
    )
    out["export"] = [json.loads(line) for line in b"".join(stream).splitlines()]
    return out


def context_at(now: datetime, timezone_name: str = "UTC") -> QueryContext:
    """The project context at another "now"."""
    return QueryContext(project_id=PROJECT, timezone=timezone_name, now=now, cohorts=COHORTS)


def chunks(stream: Iterator[bytes]) -> bytes:
    """Join an export's chunks."""
    return b"".join(stream)


def helpers_dir() -> Path:
    """This directory (for subprocesses that import this module)."""
    return Path(__file__).parent
