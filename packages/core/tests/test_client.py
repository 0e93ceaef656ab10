"""The threaded client against a real local HTTP server."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from core_helpers import CLIENT_ID, Sink
from typing_extensions import Unpack
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from openpanel_core import (
    ClientOptions,
    EventValidationError,
    HTTPStatusError,
    HttpxTransport,
    OpenPanel,
    QueueFullError,
    RequestsTransport,
    Transport,
    TransportError,
    __version__,
    copy_context,
)
from openpanel_core._models import batch_request_adapter, track_request_adapter
from openpanel_core._retry import RetryPolicy

FAST_RETRY = RetryPolicy(max_retries=5, initial_delay=0.01, max_delay=0.05, max_retry_time=10)


@pytest.fixture(params=["httpx", "requests"])
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    t: Transport = HttpxTransport() if request.param == "httpx" else RequestsTransport()
    yield t
    t.close()


def make(
    sink: Sink,
    transport: Transport | None = None,
    client_secret: str | None = None,
    **options: Unpack[ClientOptions],
) -> OpenPanel:
    options.setdefault("flush_interval", 0.05)
    options["api_url"] = sink.url
    client = OpenPanel(CLIENT_ID, client_secret, transport=transport, **options)
    client.delivery.retry = FAST_RETRY
    return client


def test_track_batches_with_gzip_and_headers(sink: Sink, transport: Transport) -> None:
    client = make(sink, transport, client_secret="sec_123", flush_at=10)
    for i in range(25):
        client.track("page", {"i": i}, profile_id="u1")
    assert client.flush(5)
    events = sink.events
    assert [e["payload"]["properties"]["i"] for e in events] == list(range(25))
    assert all(r.path == "/track/batch" for r in sink.requests)
    r = sink.requests[0]
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["openpanel-client-id"] == CLIENT_ID
    assert r.headers["openpanel-client-secret"] == "sec_123"
    assert r.headers["openpanel-sdk-name"] == "python"
    assert r.headers["openpanel-sdk-version"] == __version__
    assert r.headers["user-agent"] == f"openpanel-python/{__version__}"
    assert len({e["id"] for e in events}) == 25
    assert client.stats.delivered == 25
    client.shutdown()


def test_flush_interval_sends_partial_batches(sink: Sink) -> None:
    client = make(sink, flush_at=1000, flush_interval=0.1)
    client.track("one")
    events = sink.wait_for(1, timeout=3)
    assert [e["payload"]["name"] for e in events] == ["one"]
    client.shutdown()


def test_batches_split_by_count(sink: Sink) -> None:
    client = make(sink, max_batch_size=7, flush_at=1000)
    for i in range(20):
        client.track("e", {"i": i})
    assert client.flush(5)
    assert sorted(len(r.events) for r in sink.requests) == [6, 7, 7]
    client.shutdown()


def test_wire_format_matches_models_and_never_sends_null(sink: Sink) -> None:
    client = make(sink, global_properties={"app": "shop"})
    client.track("plain")
    client.track("with_ts", timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    client.identify("u1", first_name="Ada", email="ada@example.com", properties={"plan": "pro"})
    client.identify("u2")
    client.increment("u1", "visits")
    client.decrement("u1", "credits", 2.5)
    client.revenue(1299, {"sku": "x"}, device_id="dev-1")
    client.upsert_group("g1", type="company", name="Acme", properties={"seats": 3})
    client.set_groups(["g1", "g2"], profile_id="u1")
    client.track("grouped", groups=["g3"])
    assert client.flush(5)
    events = sink.events
    batch_request_adapter.validate_python(events)
    for e in events:
        wire = {"type": e["type"], "payload": e["payload"]}
        track_request_adapter.validate_python(wire)
        assert "null" not in json.dumps(wire)
    by_type = {
        (e["type"], e["payload"]["name"] if e["type"] == "track" else None): e["payload"]
        for e in events
    }
    assert by_type[("track", "plain")]["properties"]["app"] == "shop"
    assert "profileId" not in by_type[("track", "plain")]
    ts = by_type[("track", "with_ts")]["properties"]["__timestamp"]
    assert ts == "2026-01-02T03:04:05.000Z"
    assert by_type[("identify", None)] in (
        {
            "profileId": "u1",
            "firstName": "Ada",
            "email": "ada@example.com",
            "properties": {"app": "shop", "plan": "pro"},
        },
        {"profileId": "u2", "properties": {"app": "shop"}},
    )
    assert by_type[("increment", None)] == {"profileId": "u1", "property": "visits", "value": 1}
    assert by_type[("decrement", None)] == {"profileId": "u1", "property": "credits", "value": 2.5}
    revenue = by_type[("track", "revenue")]["properties"]
    assert revenue["__revenue"] == 1299
    assert revenue["__deviceId"] == "dev-1"
    assert by_type[("group", None)] == {
        "id": "g1",
        "type": "company",
        "name": "Acme",
        "properties": {"seats": 3},
    }
    assert by_type[("assign_group", None)] == {"groupIds": ["g1", "g2"], "profileId": "u1"}
    assert by_type[("track", "grouped")]["groups"] == ["g1", "g2", "g3"]
    client.shutdown()


def test_timestamp_is_taken_at_call_time(sink: Sink) -> None:
    client = make(sink, flush_interval=0.5, flush_at=1000)
    before = dt.datetime.now(dt.timezone.utc)
    client.track("early")
    time.sleep(0.3)
    assert client.flush(5)
    ts = sink.events[0]["payload"]["properties"]["__timestamp"]
    parsed = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert abs((parsed - before).total_seconds()) < 0.1
    client.shutdown()


@pytest.mark.parametrize("status", [429, 503])
def test_retries_honour_retry_after(sink: Sink, status: int, transport: Transport) -> None:
    calls: list[float] = []

    def hook(request: WRequest, received: Any) -> WResponse | None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return WResponse("busy", status=status, headers={"Retry-After": "1"})
        return None

    sink.hook = hook
    client = make(sink, transport)
    client.track("x")
    assert client.flush(10)
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.95
    ids = [e["id"] for r in sink.requests for e in r.events]
    assert len(ids) == 2 and ids[0] == ids[1], "the idempotency id survives the retry"
    assert client.stats.retried == 1
    assert client.stats.delivered == 1
    client.shutdown()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_final_statuses_are_not_retried_and_are_reported(
    sink: Sink, status: int, transport: Transport
) -> None:
    sink.batch = False  # single sends: one request per event
    sink.hook = lambda request, received: WResponse("Ingestion: nope", status=status)
    reported: list[tuple[Exception, list[dict[str, Any]]]] = []
    client = make(sink, transport, on_error=lambda exc, items: reported.append((exc, items)))
    client.track("x")
    assert client.flush(5)
    assert len([r for r in sink.requests if r.path == "/track"]) == 1
    assert len(reported) == 1
    exc, items = reported[0]
    assert isinstance(exc, HTTPStatusError)
    assert exc.status_code == status
    assert "Ingestion: nope" in str(exc)
    assert items[0]["payload"]["name"] == "x"
    assert client.stats.failed == 1
    client.shutdown()


def test_gives_up_after_max_retries(sink: Sink) -> None:
    sink.hook = lambda request, received: WResponse("down", status=500)
    reported: list[Exception] = []
    client = make(sink, on_error=lambda exc, items: reported.append(exc))
    client.delivery.retry = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)
    client.track("x")
    assert client.flush(5)
    assert len(sink.requests) == 3
    assert isinstance(reported[0], HTTPStatusError)
    assert client.stats.failed == 1
    client.shutdown()


def test_any_2xx_is_success_even_without_json(sink: Sink) -> None:
    sink.batch = False
    sink.hook = lambda request, received: WResponse("Duplicate event", status=200)
    client = make(sink)
    client.track("x")
    client.track("y")
    assert client.flush(5)
    assert len(sink.requests) == 2
    assert client.stats.delivered == 2
    assert client.stats.retried == 0
    client.shutdown()


def test_batch_per_item_results_isolate_bad_items(sink: Sink) -> None:
    def hook(request: WRequest, received: Any) -> WResponse | None:
        results: list[dict[str, Any]] = []
        for e in received.events:
            name = e["payload"].get("name")
            if name == "bad":
                results.append(
                    {"id": e["id"], "status": 400, "error": "payload.name", "message": "blocked"}
                )
            elif name == "flaky" and sum(1 for r in sink.requests for _ in r.events) <= 3:
                results.append({"id": e["id"], "status": 503})
            else:
                results.append({"id": e["id"], "status": 200})
        return WResponse(json.dumps({"results": results}), content_type="application/json")

    sink.hook = hook
    reported: list[Exception] = []
    client = make(sink, flush_at=1000, on_error=lambda exc, items: reported.append(exc))
    client.track("good")
    client.track("bad")
    client.track("flaky")
    assert client.flush(5)
    assert client.stats.delivered == 2
    assert client.stats.failed == 1
    assert len(reported) == 1 and "payload.name" in str(reported[0])
    # However the sender grouped the first sends, only the 503 item went out again.
    sent = [e["payload"]["name"] for r in sink.requests for e in r.events]
    assert sorted(sent) == ["bad", "flaky", "flaky", "good"]
    assert [e["payload"]["name"] for e in sink.requests[-1].events] == ["flaky"]
    client.shutdown()


def test_falls_back_to_single_sends_against_stock_openpanel(
    sink: Sink, transport: Transport
) -> None:
    sink.batch = False
    client = make(sink, transport, flush_at=1000)
    with client.context(ip="203.0.113.9", user_agent="Mozilla/5.0 (X11; Linux x86_64)"):
        for i in range(5):
            client.track("e", {"i": i})
    assert client.flush(5)
    singles = [r for r in sink.requests if r.path == "/track"]
    assert len(singles) == 5
    for r in singles:
        assert r.headers["openpanel-client-ip"] == "203.0.113.9"
        assert r.headers["user-agent"] == "Mozilla/5.0 (X11; Linux x86_64)"
        assert "content-encoding" not in r.headers, "stock servers do not decompress bodies"
        assert r.headers["openpanel-event-id"]
    client.track("later")
    assert client.flush(5)
    assert sink.requests[-1].path == "/track", "the fallback is remembered"
    client.shutdown()


def test_batch_carries_per_item_end_user_context(sink: Sink) -> None:
    client = make(sink, flush_at=1000)
    with client.context(ip="198.51.100.1", user_agent="UA-1", profile_id="p1"):
        client.track("a")
    with client.context(ip="198.51.100.2", user_agent="UA-2"):
        client.track("b", profile_id="p2")
    client.track("c")
    assert client.flush(5)
    a, b, c = sink.events
    assert (a["ip"], a["userAgent"], a["payload"]["profileId"]) == ("198.51.100.1", "UA-1", "p1")
    assert (b["ip"], b["userAgent"], b["payload"]["profileId"]) == ("198.51.100.2", "UA-2", "p2")
    assert "ip" not in c and "userAgent" not in c
    client.shutdown()


def test_request_too_large_is_split(sink: Sink) -> None:
    def hook(request: WRequest, received: Any) -> WResponse | None:
        if len(received.events) > 2:
            return WResponse("too large", status=413)
        return None

    sink.hook = hook
    client = make(sink, flush_at=1000)
    for i in range(8):
        client.track("e", {"i": i})
    assert client.flush(5)
    assert client.stats.delivered == 8
    assert client.stats.failed == 0
    client.shutdown()


def test_timeouts_are_retried(sink: Sink, transport: Transport) -> None:
    calls: list[int] = []

    def hook(request: WRequest, received: Any) -> WResponse | None:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.6)
        return None

    sink.hook = hook
    client = make(sink, transport, timeout=0.2)
    client.track("x")
    assert client.flush(10)
    assert len(calls) >= 2
    assert client.stats.delivered == 1
    client.shutdown()


class FlakyTransport:
    """Raises TransportError (a connection reset) every other request."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.n = 0

    def send(self, request: Any) -> Any:
        self.n += 1
        if self.n % 2 == 1:
            raise TransportError("ConnectionResetError: reset by peer")
        return self.inner.send(request)

    def close(self) -> None:
        self.inner.close()


