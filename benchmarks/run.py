# pyright: basic
"""Benchmark our client beside posthog, segment-analytics-python and mixpanel, in one command.

Usage (with the benchmark venv, see run.sh)::

    benchmarks/run.sh            # creates benchmarks/.venv if missing, then runs this
    benchmarks/.venv/bin/python benchmarks/run.py [--quick] [--json results.json]

A counting HTTP sink (sink.py) runs in its own process on 127.0.0.1; every cell (one client, one
scenario) runs in a fresh interpreter (cells.py). Prints a markdown table, the ratios of our
client to the best peer, the spec's targets and the machine it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = ["ours", "posthog", "segment", "mixpanel"]
PEER_MODULES = {"posthog": "posthog", "segment": "segment.analytics", "mixpanel": "mixpanel"}
LABELS = {
    "ours": "ours (openpanel-core)",
    "posthog": "posthog",
    "segment": "segment",
    "mixpanel": "mixpanel (Buffered)",
}
SCENARIOS = ["call", "fast", "slow", "rss", "exit"]
EXIT_EVENTS = 1234
OUR_SHUTDOWN_TIMEOUT = 2.0  # ClientCore's default shutdown_timeout

Result = dict[str, Any]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def clean_env() -> dict[str, str]:
    """The environment for cells, without settings that would change a client's behaviour."""
    drop = ("OPENPANEL_", "POSTHOG_", "SEGMENT_", "MIXPANEL_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


class Sink:
    """The sink process (sink.py) and a reader of its tallies."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "sink.py")],
            stdout=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        assert self.proc.stdout is not None
        port = self.proc.stdout.readline().strip()
        if not port:
            raise RuntimeError("the sink did not start")
        self.url = f"http://127.0.0.1:{port}"

    def stats(self, tag: str) -> Result:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_stats/{tag}", timeout=5) as r:
            data: Result = json.loads(r.read())
            return data

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_cell(
    sink: Sink,
    scenario: str,
    client: str,
    *,
    mode: str,
    n: int,
    timeout: float,
    cap: float = 60.0,
    big_queue: bool = True,
) -> Result:
    """Run one cell in a fresh interpreter; return its JSON result (or an error)."""
    tag = f"{scenario}-{mode}-{client}-{time.monotonic_ns()}"
    cmd = [
        sys.executable,
        str(HERE / "cells.py"),
        scenario,
        client,
        "--sink",
        sink.url,
        "--tag",
        tag,
        "--mode",
        mode,
        "--n",
        str(n),
        "--cap",
        str(cap),
    ]
    if big_queue:
        cmd.append("--big-queue")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=clean_env(), check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"cell timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    result: Result = json.loads(lines[-1])
    result["cell_s"] = time.monotonic() - t0
    if proc.stderr.strip():
        result["stderr"] = proc.stderr.strip()[-400:]
    return result


def run_exit_cell(sink: Sink, client: str) -> Result:
    """Track 1234 events to the slow sink and exit without flush: what arrived, how long."""
    tag = f"exit-{client}-{time.monotonic_ns()}"
    cmd = [
        sys.executable,
        str(HERE / "cells.py"),
        "exit",
        client,
        "--sink",
        sink.url,
        "--tag",
        tag,
        "--mode",
        "slow",
        "--n",
        str(EXIT_EVENTS),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    timed_out = False
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    t_end = time.monotonic()
    stderr = proc.stderr.read() if proc.stderr else ""
    if not line:
        return {"error": f"exit {proc.returncode}: {stderr.strip()[-400:]}"}
    result: Result = json.loads(line)
    time.sleep(0.3)  # let the sink finish parsing anything it had received
    stats = sink.stats(tag)
    result.update(
        sent=EXIT_EVENTS,
        delivered=stats["events"],
        acked=stats["acked"],
        unique=stats["unique"],
        exit_s=t_end - result["t_last"],
        timed_out=timed_out,
        returncode=proc.returncode,
    )
    if stderr.strip():
        result["stderr"] = stderr.strip()[-400:]
    return result


# ------------------------------------------------------------------------------------ output


def _num(v: float, digits: int = 1) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def _ratio_of(delivered: int, sent: int) -> str:
    return f"{delivered}/{sent}"


def cell_text(r: Result | None, fmt: Callable[[Result], str]) -> str:
    if r is None:
        return "-"
    if "na" in r:
        return f"n/a ({r['na']})"
    if "error" in r and r.get("error") and "sent" not in r and "calls" not in r:
        return "error"
    try:
        return fmt(r)
    except (KeyError, TypeError, ZeroDivisionError):
        return "error"


ROWS: list[tuple[str, str, Callable[[Result], str]]] = [
    ("version", "call", lambda r: str(r["version"])),
    ("caller cost p50, µs (per call, sender on)", "call", lambda r: f"{r['p50_us']:.2f}"),
    ("caller cost p99, µs", "call", lambda r: _num(r["p99_us"], 2)),
    ("caller cost mean, µs", "call", lambda r: _num(r["mean_us"], 2)),
    (
        "caller loop wall / calls, µs (incl. building the event)",
        "call",
        lambda r: f"{r['loop_s'] / r['calls'] * 1e6:.2f}",
    ),
    ("calls timed", "call", lambda r: f"{r['calls']:,}"),
    ("delivered events/s, fast sink", "fast", lambda r: f"{r['events_per_s']:,.0f}"),
    ("  delivered / sent", "fast", lambda r: _ratio_of(r["delivered"], r["sent"])),
    ("  events per request", "fast", lambda r: f"{r['delivered'] / r['requests']:.0f}"),
    ("  enqueue phase, s", "fast", lambda r: f"{r['enqueue_s']:.2f}"),
    ("  client CPU per event, µs", "fast", lambda r: f"{r['cpu_us_per_event']:.1f}"),
    ("  peak RSS, MiB", "fast", lambda r: f"{r['peak_rss_mib']:.0f}"),
    ("delivered events/s, 100 ms sink", "slow", lambda r: f"{r['events_per_s']:,.0f}"),
    ("  delivered / sent", "slow", lambda r: _ratio_of(r["delivered"], r["sent"])),
    ("  events per request", "slow", lambda r: f"{r['delivered'] / r['requests']:.0f}"),
    ("RSS per queued event, bytes", "rss", lambda r: f"{r['bytes_per_event']:,.0f}"),
    ("  RSS growth for the queue, MiB", "rss", lambda r: f"{r['growth_mib']:.1f}"),
    ("exit without flush: delivered", "exit", lambda r: _ratio_of(r["delivered"], r["sent"])),
    ("  exit took, s", "exit", lambda r: f"{r['exit_s']:.2f}"),
]


def table(results: dict[str, dict[str, Result]], clients: list[str], args: Any) -> str:
    head = ["metric", *[LABELS[c] for c in clients]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, scenario, fmt in ROWS:
        if scenario not in results:
            continue
        cells = [cell_text(results[scenario].get(c), fmt) for c in clients]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)


def _best(
    results: dict[str, dict[str, Result]], scenario: str, key: str, lower: bool
) -> tuple[str, float] | None:
    vals = [
        (c, float(r[key]))
        for c, r in results.get(scenario, {}).items()
        if c != "ours" and isinstance(r.get(key), (int, float)) and r.get(key)
    ]
    if not vals:
        return None
    return (min if lower else max)(vals, key=lambda cv: cv[1])


def ratios_and_targets(results: dict[str, dict[str, Result]]) -> list[str]:
    ours = {s: results.get(s, {}).get("ours", {}) for s in SCENARIOS}
    parts: list[str] = []
    targets: list[str] = []

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if "p50_us" in ours["call"]:
        p50 = ours["call"]["p50_us"]
        best = _best(results, "call", "p50_us", lower=True)
        if best:
            parts.append(f"caller p50 {best[1] / p50:.1f}x lower than {best[0]} ({best[1]:.2f} µs)")
        targets.append(f"caller cost ≤ 3 µs median: {p50:.2f} µs, {met(p50 <= 3.0)}")
    for scenario, label in (("fast", "fast sink"), ("slow", "100 ms sink")):
        r = ours[scenario]
        if "events_per_s" not in r:
            continue
        best = _best(results, scenario, "events_per_s", lower=False)
        if best:
            x = r["events_per_s"] / best[1]
            parts.append(f"{label} {x:.1f}x the events/s of {best[0]}")
            complete = r["delivered"] >= r["sent"]
            targets.append(
                f"≥ 5x best peer's delivered events/s, {label}: {x:.1f}x "
                f"({r['events_per_s']:,.0f} vs {best[1]:,.0f}/s, "
                f"{r['delivered']}/{r['sent']} delivered), {met(x >= 5 and complete)}"
            )
    if "bytes_per_event" in ours["rss"]:
        b = ours["rss"]["bytes_per_event"]
        best = _best(results, "rss", "bytes_per_event", lower=True)
        if best:
            parts.append(f"{best[1] / b:.1f}x less memory per queued event than {best[0]}")
        targets.append(f"≤ 1 KB (1024 B) per queued event: {b:,.0f} B, {met(b <= 1024)}")
    r = ours["exit"]
    if "delivered" in r:
        peers = [
            (c, x["delivered"])
            for c, x in results["exit"].items()
            if c != "ours" and "delivered" in x
        ]
        if peers:
            c, d = max(peers, key=lambda cv: cv[1])
            parts.append(f"exit delivered {r['delivered']}/{r['sent']} vs {d}/{r['sent']} ({c})")
        ok = r["delivered"] >= r["sent"] and r["exit_s"] <= OUR_SHUTDOWN_TIMEOUT
        targets.append(
            f"100% delivered at exit within the {OUR_SHUTDOWN_TIMEOUT:.0f} s drain budget: "
            f"{r['delivered']}/{r['sent']} in {r['exit_s']:.2f} s, {met(ok)}"
        )
    out = ["**Ours vs best peer:** " + "; ".join(parts) + "." if parts else ""]
    if targets:
        out += ["", "**Spec targets:**", *[f"- {t}" for t in targets]]
    return out


def source_info() -> str:
    """Which openpanel-core was measured: the commit, and whether the work tree differs."""
    root = HERE.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "packages/core/src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "openpanel-core: source revision unknown"
    extra = f" plus {len(dirty)} uncommitted file(s) in packages/core/src" if dirty else ""
    return f"openpanel-core measured from the work tree at {sha}{extra}"


def machine_info(started: float, load_before: str, source_before: str) -> list[str]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load_after = " ".join(f.read().split()[:3])
    except OSError:
        load_after = "?"
    return [
        f"**Machine:** Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}; "
        f"load average before {load_before}, after {load_after}; "
        f"run took {time.monotonic() - started:.0f} s; "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {source_before}"
        + ("" if source_info() == source_before else " (CHANGED during the run!)")
        + ".",
    ]


# -------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller N (about 1 minute)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()

    started = time.monotonic()
    source_before = source_info()
    try:
        with open("/proc/loadavg") as f:
            load_before = " ".join(f.read().split()[:3])
    except OSError:
        load_before = "?"
    clients = [c for c in args.clients.split(",") if c]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for c in list(clients):
        mod = PEER_MODULES.get(c)
        if mod and importlib.util.find_spec(mod.split(".")[0]) is None:
            log(f"{c}: not installed in {sys.executable}; use benchmarks/run.sh. Skipped.")
            clients.remove(c)
    q = args.quick
    n_call = 20_000 if q else 200_000
    n_fast = 20_000 if q else 100_000
    n_slow, cap_slow = (5_000, 10.0) if q else (20_000, 30.0)
    n_rss = 20_000 if q else 100_000

    results: dict[str, dict[str, Result]] = {}
    sink = Sink()
    try:
        if "call" in scenarios:
            results["call"] = {}
            noop = run_cell(sink, "call", "noop", mode="fast", n=n_call, timeout=120)
            results["call_noop"] = {"noop": noop}
            for c in clients:
                log(f"call: {c} ({n_call:,} calls)")
                results["call"][c] = run_cell(sink, "call", c, mode="fast", n=n_call, timeout=300)
        if "fast" in scenarios:
            results["fast"] = {}
            for c in clients:
                log(f"e2e fast sink: {c} ({n_fast:,} events)")
                results["fast"][c] = run_cell(
                    sink, "e2e", c, mode="fast", n=n_fast, cap=60.0, timeout=120
                )
        if "slow" in scenarios:
            results["slow"] = {}
            for c in clients:
                log(f"e2e 100 ms sink: {c} ({n_slow:,} events, cap {cap_slow:.0f} s)")
                results["slow"][c] = run_cell(
                    sink, "e2e", c, mode="slow", n=n_slow, cap=cap_slow, timeout=cap_slow + 60
                )
        if "rss" in scenarios:
            results["rss"] = {}
            for c in clients:
                if c == "mixpanel":
                    results["rss"][c] = {"na": "no queue: track() blocks on the stalled request"}
                    continue
                log(f"rss: {c} ({n_rss:,} events queued, sender stalled)")
                results["rss"][c] = run_cell(sink, "rss", c, mode="stall", n=n_rss, timeout=180)
        if "exit" in scenarios:
            results["exit"] = {}
            for c in clients:
                log(f"exit: {c} ({EXIT_EVENTS} events, 100 ms sink, no flush)")
                results["exit"][c] = run_exit_cell(sink, c)
    finally:
        sink.close()

    out: list[str] = ["", table(results, clients, args), ""]
    noop = results.get("call_noop", {}).get("noop", {})
    if "p50_us" in noop:
        out.append(
            f"Caller cost is timed per call (`perf_counter_ns` around each call); the harness alone "
            f"(timer + wrapper around a no-op) measures p50 {noop['p50_us']:.2f} µs, "
            f"p99 {noop['p99_us']:.2f} µs, loop wall / calls "
            f"{noop['loop_s'] / noop['calls'] * 1e6:.2f} µs, and is included in every column."
        )
        out.append("")
    out += ratios_and_targets(results)
    out.append("")
    problems = [
        f"- {s}/{c}: {r.get('error') or r.get('stderr')}"
        for s, by_client in results.items()
        for c, r in by_client.items()
        if r.get("error") or (r.get("stderr") and s != "exit")
    ]
    if problems:
        out += ["**Errors / stderr:**", *problems, ""]
    out += machine_info(started, load_before, source_before)
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        log(f"raw results written to {args.json}")


if __name__ == "__main__":
    main()
