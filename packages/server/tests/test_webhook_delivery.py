"""Webhook delivery faults with a fake clock: schedule, throttling, 410, timeouts, dedupe."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from server_helpers import free_port
from werkzeug import Request, Response

from openpanel_core.webhooks import SignatureMismatchError, Verifier, verify
from openpanel_server._meta import MetaStore
from openpanel_server._secretbox import SecretBox
from openpanel_server._webhook_delivery import (
    DEFAULT_SCHEDULE,
    DeliveryPolicy,
    Dispatcher,
    next_delay,
    parse_retry_after,
)
from openpanel_server._webhook_events import NewMessage, message_id
from openpanel_server._webhook_ssrf import AddressPolicy
from openpanel_server._webhook_store import Attempt, Endpoint, WebhookStore

LOCAL = AddressPolicy.from_settings(["127.0.0.0/8"], allow_http=True)
T0 = 1_800_000_000.0


class FakeTime:
    """The dispatcher's clock and sleeper: sleeping moves the clock, instantly."""

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()
        await asyncio.sleep(0)


@dataclass
class Setup:
    store: WebhookStore
    time: FakeTime
    endpoint: Endpoint
    secret: str
    project_id: str
    messages: list[str] = field(default_factory=list[str])

    def dispatcher(self, policy: DeliveryPolicy | None = None, **kwargs: Any) -> Dispatcher:
        return Dispatcher(
            self.store,
            policy or DeliveryPolicy(),
            kwargs.pop("addresses", LOCAL),
            clock=self.time.clock,
            sleeper=self.time.sleep,
            rand=random.Random(7),
            **kwargs,
        )

    def run(self, policy: DeliveryPolicy | None = None, **kwargs: Any) -> Dispatcher:
        dispatcher = self.dispatcher(policy, **kwargs)
        asyncio.run(dispatcher.run(until_idle=True))
        return dispatcher

    def enqueue(self, n: int = 1, event_type: str = "event.created") -> list[str]:
        new: list[NewMessage] = []
        for i in range(n):
            source = f"evt-{len(self.messages) + i}"
            body = json.dumps(
                {
                    "type": event_type,
                    "timestamp": "2027-01-15T08:00:00.000Z",
                    "data": {"id": source},
                },
                separators=(",", ":"),
            ).encode()
            new.append(
                NewMessage(
                    message_id(self.endpoint.id, event_type, source),
                    self.endpoint.id,
                    event_type,
                    source,
                    body,
                )
            )
        self.store.enqueue(new, now=self.time.now)
        ids = [m.id for m in new]
        self.messages += ids
        return ids

    def attempts(self, message: str | None = None) -> list[Attempt]:
        rows, _ = self.store.list_attempts(self.endpoint.id, message_id=message, limit=500)
        return sorted(rows, key=lambda a: a.id)

    def reload(self) -> Endpoint:
        found = self.store.get_endpoint(self.endpoint.id, now=self.time.now)
        assert found is not None
        return found


def make_setup(tmp_path: Path, url: str) -> Setup:
    meta = MetaStore(tmp_path / "meta.db")
    project = meta.create_project("Shop")
    meta.close()
    store = WebhookStore(tmp_path / "meta.db", SecretBox(b"k" * 32))
    fake = FakeTime()
    endpoint, secret = store.create_endpoint(project.id, url, now=fake.now)
    return Setup(store, fake, endpoint, secret, project.id)


@pytest.fixture
def setup(tmp_path: Path, httpserver: HTTPServer) -> Iterator[Setup]:
    s = make_setup(tmp_path, httpserver.url_for("/hook"))
    yield s
    s.store.close()


# ---------------------------------------------------------------------- unit rules