def test_connection_resets_are_retried(sink: Sink) -> None:
    client = make(sink, transport=FlakyTransport(HttpxTransport()), flush_at=1000)
    for i in range(10):
        client.track("e", {"i": i})
    assert client.flush(5)
    assert sorted(e["payload"]["properties"]["i"] for e in sink.events) == list(range(10))
    client.shutdown()


class BlockingTransport:
    def __init__(self) -> None:
        self.release = threading.Event()

    def send(self, request: Any) -> Any:
        self.release.wait(10)
        raise TransportError("closed")

    def close(self) -> None:
        self.release.set()


def test_full_queue_drops_and_counts_once_reported() -> None:
    reported: list[Exception] = []
    transport = BlockingTransport()
    client = OpenPanel(
        CLIENT_ID,
        api_url="http://127.0.0.1:9",
        transport=transport,
        max_queue_size=50,
        max_in_flight=1,
        max_batch_size=10,
        flush_interval=0.02,
        on_error=lambda exc, items: reported.append(exc),
    )
    for i in range(5000):
        client.track("e", {"i": i})
    time.sleep(0.2)
    stats = client.stats
    assert stats.dropped > 4000
    assert stats.queued <= 50
    transport.release.set()
    client.shutdown(2)  # the sender reports drops when it next takes from the queue
    drops = [e for e in reported if isinstance(e, QueueFullError)]
    assert drops, "drops are reported through on_error"
    assert sum(e.dropped for e in drops) == stats.dropped
    assert len(drops) < 20, "reported in aggregate, never once per event"


