# pyright: basic
"""One benchmark cell (one client, one scenario) in a fresh interpreter.

Run by ``run.py``: ``python cells.py SCENARIO CLIENT --sink URL --tag TAG [--n N] ...``. Prints one
JSON object on its last stdout line. Peers are imported only here, and only the one measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EVENT = "button_clicked"
USERS = [f"user-{i}" for i in range(1000)]
BIG_QUEUE = 1_000_000

TrackFn = Callable[[str, dict[str, Any]], None]


def props(i: int) -> dict[str, Any]:
    """The 4 properties every client sends (a fresh dict per call, as an application would)."""
    return {"plan": "pro", "price": 9.99, "count": i, "source": "benchmark"}


@dataclass
class Adapter:
    """What a scenario needs from a client."""

    version: str
    track: TrackFn
    flush: Callable[[], None]
    extra: Callable[[], dict[str, Any]]


def _none() -> dict[str, Any]:
    return {}


def make_ours(url: str, big_queue: bool) -> Adapter:
    from openpanel_core import OpenPanel, __version__

    options: dict[str, Any] = {}
    if big_queue:
        options.update(max_queue_size=BIG_QUEUE, max_queue_bytes=1 << 34)
    client = OpenPanel(client_id="bench", api_url=url, **options)
    track_ = client.track

    def track(uid: str, p: dict[str, Any]) -> None:
        track_(EVENT, p, profile_id=uid)

    def stats() -> dict[str, Any]:
        s = client.stats
        return {
            "client_delivered": s.delivered,
            "client_dropped": s.dropped,
            "client_failed": s.failed,
            "client_retried": s.retried,
            "client_queued": s.queued,
            "client_in_flight": s.in_flight,
        }

    def flush() -> None:
        client.flush(timeout=None)

    return Adapter(__version__, track, flush, stats)


def make_posthog(url: str, big_queue: bool) -> Adapter:
    import posthog  # pyright: ignore[reportMissingImports]
    from posthog import Posthog  # pyright: ignore[reportMissingImports]

    options: dict[str, Any] = {"max_queue_size": BIG_QUEUE} if big_queue else {}
    client = Posthog("phc_bench", host=url, **options)
    capture = client.capture

    def track(uid: str, p: dict[str, Any]) -> None:
        capture(EVENT, distinct_id=uid, properties=p)

    return Adapter(posthog.VERSION, track, lambda: client.flush(timeout_seconds=None), _none)


def make_segment(url: str, big_queue: bool) -> Adapter:
    from segment.analytics import (  # pyright: ignore[reportMissingImports]
        VERSION,
        Client,
    )

    options: dict[str, Any] = {"max_queue_size": BIG_QUEUE} if big_queue else {}
    client = Client("bench-write-key", host=url, **options)
    track_ = client.track

    def track(uid: str, p: dict[str, Any]) -> None:
        track_(user_id=uid, event=EVENT, properties=p)

    return Adapter(VERSION, track, client.flush, _none)


def make_mixpanel(url: str, big_queue: bool) -> Adapter:
    import mixpanel  # pyright: ignore[reportMissingImports]

    consumer = mixpanel.BufferedConsumer(events_url=url + "/mp/track")
    mp = mixpanel.Mixpanel("bench-token", consumer=consumer)
    track_ = mp.track

    def track(uid: str, p: dict[str, Any]) -> None:
        track_(uid, EVENT, p)

    return Adapter(mixpanel.__version__, track, consumer.flush, _none)


def make_noop(url: str, big_queue: bool) -> Adapter:
    def call(uid: str, p: dict[str, Any]) -> None:
        pass

    def track(uid: str, p: dict[str, Any]) -> None:
        call(uid, p)

    return Adapter("-", track, lambda: None, _none)


MAKERS: dict[str, Callable[[str, bool], Adapter]] = {
    "ours": make_ours,
    "posthog": make_posthog,
    "segment": make_segment,
    "mixpanel": make_mixpanel,
    "noop": make_noop,
}


def sink_stats(sink: str, tag: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{sink}/_stats/{tag}", timeout=5) as r:
        data: dict[str, Any] = json.loads(r.read())
        return data


def vmrss() -> int:
    """Resident set size in bytes, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds() -> float:
    """CPU time (user + system) this process used so far, all threads."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def percentile(sorted_values: list[int], q: float) -> float:
    idx = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return float(sorted_values[idx])


# ---------------------------------------------------------------------------------- scenarios


def scenario_call(a: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """Caller-thread cost, each call timed with perf_counter_ns; the sender runs meanwhile."""
    track = a.track
    users = USERS
    pc = time.perf_counter_ns
    for i in range(1000):  # warm-up: threads started, connections open
        track(users[i % 1000], props(i))
    n = args.n
    samples = [0] * n
    start = pc()
    for i in range(n):
        uid = users[i % 1000]
        p = props(i)
        t0 = pc()
        track(uid, p)
        samples[i] = pc() - t0
    wall = pc() - start
    samples.sort()
    return {
        "calls": n,
        "p50_us": percentile(samples, 0.5) / 1000,
        "p99_us": percentile(samples, 0.99) / 1000,
        "max_us": samples[-1] / 1000,
        "mean_us": sum(samples) / n / 1000,
        "loop_s": wall / 1e9,
        **a.extra(),
    }


def scenario_e2e(a: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """Send N as fast as possible, flush, wait until the sink counted them (or the deadline)."""
    track = a.track
    users = USERS
    n = args.n
    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    deadline = t0 + args.cap
    sent = 0
    error = None
    try:
        for i in range(n):
            track(users[i % 1000], props(i))
            sent += 1
            if i % 256 == 0 and time.monotonic() > deadline:
                break
    except Exception as exc:  # a peer that raises into the caller
        error = f"{type(exc).__name__}: {exc}"[:200]
    t_enqueued = time.monotonic()
    flusher = threading.Thread(target=a.flush, daemon=True)
    flusher.start()
    flusher.join(max(0.0, deadline - time.monotonic()))
    flushed = not flusher.is_alive()
    t_flushed = time.monotonic()
    stats = sink_stats(args.sink, args.tag)
    while stats["acked"] < sent and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = sink_stats(args.sink, args.tag)
    cpu = cpu_seconds() - cpu0
    time.sleep(0.05)
    stats = sink_stats(args.sink, args.tag)
    # Delivered = answered by the sink: the request made its full round trip.
    last = stats["last_ack"] or t0
    delivered = stats["acked"]
    return {
        "sent": sent,
        "attempted": n,
        "delivered": delivered,
        "received": stats["events"],
        "unique": stats["unique"],
        "requests": stats["requests"],
        "max_batch": stats["max_batch"],
        "sink_errors": stats["errors"],
        "events_per_s": delivered / (last - t0) if delivered else 0.0,
        "enqueue_s": t_enqueued - t0,
        "flush_s": t_flushed - t_enqueued,
        "flush_returned": flushed,
        "complete": delivered >= sent and stats["unique"] >= sent,
        "peak_rss_mib": peak_rss() / 2**20,
        "cpu_s": cpu,
        "cpu_us_per_event": cpu / delivered * 1e6 if delivered else None,
        "error": error,
        **a.extra(),
    }


def scenario_rss(a: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    """RSS growth with N events queued while the sender is stuck on a request that never ends."""
    track = a.track
    users = USERS
    for i in range(200):  # starts the sender, which then hangs on the stalled sink
        track(users[i % 1000], props(i))
    time.sleep(0.5)
    gc.collect()
    before = vmrss()
    n = args.n
    t0 = time.monotonic()
    for i in range(n):
        track(users[i % 1000], props(i))
    enqueue_s = time.monotonic() - t0
    time.sleep(0.5)  # let the sender take whatever it can
    after = vmrss()
    return {
        "queued": n,
        "rss_before_mib": before / 2**20,
        "rss_after_mib": after / 2**20,
        "growth_mib": (after - before) / 2**20,
        "bytes_per_event": (after - before) / n,
        "enqueue_s": enqueue_s,
        **a.extra(),
    }


def scenario_exit(a: Adapter, args: argparse.Namespace) -> dict[str, Any] | None:
    """Track N against the slow sink, then let the interpreter exit without any flush.

    Prints the time of the last call; run.py times the exit and reads the sink.
    """
    track = a.track
    users = USERS
    for i in range(args.n):
        track(users[i % 1000], props(i))
    print(json.dumps({"t_last": time.monotonic(), "version": a.version, **a.extra()}), flush=True)
    return None


SCENARIOS: dict[str, Callable[[Adapter, argparse.Namespace], dict[str, Any] | None]] = {
    "call": scenario_call,
    "e2e": scenario_e2e,
    "rss": scenario_rss,
    "exit": scenario_exit,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("client", choices=sorted(MAKERS))
    parser.add_argument("--sink", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--mode", default="fast", choices=["fast", "slow", "stall"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--cap", type=float, default=60.0, help="e2e: seconds before giving up")
    parser.add_argument("--big-queue", action="store_true")
    args = parser.parse_args()
    url = f"{args.sink}/r/{args.tag}/{args.mode}"
    adapter = MAKERS[args.client](url, args.big_queue)
    result = SCENARIOS[args.scenario](adapter, args)
    if result is None:  # exit: leave through the interpreter's normal exit path
        return
    result["version"] = adapter.version
    print(json.dumps(result), flush=True)
    sys.stderr.flush()
    # Skip atexit: the sender may be mid-send, and how exit behaves is the "exit" scenario's job.
    os._exit(0)


if __name__ == "__main__":
    main()