def test_retry_after_parsing() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 90))
    assert parse_retry_after(date, now) == pytest.approx(90.0)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now) == 0.0  # in the past
    for junk in (None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2001"):
        assert parse_retry_after(junk, now) is None


def test_next_delay_follows_the_schedule_with_jitter() -> None:
    policy = DeliveryPolicy()
    rand = random.Random(1)
    for done, base in enumerate(DEFAULT_SCHEDULE[1:], start=1):
        for _ in range(50):
            delay = next_delay(
                policy, done, status_code=500, error_kind=None, retry_after=None, rand=rand
            )
            assert delay is not None and 0.8 * base <= delay <= 1.2 * base
    assert (
        next_delay(policy, 8, status_code=500, error_kind=None, retry_after=None, rand=rand) is None
    )
    # Timeouts and 429/502/504 wait at least a minute; Retry-After lengthens up to 2x.
    assert (
        next_delay(policy, 1, status_code=429, error_kind=None, retry_after=None, rand=rand) == 60
    )
    assert (
        next_delay(policy, 1, status_code=None, error_kind="timeout", retry_after=None, rand=rand)
        == 60
    )
    assert (
        next_delay(policy, 1, status_code=429, error_kind=None, retry_after=3600, rand=rand) == 120
    )
    assert next_delay(policy, 1, status_code=429, error_kind=None, retry_after=90, rand=rand) == 90
    shorter = next_delay(policy, 2, status_code=503, error_kind=None, retry_after=1, rand=rand)
    assert shorter is not None and shorter >= 0.8 * 300  # Retry-After never shortens the wait


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="schedule"):
        DeliveryPolicy(schedule=())
    with pytest.raises(ValueError, match="schedule"):
        DeliveryPolicy(schedule=(0, -1))
    with pytest.raises(ValueError, match="jitter"):
        DeliveryPolicy(jitter=1.5)


# ---------------------------------------------------------------------- deliveries