def test_invalid_calls_are_refused_with_a_clear_error(sink: Sink) -> None:
    reported: list[Exception] = []
    client = make(sink, on_error=lambda exc, items: reported.append(exc))
    client.track("session_start")
    client.track("")
    client.track("x" * 81)
    client.track(123)  # type: ignore[arg-type]
    client.increment("u1", "visits", 0)
    client.decrement("u1", "visits", -1)
    client.identify("")
    client.revenue(12.5)  # type: ignore[arg-type]
    client.revenue(-1)
    client.track("ok2", {"fine": object()})
    assert client.flush(5)
    assert all(isinstance(e, EventValidationError) for e in reported)
    fields = [e.field for e in reported if isinstance(e, EventValidationError)]
    assert fields == [
        "name",
        "name",
        "name",
        "name",
        "value",
        "value",
        "profileId",
        "properties.__revenue",
        "properties.__revenue",
        "properties",
    ]
    assert "reserved" in str(reported[0])
    assert sink.events == []
    assert client.stats.invalid == 10
    client.shutdown()


@pytest.fixture(params=["orjson", "json"])
def json_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    from openpanel_core import _json

    if request.param == "json":
        monkeypatch.setattr(_json, "dumps", _json.std_dumps)
    else:
        assert _json.BACKEND == "orjson"
    return str(request.param)


