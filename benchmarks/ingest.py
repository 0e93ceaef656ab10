"""Ingestion throughput of the reference server (``openpanel-server``) on this machine.

Usage, from the repository root (needs only the workspace venv)::

    .tools/bin/uv run --no-sync python benchmarks/ingest.py            # about 2 minutes
    .tools/bin/uv run --no-sync python benchmarks/ingest.py --quick    # about 40 seconds

The server runs in its own process on a fresh temporary data folder (embedded chDB, write-ahead
log with fsync), started as ``python -m openpanel_server serve``. Every load runs in a separate
process (this script re-executed with ``--load``), so the load generator and the server do not
share a GIL; on a 2-core machine they do share the two cores. Measured:

* single ``POST /track`` requests per second: keep-alive connections driven by a minimal
  asyncio HTTP/1.1 client (the cheapest load Python can make), by ``httpx.AsyncClient`` for
  comparison, and by ``wrk`` (with a Lua script for the POST bodies) when it is installed;
* events per second through ``/track/batch``: gzip'd JSON arrays of 500 or 1000 items (each with
  a unique idempotency id), several requests in flight;
* the server's resident memory (``VmRSS`` of ``/proc/<pid>/status``) idle and under load.

Server CPU and memory include the server's ingestion worker processes (``--ingest-workers``
sets how many; ``0`` keeps everything in one process).

After the loads every acknowledged event is counted back through ``/export/events``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gzip
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UA = "openpanel-bench/1.0"  # a name/version agent: a server caller (no session)
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
SINGLE_TARGET = 2_000.0  # requests/s, from the issue
BATCH_TARGET = 50_000.0  # events/s, from the issue

Result = dict[str, Any]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (the server and its ingestion workers)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    todo += [
                        int(c)
                        for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()
                    ]
    return out


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and its descendants in KiB (0 when the process is gone)."""
    total = 0
    for member in family(pid):
        try:
            text = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and its descendants (all threads), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class Server:
    """``python -m openpanel_server serve`` on a free port and a temporary data folder."""

    def __init__(self, data_dir: Path, ingest_workers: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPANEL_SERVER_")}
        if ingest_workers is not None:
            env["OPENPANEL_SERVER_INGEST_WORKERS"] = str(ingest_workers)
        cmd = [sys.executable, "-m", "openpanel_server", "--data-dir", str(data_dir)]
        cmd += ["serve", "--port", str(self.port)]
        self.log_path = data_dir.parent / "server.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                msg = f"server exited {self.proc.returncode}: {self.log_path.read_text()}"
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start in 90 s")
            try:
                if httpx.get(f"{self.url}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.creds: dict[str, str] = json.loads((data_dir / "credentials.json").read_text())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write_headers(self) -> dict[str, str]:
        return {
            "openpanel-client-id": self.creds["clientId"],
            "openpanel-client-secret": self.creds["clientSecret"],
        }

    def stored(self, name: str) -> int:
        """How many events called ``name`` the export reports (it flushes the log first)."""
        r = httpx.get(
            f"{self.url}/export/events",
            params={"event": name, "limit": 1},
            headers={
                "openpanel-client-id": self.creds["readClientId"],
                "openpanel-client-secret": self.creds["readClientSecret"],
            },
            timeout=300,
        )
        r.raise_for_status()
        total: int = r.json()["meta"]["totalCount"]
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class RssSampler:
    """Samples the server's VmRSS every 100 ms in a thread (negligible load)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_kib(self.pid))
            self._stop.wait(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self.samples, default=0) / 1024


# ---------------------------------------------------------------------------- load generators
# These run in a child process: ``ingest.py --load '<json spec>'`` prints one JSON line.


@dataclass
class Tally:
    """Completions inside the measured window [start, end]."""

    start: float
    end: float
    requests: int = 0
    events: int = 0
    errors: int = 0
    bad_items: int = 0
    acknowledged: int = 0  # events acknowledged at any time (warm-up included)
    latencies: list[float] = field(default_factory=list[float])
    statuses: dict[int, int] = field(default_factory=dict[int, int])

    def done(self, t0: float, t1: float, status: int, events: int, bad_items: int = 0) -> None:
        if status == 200:
            self.acknowledged += events
        if t1 < self.start or t1 > self.end:
            return
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200:
            self.events += events
            self.bad_items += bad_items
        else:
            self.errors += 1
        self.latencies.append(t1 - t0)

    def result(self) -> Result:
        window = self.end - self.start
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0.0

        return {
            "window_s": window,
            "requests": self.requests,
            "events": self.events,
            "errors": self.errors,
            "bad_items": self.bad_items,
            "acknowledged": self.acknowledged,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "req_per_s": self.requests / window,
            "events_per_s": self.events / window,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
        }


def _track_body(name: str, seq: int) -> bytes:
    body = {"type": "track", "payload": {"name": name, "properties": {"seq": seq, "plan": "pro"}}}
    return json.dumps(body, separators=(",", ":")).encode()


def _batch_body(name: str, first_seq: int, size: int, prefix: str) -> bytes:
    items = [
        {
            "id": f"{prefix}-{first_seq + i}",
            "type": "track",
            "payload": {"name": name, "properties": {"seq": first_seq + i, "plan": "pro"}},
            "ip": "203.0.113.7",
            "userAgent": UA,
        }
        for i in range(size)
    ]
    return gzip.compress(json.dumps(items, separators=(",", ":")).encode(), compresslevel=6)


def _request_bytes(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


def _batch_outcome(status: int, body: bytes, size: int) -> tuple[int, int]:
    """(events acknowledged, items not acknowledged) of one batch answer."""
    if status != 200:
        return 0, 0
    results = cast("list[dict[str, Any]]", json.loads(body)["results"])
    ok = sum(1 for r in results if r.get("status") == 200)
    return ok, size - ok


async def _raw_load(spec: Result) -> Result:
    """Keep-alive connections, one request in flight on each, hand-made HTTP/1.1."""
    host, port = "127.0.0.1", int(spec["port"])
    mode: str = spec["mode"]
    size = int(spec.get("batch_size", 1))
    headers: dict[str, str] = dict(spec["headers"])
    headers["content-type"] = "application/json"
    headers.setdefault("user-agent", UA)
    path = "/track"
    if mode == "batch":
        path = "/track/batch"
        headers["content-encoding"] = "gzip"
    now = time.perf_counter()
    tally = Tally(now + spec["warmup"], now + spec["warmup"] + spec["duration"])
    counter = iter(range(1, 1 << 62))
    prefix = uuid.uuid4().hex[:12]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        sock = cast("socket.socket", writer.get_extra_info("socket"))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while time.perf_counter() < tally.end:
                if mode == "batch":
                    first = next(counter) * size
                    body = _batch_body(spec["name"], first, size, prefix)
                    data = _request_bytes(host, path, headers, body)
                else:
                    seq = next(counter)
                    body = _track_body(spec["name"], seq)
                    if spec.get("event_ids"):  # as the Python client sends on /track
                        headers["openpanel-event-id"] = f"{prefix}-{seq}"
                    data = _request_bytes(host, path, headers, body)
                t0 = time.perf_counter()
                writer.write(data)
                status, answer = await _read_response(reader)
                t1 = time.perf_counter()
                if mode == "batch":
                    ok, bad = _batch_outcome(status, answer, size)
                    tally.done(t0, t1, status, ok, bad)
                else:
                    tally.done(t0, t1, status, 1)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(int(spec["connections"]))))
    return tally.result()


async def _httpx_load(spec: Result) -> Result:
    """``httpx.AsyncClient`` with N concurrent tasks (what an application would likely use)."""
    headers: dict[str, str] = dict(spec["headers"])
    headers["content-type"] = "application/json"
    headers["user-agent"] = UA
    limits = httpx.Limits(max_connections=int(spec["connections"]))
    now = time.perf_counter()
    tally = Tally(now + spec["warmup"], now + spec["warmup"] + spec["duration"])
    counter = iter(range(1, 1 << 62))
    async with httpx.AsyncClient(base_url=spec["url"], headers=headers, limits=limits) as client:

        async def task() -> None:
            while time.perf_counter() < tally.end:
                body = _track_body(spec["name"], next(counter))
                t0 = time.perf_counter()
                r = await client.post("/track", content=body)
                tally.done(t0, time.perf_counter(), r.status_code, 1)

        await asyncio.gather(*(task() for _ in range(int(spec["connections"]))))
    return tally.result()


def run_load(spec: Result) -> Result:
    fn = _httpx_load if spec["client"] == "httpx" else _raw_load
    cpu0 = time.process_time()
    result = asyncio.run(fn(spec))
    result["loadgen_cpu_s"] = time.process_time() - cpu0
    return result


# ---------------------------------------------------------------------------- wrk

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["user-agent"] = "%(ua)s"
wrk.headers["openpanel-client-id"] = "%(client_id)s"
wrk.headers["openpanel-client-secret"] = "%(secret)s"
local seq = 0
request = function()
  seq = seq + 1
  local body = '{"type":"track","payload":{"name":"%(name)s","properties":{"seq":' .. seq ..
    ',"plan":"pro"}}}'
  return wrk.format(nil, "/track", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(
    server: Server, name: str, connections: int, duration: float, warmup: float
) -> Result | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = server.data_dir.parent / f"{name}.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "ua": UA,
            "client_id": server.creds["clientId"],
            "secret": server.creds["clientSecret"],
            "name": name,
        }
    )

    def wrk_run(seconds: float) -> str:
        cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        cmd += ["--timeout", "10s", "-s", str(script), f"{server.url}/track"]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    first = wrk_run(warmup)  # warm-up (its events are stored too: counted as acknowledged)
    out = wrk_run(duration)

    def parse(text: str) -> dict[str, int]:
        line = next(x for x in text.splitlines() if x.startswith("WRKJSON "))
        return cast("dict[str, int]", json.loads(line.removeprefix("WRKJSON ")))

    raw = parse(out)
    warm = parse(first)
    window = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    ok = raw["requests"] - raw["status"]
    return {
        "window_s": window,
        "requests": raw["requests"],
        "events": ok,
        "errors": errors,
        "bad_items": 0,
        "acknowledged": ok + warm["requests"] - warm["status"],
        "req_per_s": raw["requests"] / window,
        "events_per_s": ok / window,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


# ---------------------------------------------------------------------------- orchestration


@dataclass
class Cell:
    label: str
    kind: str  # "single" or "batch"
    client: str  # "raw", "httpx" or "wrk"
    connections: int
    batch_size: int = 1
    browser: bool = False  # a web client: browser agent, allowed origin, no secret
    event_ids: bool = False  # an ``openpanel-event-id`` header on every /track request
    result: Result = field(default_factory=dict[str, Any])


def measure(server: Server, cell: Cell, duration: float, warmup: float) -> None:
    name = f"bench_{cell.kind}_{cell.client}_{cell.connections}_{cell.batch_size}"
    headers = server.write_headers()
    if cell.event_ids:
        name += "_ids"
    if cell.browser:
        name += "_browser"
        headers = {
            "openpanel-client-id": server.creds["clientId"],
            "origin": "http://localhost:3000",
            "user-agent": BROWSER_UA,
        }
    cpu0 = cpu_seconds(server.pid)
    t0 = time.monotonic()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with RssSampler(server.pid) as rss:
        if cell.client == "wrk":
            result = run_wrk(server, name, cell.connections, duration, warmup)
            if result is None:
                cell.result = {"skipped": "wrk is not installed (apt-get install wrk)"}
                return
        else:
            spec = {
                "mode": "batch" if cell.kind == "batch" else "track",
                "client": cell.client,
                "port": server.port,
                "url": server.url,
                "headers": headers,
                "connections": cell.connections,
                "batch_size": cell.batch_size,
                "event_ids": cell.event_ids,
                "duration": duration,
                "warmup": warmup,
                "name": name,
            }
            cmd = [sys.executable, str(Path(__file__).resolve()), "--load", json.dumps(spec)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            result = cast("Result", json.loads(out.strip().splitlines()[-1]))
        # Server and load generator CPU over the whole cell (warm-up included), in cores.
        wall = time.monotonic() - t0
        result["server_cpu_cores"] = (cpu_seconds(server.pid) - cpu0) / wall
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        loadgen = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
        result["loadgen_cpu_cores"] = loadgen / wall
        time.sleep(0.6)  # one flush interval: the flusher's work for these events counts too
    used = cpu_seconds(server.pid) - cpu0
    result["server_cpu_us_per_event"] = used / max(1, int(result["acknowledged"])) * 1e6
    result["rss_peak_mib"] = rss.peak_mib
    result["name"] = name
    cell.result = result


def cells(quick: bool) -> list[Cell]:
    out = [
        Cell("single `/track`, asyncio raw HTTP, 8 connections", "single", "raw", 8),
        Cell("single `/track`, asyncio raw HTTP, 32 connections", "single", "raw", 32),
        Cell(
            "single `/track` with `openpanel-event-id` (as the Python client), raw, 8 connections",
            "single",
            "raw",
            8,
            event_ids=True,
        ),
        Cell(
            "single `/track` as a browser (origin, Safari agent, sessions), raw, 8 connections",
            "single",
            "raw",
            8,
            browser=True,
        ),
        Cell("single `/track`, httpx.AsyncClient, 8 connections", "single", "httpx", 8),
        Cell("single `/track`, wrk -t1, 8 connections", "single", "wrk", 8),
        Cell("single `/track`, wrk -t1, 32 connections", "single", "wrk", 32),
        Cell("`/track/batch` 500 events gzip, 4 in flight", "batch", "raw", 4, 500),
        Cell("`/track/batch` 1000 events gzip, 2 in flight", "batch", "raw", 2, 1000),
        Cell("`/track/batch` 1000 events gzip, 4 in flight", "batch", "raw", 4, 1000),
    ]
    if quick:
        keep = {0, 2, 5, 7, 9}
        out = [c for i, c in enumerate(out) if i in keep]
    return out


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def table(all_cells: list[Cell], idle_mib: float, idle_after_mib: float, idle_cpu: float) -> str:
    rows = [
        "| load | rate | p50 / p99 latency, ms | errors | server CPU, cores "
        "| server CPU per event, µs | load generator CPU, cores | server RSS peak, MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in all_cells:
        r = c.result
        if "skipped" in r:
            rows.append(f"| {c.label} | skipped: {r['skipped']} | | | | | | |")
            continue
        if c.kind == "batch":
            rate = f"**{fmt(r['events_per_s'])} events/s** ({fmt(r['req_per_s'], 1)} req/s)"
        else:
            rate = f"**{fmt(r['req_per_s'])} req/s**"
        errors = str(r["errors"])
        if r.get("bad_items"):
            errors += f" (+{r['bad_items']} items refused)"
        rows.append(
            f"| {c.label} | {rate} | {fmt(r['p50_ms'], 1)} / {fmt(r['p99_ms'], 1)} | {errors} "
            f"| {fmt(r['server_cpu_cores'], 2)} | {fmt(r['server_cpu_us_per_event'])} "
            f"| {fmt(r['loadgen_cpu_cores'], 2)} | {fmt(r['rss_peak_mib'])} |"
        )
    rows.append(f"| idle, after start | | | | {fmt(idle_cpu, 2)} | | | {fmt(idle_mib)} |")
    rows.append(f"| idle, after all loads | | | | | | | {fmt(idle_after_mib)} |")
    return "\n".join(rows)


def targets(all_cells: list[Cell]) -> str:
    single = [
        c.result["req_per_s"] for c in all_cells if c.kind == "single" and c.result.get("req_per_s")
    ]
    batch = [
        c.result["events_per_s"]
        for c in all_cells
        if c.kind == "batch" and c.result.get("events_per_s")
    ]
    best_single = max(single, default=0.0)
    best_batch = max(batch, default=0.0)

    def met(value: float, target: float) -> str:
        return "met" if value >= target else f"**NOT met** ({value / target:.0%} of target)"

    return "\n".join(
        [
            "| target | best measured | met? |",
            "|---|---|---|",
            f"| ≥ {fmt(SINGLE_TARGET)} single `/track` req/s | {fmt(best_single)} "
            f"| {met(best_single, SINGLE_TARGET)} |",
            f"| ≥ {fmt(BATCH_TARGET)} batched events/s | {fmt(best_batch)} "
            f"| {met(best_batch, BATCH_TARGET)} |",
        ]
    )


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "packages/server/src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({model}); "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}; "
        f"openpanel-server at {rev or '?'}{' + uncommitted changes' if dirty else ''}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shorter loads, fewer cells")
    parser.add_argument("--duration", type=float, help="measured seconds per cell")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        help="the server's ingestion worker processes (default: its own, one per core but one;"
        " 0: everything in one process)",
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        print(json.dumps(run_load(cast("Result", json.loads(args.load)))))
        return 0
    duration = args.duration or (3.0 if args.quick else 8.0)
    warmup = 1.0
    tmp = Path(tempfile.mkdtemp(prefix="op-ingest-bench-"))
    server: Server | None = None
    try:
        log(f"starting the server (data in {tmp / 'data'}) ...")
        server = Server(tmp / "data", args.ingest_workers)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(3.0)
        idle_cpu = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
        idle_mib = rss_kib(server.pid) / 1024
        todo = cells(args.quick)
        for cell in todo:
            log(f"  {cell.label} ...")
            measure(server, cell, duration, warmup)
            r = cell.result
            log(
                f"    {r.get('req_per_s', 0):,.0f} req/s, {r.get('events_per_s', 0):,.0f} events/s, "
                f"errors {r.get('errors')}, server CPU {r.get('server_cpu_cores', 0):.2f}"
            )
            time.sleep(1.0)
        # Every acknowledged event must be in the store (the export flushes the log first).
        checks: list[str] = []
        for cell in todo:
            r = cell.result
            if "name" not in r:
                continue
            stored = server.stored(r["name"])
            r["stored"] = stored
            acked = int(r["acknowledged"])
            # wrk stops with requests in flight: those may be stored without an answer.
            if stored < acked or (stored != acked and cell.client != "wrk"):
                checks.append(f"{cell.label}: {stored} stored vs {acked} acknowledged")
        time.sleep(2.0)
        idle_after_mib = rss_kib(server.pid) / 1024
        print(f"**openpanel-server ingestion, {'quick' if args.quick else 'full'} run**\n")
        print(table(todo, idle_mib, idle_after_mib, idle_cpu))
        print()
        print(targets(todo))
        print()
        print(f"Each cell: {warmup:.0f} s warm-up, then {duration:.0f} s measured.")
        print(
            "Stored-event check: "
            + ("every acknowledged event was read back." if not checks else "; ".join(checks))
        )
        workers = "default" if args.ingest_workers is None else str(args.ingest_workers)
        print(f"Server ingestion workers: {workers}; server CPU and RSS include the workers'.")
        print(f"Machine: {machine()}.")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "cells": [{"label": c.label, **c.result} for c in todo],
                        "idle_mib": idle_mib,
                        "idle_cpu_cores": idle_cpu,
                        "idle_after_mib": idle_after_mib,
                    },
                    indent=2,
                )
            )
        return 1 if checks else 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
