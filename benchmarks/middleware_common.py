"""What the three middleware benchmarks share: timing, percentiles, rows, the sink, the machine.

Each ``middleware_<framework>.py`` builds the same app with and without the integration and
hands two callables to :func:`measure` (or :func:`ameasure`), which alternate blocks of
requests between them so drift (CPU frequency, other processes) hits both alike.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

__all__ = ["TARGET_US", "Sink", "ameasure", "cpu", "measure", "p99", "row", "version"]

HERE = Path(__file__).resolve().parent
TARGET_US = 20.0  # the integrations issue's budget: median microseconds added per request


def measure(
    plain: Callable[[], None], instrumented: Callable[[], None], n: int, block: int = 200
) -> tuple[list[float], list[float]]:
    """Per-request microseconds of both, alternating blocks of ``block`` requests."""
    for _ in range(min(2000, n)):  # warm up both
        plain()
        instrumented()
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter_ns
    gc.collect()
    for start in range(0, n, block):
        count = min(block, n - start)
        for fn, out in ((plain, a), (instrumented, b)):
            for _ in range(count):
                t0 = clock()
                fn()
                out.append((clock() - t0) / 1e3)
    return a, b


async def ameasure(
    plain: Callable[[], Awaitable[None]],
    instrumented: Callable[[], Awaitable[None]],
    n: int,
    block: int = 200,
) -> tuple[list[float], list[float]]:
    """:func:`measure` for coroutines (each awaited to completion, one at a time)."""
    for _ in range(min(2000, n)):
        await plain()
        await instrumented()
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter_ns
    gc.collect()
    for start in range(0, n, block):
        count = min(block, n - start)
        for fn, out in ((plain, a), (instrumented, b)):
            for _ in range(count):
                t0 = clock()
                await fn()
                out.append((clock() - t0) / 1e3)
    return a, b


def p99(values: Iterable[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def row(path: str, label: str, a: list[float], b: list[float]) -> dict[str, Any]:
    """One table row: medians and p99s without (``a``) and with (``b``), and what was added."""
    r: dict[str, Any] = {
        "path": path,
        "config": label,
        "plain_median_us": statistics.median(a),
        "with_median_us": statistics.median(b),
        "plain_p99_us": p99(a),
        "with_p99_us": p99(b),
    }
    r["added_median_us"] = r["with_median_us"] - r["plain_median_us"]
    r["added_p99_us"] = r["with_p99_us"] - r["plain_p99_us"]
    print(f"  {path:<20} {label:<44} added median {r['added_median_us']:6.1f} us", file=sys.stderr)
    return r


class Sink:
    """benchmarks/sink.py in its own process (it counts what it received)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "sink.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{self.proc.stdout.readline().strip()}"

    def events(self, tag: str) -> int:
        """Events received under ``/r/<tag>/...``."""
        with urllib.request.urlopen(f"{self.url}/_stats/{tag}", timeout=5) as r:
            count: int = json.loads(r.read())["events"]
            return count

    def close(self) -> None:
        """Stop the sink process."""
        self.proc.terminate()
        self.proc.wait(5)


def version(dist: str) -> str:
    """An installed distribution's version."""
    return _dist_version(dist)


def cpu() -> str:
    """The CPU model, for the result's footer."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