def test_properties_serialise_common_python_types(sink: Sink, json_backend: str) -> None:
    import dataclasses
    import decimal
    import enum
    import uuid

    class Plan(enum.Enum):
        PRO = "pro"

    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    client = make(sink)
    client.track(
        "typed",
        {  # pyright: ignore[reportArgumentType] - int key on purpose
            "when": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "day": dt.date(2026, 1, 1),
            "id": uuid.UUID(int=1),
            "price": decimal.Decimal("9.99"),
            "plan": Plan.PRO,
            "tags": {"a"},
            "unicode": "café ☕",
            "nan": float("nan"),
            "inf": [float("inf"), 1.5],
            "big": 2**70,
            1: "int key",
            "point": Point(1, 2),
        },
    )
    assert client.flush(5)
    props = sink.events[0]["payload"]["properties"]
    assert props["when"] == "2026-01-01T00:00:00+00:00"
    assert props["day"] == "2026-01-01"
    assert props["id"] == "00000000-0000-0000-0000-000000000001"
    assert props["price"] == "9.99"
    assert props["plan"] == "pro"
    assert props["tags"] == ["a"]
    assert props["unicode"] == "café ☕"
    assert props["nan"] is None
    assert props["inf"] == [None, 1.5]
    assert props["big"] == 2**70
    assert props["1"] == "int key"
    assert props["point"] == {"x": 1, "y": 2}
    client.shutdown()


def test_before_send_changes_and_drops(sink: Sink) -> None:
    def before_send(item: dict[str, Any]) -> dict[str, Any] | None:
        if item["payload"].get("name") == "secret":
            return None
        item["payload"]["properties"]["scrubbed"] = True
        return item

    client = make(sink, before_send=before_send)
    client.track("secret")
    client.track("public")
    assert client.flush(5)
    assert [e["payload"]["name"] for e in sink.events] == ["public"]
    assert sink.events[0]["payload"]["properties"]["scrubbed"] is True
    assert client.stats.filtered == 1
    client.shutdown()


def test_user_hooks_that_raise_never_reach_the_app(sink: Sink) -> None:
    def bad_hook(*args: Any) -> Any:
        raise RuntimeError("user bug")

    sink.hook = lambda request, received: WResponse("no", status=400)
    client = make(sink, before_send=None, on_error=bad_hook)
    client.track("x")
    client.track("session_end")  # refused on the caller's thread: on_error raises there too
    assert client.flush(5)
    client.shutdown()
    sink.requests.clear()
    client2 = make(sink, before_send=bad_hook)
    client2.track("x")
    assert client2.flush(5)
    # A before_send that raises may have been scrubbing data: the event is dropped, not sent.
    assert client2.stats.filtered == 1
    assert sink.requests == []
    client2.shutdown()


