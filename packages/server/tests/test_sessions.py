from __future__ import annotations

from openpanel_server._sessions import SessionTracker

MIN = 60_000


def make() -> SessionTracker:
    return SessionTracker(30 * MIN, lambda p, d, ms: f"{p}:{d}:{ms}")


def touch(
    t: SessionTracker, device: str, ms: int, wall: float, **kw: object
) -> tuple[str, bool, str | None]:
    live, started, ended = t.touch(
        "p",
        device,
        ms,
        wall,
        profile_id=str(kw.get("profile", device)),
        path=str(kw.get("path", "/")),
        origin="https://shop.test",
        screen_view=bool(kw.get("screen_view", True)),
        revenue=int(kw.get("revenue", 0)),  # type: ignore[arg-type]
        referrer=("", "", ""),
    )
    return live.id, started, ended.id if ended else None


def test_activity_within_the_timeout_keeps_the_session() -> None:
    t = make()
    first, started, _ = touch(t, "d1", 0, 0)
    assert started
    second, started, ended = touch(t, "d1", 29 * MIN, 29 * 60)
    assert (second, started, ended) == (first, False, None)
    third, started, ended = touch(t, "d1", 60 * MIN, 60 * 60)
    assert started and ended == first and third != first


def test_devices_are_separate_and_late_events_do_not_shrink() -> None:
    t = make()
    a, _, _ = touch(t, "a", 10 * MIN, 0)
    b, _, _ = touch(t, "b", 10 * MIN, 0)
    assert a != b
    late, started, _ = touch(t, "a", 5 * MIN, 1)
    assert late == a and not started
    live = t.is_live("p", "a", 20 * MIN)
    assert live is not None
    assert live.started_ms == 5 * MIN and live.last_ms == 10 * MIN


def test_server_events_join_the_profiles_live_session() -> None:
    t = make()
    sid, _, _ = touch(t, "browser", 0, 0, profile="user-1")
    live = t.for_profile("p", "user-1", 10 * MIN)
    assert live is not None and live.id == sid
    assert t.for_profile("p", "user-1", 45 * MIN) is None
    assert t.for_profile("p", "someone-else", 1) is None


def test_reaper_closes_idle_sessions_with_their_facts() -> None:
    t = make()
    touch(t, "d", 0, 100.0, path="/a")
    touch(t, "d", 1000, 101.0, path="/b")
    touch(t, "d", 2000, 102.0, screen_view=False, revenue=500, path="")
    assert t.reap(102.0 + 29 * 60) == []
    [done] = t.reap(102.0 + 31 * 60)
    assert (done.entry_path, done.exit_path) == ("/a", "/b")
    assert (done.screen_views, done.events, done.revenue) == (2, 1, 500)
    assert done.last_ms - done.started_ms == 2000
    assert len(t) == 0
    assert t.for_profile("p", "d", 3000) is None