def test_a_delivery_is_signed_both_ways_and_logged(setup: Setup, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("thanks", status=200)
    [msg] = setup.enqueue()
    setup.run()
    [(request, _)] = httpserver.log
    body = request.get_data()
    stored = setup.store.message_body(setup.endpoint.id, msg)
    assert body == stored  # the bytes serialised once
    headers = dict(request.headers)
    assert headers["Webhook-Id"] == msg
    assert headers["Webhook-Timestamp"] == str(int(T0))
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("OpenPanel-Webhooks/")
    message = verify(body, request.headers, setup.secret, now=T0)
    assert message.id == msg and message.type == "event.created"
    legacy = verify(body, request.headers, setup.secret, scheme="openpanel")
    assert legacy.id == msg  # X-OpenPanel-Delivery
    assert headers["X-Openpanel-Event"] == "event.created"
    [attempt] = setup.attempts()
    assert (attempt.status_code, attempt.trigger, attempt.attempt_no) == (200, "scheduled", 1)
    assert attempt.response_body == "thanks" and attempt.error_kind is None
    assert attempt.started_at == T0 and attempt.duration_ms > 0
    stored_message = setup.store.get_message(setup.endpoint.id, msg)
    assert stored_message is not None and stored_message.state == "succeeded"
    assert stored_message.next_attempt_at is None


def test_legacy_headers_are_left_out_when_switched_off(
    setup: Setup, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    setup.store.update_endpoint(setup.endpoint.id, {"legacy_signature": False}, now=T0)
    setup.enqueue()
    setup.run()
    [(request, _)] = httpserver.log
    assert "X-OpenPanel-Signature" not in request.headers
    assert "X-OpenPanel-Event" not in request.headers
    assert "webhook-signature" in request.headers


def test_500s_are_retried_on_the_schedule_then_exhausted(
    setup: Setup, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("x" * 30_000, status=500)
    [msg] = setup.enqueue()
    setup.run()
    attempts = setup.attempts(msg)
    assert [a.attempt_no for a in attempts] == list(range(1, 9))
    starts = [a.started_at for a in attempts]
    assert starts[0] == T0
    for i, (before, after) in enumerate(itertools.pairwise(starts), start=1):
        assert 0.8 * DEFAULT_SCHEDULE[i] <= after - before <= 1.2 * DEFAULT_SCHEDULE[i]
    total = starts[-1] - starts[0]
    assert 0.8 * sum(DEFAULT_SCHEDULE) <= total <= 1.2 * sum(DEFAULT_SCHEDULE)  # about 27.6 h
    assert all(a.status_code == 500 and a.error_kind == "http_status" for a in attempts)
    assert all(len(a.response_body or "") == 20_000 for a in attempts)  # truncated for the log
    assert [a.next_attempt_at for a in attempts[:-1]] == starts[1:]
    assert attempts[-1].next_attempt_at is None
    message = setup.store.get_message(setup.endpoint.id, msg)
    assert message is not None and message.state == "exhausted" and message.attempts == 8
    endpoint = setup.reload()
    assert endpoint.enabled and endpoint.failing_since == starts[-1]
    assert len(httpserver.log) == 8


def test_429_with_retry_after_and_timeouts_slow_down(setup: Setup, httpserver: HTTPServer) -> None:
    answers = iter(
        [
            Response("slow down", status=429, headers={"Retry-After": "3600"}),
            Response("busy", status=503, headers={"Retry-After": "1"}),
            Response("", status=204),
        ]
    )
    httpserver.expect_request("/hook").respond_with_handler(lambda request: next(answers))
    [msg] = setup.enqueue()
    setup.run()
    starts = [a.started_at for a in setup.attempts(msg)]
    assert len(starts) == 3
    # After the 429: at least 60 s; Retry-After (3600) clamped to twice that: 120 s.
    assert starts[1] - starts[0] == pytest.approx(120.0)
    # After the 503, Retry-After: 1 never shortens the scheduled 5 min (+/-20 %).
    assert 240 <= starts[2] - starts[1] <= 360
    assert setup.attempts(msg)[0].response_headers["retry-after"] == "3600"


def test_410_disables_the_endpoint_at_once(setup: Setup, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    setup.enqueue(3)
    disabled: list[tuple[str, str]] = []

    def on_disabled(endpoint: str, reason: str) -> None:
        disabled.append((endpoint, reason))

    setup.run(DeliveryPolicy(max_in_flight=1), on_disabled=on_disabled)
    assert len(httpserver.log) == 1  # the other messages wait for the endpoint to come back
    endpoint = setup.reload()
    assert not endpoint.enabled and endpoint.disabled_reason == "gone"
    assert disabled == [(setup.endpoint.id, "gone")]
    states = sorted(m.state for m in setup.store.list_messages(setup.endpoint.id)[0])
    assert states == ["failed", "pending", "pending"]


def test_a_slow_receiver_times_out_and_waits_a_minute(setup: Setup, httpserver: HTTPServer) -> None:
    calls: list[float] = []

    def handler(request: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(0.6)  # longer than the attempt's total timeout
        return Response("", status=200)

    httpserver.expect_request("/hook").respond_with_handler(handler)
    # This test server answers one request at a time: let the slow one end in real time.
    setup.time.on_sleep = lambda: time.sleep(0.6)
    [msg] = setup.enqueue()
    setup.run(DeliveryPolicy(timeout=0.2, connect_timeout=0.2))
    first, second = setup.attempts(msg)
    assert first.error_kind == "timeout" and first.status_code is None
    assert first.duration_ms < 550
    assert second.started_at - first.started_at == 60.0
    assert second.status_code == 200


def test_a_receiver_that_is_down_gets_it_when_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    setup = make_setup(tmp_path, f"http://127.0.0.1:{port}/hook")
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    servers: list[ThreadingHTTPServer] = []

    def come_back() -> None:  # the receiver starts while the dispatcher sleeps (2nd wait)
        if len(setup.time.sleeps) == 2 and not servers:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)

    setup.time.on_sleep = come_back
    try:
        [msg] = setup.enqueue()
        setup.run()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    attempts = setup.attempts(msg)
    assert [a.error_kind for a in attempts] == ["connect", "connect", None]
    assert attempts[-1].status_code == 204
    assert received == [setup.store.message_body(setup.endpoint.id, msg)]


def test_redirects_are_failures_and_never_followed(setup: Setup, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data(
        "", status=307, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    httpserver.expect_request("/elsewhere").respond_with_data("", status=200)
    [msg] = setup.enqueue()
    setup.run(DeliveryPolicy(schedule=(0,)))
    [attempt] = setup.attempts(msg)
    assert attempt.status_code == 307 and attempt.error_kind == "redirect"
    assert attempt.error is not None and "/elsewhere" in attempt.error
    assert [r.path for r, _ in httpserver.log] == ["/hook"]


def test_addresses_are_checked_again_at_every_attempt(setup: Setup, httpserver: HTTPServer) -> None:
    # Registered while 127.0.0.0/8 was allowed; the running policy no longer allows it.
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    [msg] = setup.enqueue()
    setup.run(DeliveryPolicy(schedule=(0,)), addresses=AddressPolicy(allow_http=True))
    [attempt] = setup.attempts(msg)
    assert attempt.error_kind == "blocked" and "127.0.0.1" in (attempt.error or "")
    assert httpserver.log == []


def test_rotation_signs_with_every_live_secret(setup: Setup, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    old = setup.secret
    new = setup.store.rotate_secret(setup.endpoint.id, 3600, now=T0)
    assert new is not None and new != old
    setup.enqueue()
    setup.run()
    request = httpserver.log[-1][0]
    body, ts = request.get_data(), int(request.headers["webhook-timestamp"])
    assert len(request.headers["webhook-signature"].split()) == 2
    Verifier(old).verify(body, request.headers, now=ts)  # receivers not yet switched
    Verifier(new).verify(body, request.headers, now=ts)  # receivers already switched
    verify(body, request.headers, new, scheme="openpanel")  # legacy: current secret only
    assert setup.reload().rotating_until == T0 + 3600

    setup.time.now += 3601  # the grace period is over
    setup.enqueue()
    setup.run()
    request = httpserver.log[-1][0]
    body, ts = request.get_data(), int(request.headers["webhook-timestamp"])
    assert len(request.headers["webhook-signature"].split()) == 1
    Verifier(new).verify(body, request.headers, now=ts)
    with pytest.raises(SignatureMismatchError):
        Verifier(old).verify(body, request.headers, now=ts)


def test_rotation_limits(setup: Setup) -> None:
    with pytest.raises(ValueError, match="grace"):
        setup.store.rotate_secret(setup.endpoint.id, 8 * 86400, now=T0)
    for i in range(12):
        setup.store.rotate_secret(setup.endpoint.id, 86400, now=T0 + i)
    assert len(setup.store.signing_secrets(setup.endpoint.id, now=T0 + 20)) == 1 + 10
    setup.store.rotate_secret(setup.endpoint.id, 0, now=T0 + 30)  # no grace: old ones stay
    assert len(setup.store.signing_secrets(setup.endpoint.id, now=T0 + 90_000)) == 1


class _Receiver:
    """A threaded receiver that deduplicates by webhook-id and can be slow or flaky."""

    def __init__(self, delay: float = 0.0, fail_first: bool = False) -> None:
        self.delay = delay
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.concurrent = 0
        self.max_concurrent = 0
        self.requests: list[tuple[str, str, bytes]] = []
        self.processed: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    receiver.concurrent += 1
                    receiver.max_concurrent = max(receiver.max_concurrent, receiver.concurrent)
                time.sleep(receiver.delay)
                msg = self.headers["webhook-id"]
                with receiver.lock:
                    receiver.concurrent -= 1
                    receiver.requests.append((msg, self.headers["webhook-timestamp"], body))
                    first = msg not in receiver.processed
                    if first:  # process once; a repeated id is acknowledged, not processed
                        receiver.processed[msg] = 1
                status = 500 if first and receiver.fail_first else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_concurrency_is_bounded_per_endpoint(tmp_path: Path) -> None:
    receiver = _Receiver(delay=0.15)
    setup = make_setup(tmp_path, receiver.url)
    looks: list[float] = []
    due = setup.store.due

    def counted_due(now: float, *, per_endpoint: int, limit: int = 500) -> Any:
        looks.append(now)
        return due(now, per_endpoint=per_endpoint, limit=limit)

    setup.store.due = counted_due
    try:
        setup.enqueue(8)
        setup.run(DeliveryPolicy(max_in_flight=2))
    finally:
        receiver.close()
    assert len(receiver.processed) == 8
    assert receiver.max_concurrent == 2
    # Messages waiting for a free slot do not make the loop spin: it wakes when one ends.
    assert len(looks) < 30


def test_a_deduplicating_receiver_processes_each_message_once(tmp_path: Path) -> None:
    # The receiver processes, then its answer is lost (500): the retry repeats the same
    # webhook-id and bytes with a fresh timestamp, and the receiver does not process it again.
    receiver = _Receiver(fail_first=True)
    setup = make_setup(tmp_path, receiver.url)
    try:
        ids = setup.enqueue(5)
        setup.run()
    finally:
        receiver.close()
    assert sorted(receiver.processed) == sorted(ids)
    assert all(count == 1 for count in receiver.processed.values())
    for msg in ids:
        sent = [r for r in receiver.requests if r[0] == msg]
        assert len(sent) == 2
        assert sent[0][2] == sent[1][2]  # byte-identical body
        assert int(sent[1][1]) - int(sent[0][1]) >= 4  # re-signed 5 s (+/-20 %) later


def test_an_endpoint_failing_for_days_is_disabled(setup: Setup, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=500)
    policy = DeliveryPolicy(schedule=(0, 60), disable_after=5 * 86400)
    setup.enqueue()
    setup.run(policy)
    first_failure = setup.reload().failing_since
    assert first_failure is not None and setup.reload().enabled
    setup.time.now += 3 * 86400
    setup.enqueue()
    setup.run(policy)
    assert setup.reload().enabled and setup.reload().failing_since == first_failure
    setup.time.now += 2 * 86400 + 60
    setup.enqueue()
    setup.run(policy)
    endpoint = setup.reload()
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"


def test_a_success_clears_the_failure_clock(setup: Setup, httpserver: HTTPServer) -> None:
    answers = iter([500, 500, 200])
    httpserver.expect_request("/hook").respond_with_handler(
        lambda request: Response("", status=next(answers))
    )
    policy = DeliveryPolicy(schedule=(0, 60))
    setup.enqueue()
    setup.run(policy)
    assert setup.reload().failing_since is not None
    setup.time.now += 6 * 86400
    setup.enqueue()
    setup.run(policy)  # succeeds: clock cleared, endpoint kept
    endpoint = setup.reload()
    assert endpoint.enabled and endpoint.failing_since is None


def test_manual_redelivery_sends_the_same_message_again(
    setup: Setup, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    [msg] = setup.enqueue()
    setup.run()
    setup.time.now += 600
    redelivered = setup.store.redeliver(setup.endpoint.id, msg, now=setup.time.now)
    assert redelivered is not None
    setup.run()
    first, second = (r for r, _ in httpserver.log)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == msg
    assert first.get_data() == second.get_data()
    assert int(second.headers["webhook-timestamp"]) == int(T0) + 600
    attempts = setup.attempts(msg)
    assert [(a.attempt_no, a.trigger) for a in attempts] == [(1, "scheduled"), (2, "manual")]
    message = setup.store.get_message(setup.endpoint.id, msg)
    assert message is not None and message.state == "succeeded"
    assert setup.store.redeliver(setup.endpoint.id, "msg_unknown", now=T0) is None


def test_a_failed_redelivery_of_an_exhausted_message_is_not_retried(
    setup: Setup, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=500)
    [msg] = setup.enqueue()
    setup.run(DeliveryPolicy(schedule=(0, 5)))
    setup.store.redeliver(setup.endpoint.id, msg, now=setup.time.now)
    setup.run(DeliveryPolicy(schedule=(0, 5)))
    attempts = setup.attempts(msg)
    assert [a.trigger for a in attempts] == ["scheduled", "scheduled", "manual"]
    message = setup.store.get_message(setup.endpoint.id, msg)
    assert message is not None and message.state == "exhausted" and message.next_attempt_at is None


def test_an_attempt_cut_by_a_crash_is_made_again(setup: Setup, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    [msg] = setup.enqueue()
    assert setup.store.claim(msg)  # in flight when the process died
    assert setup.store.due(T0, per_endpoint=4) == []
    setup.run()  # a new process: in-flight messages are due again
    assert [r.headers["webhook-id"] for r, _ in httpserver.log] == [msg]


def test_disabled_endpoints_keep_their_queue_until_enabled(
    setup: Setup, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    setup.store.set_enabled(setup.endpoint.id, False, now=T0)
    setup.enqueue(2)
    setup.run()
    assert httpserver.log == []
    setup.store.set_enabled(setup.endpoint.id, True, now=T0)
    setup.run()
    assert len(httpserver.log) == 2


def test_the_dispatcher_thread_wakes_up_for_new_messages(
    setup: Setup, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    dispatcher = Dispatcher(setup.store, DeliveryPolicy(poll_interval=30), LOCAL)
    dispatcher.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        setup.time.now = time.time()
        setup.enqueue()
        dispatcher.wake()
        while not httpserver.log and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert httpserver.log, "delivered"
        assert time.monotonic() - started < 2  # woken, not after the 30 s poll
    finally:
        dispatcher.stop()


def test_secrets_are_encrypted_at_rest(setup: Setup, tmp_path: Path) -> None:
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("meta.db*"))
    key = base64.b64decode(setup.secret.removeprefix("whsec_"))
    assert setup.secret.encode() not in raw
    assert setup.secret.removeprefix("whsec_").encode() not in raw
    assert key not in raw
    assert setup.store.signing_secrets(setup.endpoint.id, now=T0) == [setup.secret]