def test_disabled_client_sends_nothing_and_needs_no_id(sink: Sink) -> None:
    client = OpenPanel(disabled=True, api_url=sink.url)
    client.track("x")
    client.identify("u1")
    assert client.flush(1)
    assert client.shutdown(1)
    assert sink.requests == []


def test_options_from_environment(monkeypatch: pytest.MonkeyPatch, sink: Sink) -> None:
    monkeypatch.setenv("OPENPANEL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OPENPANEL_CLIENT_SECRET", "sec_env")
    monkeypatch.setenv("OPENPANEL_API_URL", sink.url + "/")
    client = OpenPanel(flush_interval=0.05)
    client.track("x")
    assert client.flush(5)
    assert sink.requests[0].headers["openpanel-client-secret"] == "sec_env"
    client.shutdown()
    monkeypatch.setenv("OPENPANEL_DISABLED", "true")
    assert OpenPanel().disabled


def test_configuration_errors_are_raised() -> None:
    from openpanel_core import ConfigurationError

    with pytest.raises(ConfigurationError, match="client_id is required"):
        OpenPanel(api_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="api_url"):
        OpenPanel(CLIENT_ID, api_url="ftp://example.com")
    with pytest.raises(ConfigurationError, match="flush_at"):
        OpenPanel(CLIENT_ID, flush_at=0)


def test_secret_never_logged(sink: Sink, caplog: pytest.LogCaptureFixture) -> None:
    sink.hook = lambda request, received: WResponse("bad", status=401)
    caplog.set_level("DEBUG", logger="openpanel_core")
    client = make(sink, client_secret="sec_topsecret_value", debug=True)
    client.track("x", {"email": "ada@example.com"})
    assert client.flush(5)
    client.shutdown()
    assert "sec_topsecret_value" not in caplog.text
    assert "ada@example.com" not in caplog.text
    assert "not delivered" in caplog.text


def test_sync_mode_sends_before_returning(sink: Sink) -> None:
    client = make(sink, sync_mode=True)
    client.track("now")
    assert [e["payload"]["name"] for e in sink.events] == ["now"]
    assert threading.active_count() >= 1
    client.shutdown()


def test_context_propagates_to_copied_threads_and_nests(sink: Sink) -> None:
    client = make(sink, flush_at=1000)
    with client.context(ip="203.0.113.1", user_agent="UA", profile_id="u1", groups=["team"]):
        with client.context(properties={"page": "/x"}):
            t = threading.Thread(target=copy_context(lambda: client.track("in_thread")))
            t.start()
            t.join()
        plain = threading.Thread(target=lambda: client.track("plain_thread"))
        plain.start()
        plain.join()
    assert client.flush(5)
    events = {e["payload"]["name"]: e for e in sink.events}
    ev = events["in_thread"]
    assert ev["ip"] == "203.0.113.1"
    assert ev["payload"]["profileId"] == "u1"
    assert ev["payload"]["groups"] == ["team"]
    assert ev["payload"]["properties"]["page"] == "/x"
    assert "ip" not in events["plain_thread"], "plain threads do not inherit contextvars"
    client.shutdown()


def test_client_device_id_and_session(sink: Sink, tmp_path: Any) -> None:
    path = tmp_path / "device-id"
    client = make(sink, device_id="auto", device_id_file=path)
    client.track("a")
    client.track("b")
    with client.context(ip="203.0.113.1", user_agent="UA"):
        client.track("in_request")
    assert client.flush(5)
    a, b, r = sink.events
    device = path.read_text().strip()
    assert a["payload"]["properties"]["__deviceId"] == device == client.device_id
    assert a["payload"]["properties"]["__sessionId"] == b["payload"]["properties"]["__sessionId"]
    assert "__deviceId" not in r["payload"]["properties"], "a request context wins"
    client.shutdown()
    again = make(sink, device_id="auto", device_id_file=path)
    assert again.device_id == device
    again.shutdown()


def test_shutdown_is_idempotent_and_ignores_later_calls(sink: Sink) -> None:
    with make(sink) as client:
        client.track("a")
    assert client.shutdown(1)
    client.track("after")
    assert client.flush(1)
    assert [e["payload"]["name"] for e in sink.events] == ["a"]


def test_oversize_event_is_refused_alone(sink: Sink) -> None:
    reported: list[Exception] = []
    client = make(sink, max_batch_bytes=2000, on_error=lambda exc, items: reported.append(exc))
    client.track("small")
    client.track("huge", {"blob": "x" * 5000})
    client.track("small2")
    assert client.flush(5)
    assert [e["payload"]["name"] for e in sink.events] == ["small", "small2"]
    [exc] = reported
    assert isinstance(exc, EventValidationError)
    assert exc.field == "properties"
    client.shutdown()


def test_batches_split_by_bytes(sink: Sink) -> None:
    client = make(sink, max_batch_bytes=1000, flush_at=1000)
    for i in range(30):
        client.track("e", {"pad": "y" * 100, "i": i})
    assert client.flush(5)
    assert len(sink.requests) > 3
    assert sorted(e["payload"]["properties"]["i"] for e in sink.events) == list(range(30))
    assert all(len(e["id"]) == 32 for e in sink.events)
    client.shutdown()


def test_byte_bound_holds_while_the_server_hangs() -> None:
    transport = BlockingTransport()
    client = OpenPanel(
        CLIENT_ID,
        api_url="http://127.0.0.1:9",
        transport=transport,
        max_queue_bytes=300_000,
        max_in_flight=2,
        max_batch_size=100,
        flush_interval=0.01,
    )
    payload = {"blob": "z" * 1000}
    for _ in range(50):  # the sender learns the encoded size from a first job
        client.track("e", payload)
    time.sleep(0.2)
    for _ in range(20):
        for _ in range(500):
            client.track("e", payload)
        time.sleep(0.15)  # the sender wakes, cannot dispatch, and re-checks the bound
    stats = client.stats
    held = stats.queued + stats.in_flight
    assert stats.dropped > 5000
    # Bounded by max_queue_bytes plus at most one job being formed (100 events here).
    assert held * 1030 < 300_000 + 100 * 1030, (held, stats)
    transport.release.set()
    client.shutdown(0.5)


def test_shutdown_keeps_its_budget_when_the_server_hangs() -> None:
    transport = BlockingTransport()
    client = OpenPanel(CLIENT_ID, api_url="http://127.0.0.1:9", transport=transport)
    for i in range(3000):
        client.track("e", {"i": i})
    started = time.monotonic()
    assert client.shutdown(0.5) is False
    assert time.monotonic() - started < 0.8
    transport.release.set()


def test_garbage_arguments_never_raise_and_never_lose_the_batch(sink: Sink) -> None:
    reported: list[Exception] = []
    client = make(sink, flush_at=1000, on_error=lambda exc, items: reported.append(exc))
    bad_calls: list[dict[str, Any]] = [
        {"properties": ["not", "a", "mapping"]},
        {"properties": "text"},
        {"properties": 5},
        {"groups": 5},
        {"timestamp": object()},
        {"timestamp": dt.datetime(2026, 1, 1)},  # noqa: DTZ001 - naive on purpose
        {"properties": {"x": object()}},
    ]
    client.track("good_before")
    for kwargs in bad_calls:
        client.track("bad", **kwargs)
    client.track(None)  # type: ignore[arg-type]
    client.identify(None)  # type: ignore[arg-type]
    client.increment("u", None)  # type: ignore[arg-type]
    client.set_groups([None, 3])  # type: ignore[list-item]
    client.upsert_group("", type="t", name="n")
    client.track("good_after", groups=("g",))
    assert client.flush(5)
    assert [e["payload"]["name"] for e in sink.events] == ["good_before", "good_after"]
    stats = client.stats
    assert stats.invalid == len(bad_calls) + 5
    assert stats.delivered == 2
    assert stats.in_flight == 0
    assert all(isinstance(e, EventValidationError) for e in reported)
    client.shutdown()


def test_context_scopes_nest_and_restore() -> None:
    from openpanel_core import current_context

    op = OpenPanel(CLIENT_ID, disabled=True)
    assert current_context() is None
    with op.context(ip="203.0.113.1", user_agent="UA", profile_id="u1") as outer:
        assert current_context() is outer
        assert (outer.ip, outer.user_agent, outer.profile_id) == ("203.0.113.1", "UA", "u1")
        with op.context(profile_id="u2", properties={"k": 1}) as inner:
            assert (inner.ip, inner.profile_id, dict(inner.properties)) == (
                "203.0.113.1",
                "u2",
                {"k": 1},
            )
        assert current_context() is outer
    assert current_context() is None
    with op.context(ip="", user_agent="") as empty:  # empty strings are no value
        assert (empty.ip, empty.user_agent) == (None, None)
    try:
        with op.context(ip="203.0.113.2"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert current_context() is None  # restored when the block raises
