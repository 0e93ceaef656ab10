"""Run the real server in a subprocess (chDB allows one data folder per process)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

#: A chDB config declaring a 1-shard localhost cluster and its macros, for the cluster-sim
#: layout (Distributed tables over local ones); chDB reads it once per process.
CLUSTER_SIM_CONFIG = """\
<clickhouse>
    <tcp_port>9000</tcp_port>
    <remote_servers>
        <openpanel_sim>
            <shard><replica><host>localhost</host><port>9000</port></replica></shard>
        </openpanel_sim>
    </remote_servers>
    <macros>
        <cluster>openpanel_sim</cluster>
        <shard>1</shard>
        <replica>r1</replica>
        <installation>sim</installation>
    </macros>
</clickhouse>
"""


T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 30.0) -> T:
    """``check()``'s first truthy result, polled every 0.1 s; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    data_dir: Path
    proc: subprocess.Popen[str]
    creds: dict[str, str]

    @property
    def client_id(self) -> str:
        return self.creds["clientId"]

    @property
    def secret(self) -> str:
        return self.creds["clientSecret"]

    def server_headers(self) -> dict[str, str]:
        return {"openpanel-client-id": self.client_id, "openpanel-client-secret": self.secret}

    def read_headers(self) -> dict[str, str]:
        return {
            "openpanel-client-id": self.creds["readClientId"],
            "openpanel-client-secret": self.creds["readClientSecret"],
        }

    def events(self, **params: Any) -> dict[str, Any]:
        params.setdefault("limit", 1000)
        params.setdefault("includes", "properties")
        r = httpx.get(f"{self.url}/export/events", params=params, headers=self.read_headers())
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> RunningServer:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "openpanel_server",
        "--data-dir",
        str(data_dir),
        "serve",
        "--port",
        str(port),
        *extra,
    ]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    environ.update(env or {})
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited {proc.returncode}: {out}")
        try:
            if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("server did not start")
    creds = json.loads((data_dir / "credentials.json").read_text())
    return RunningServer(url, data_dir, proc, creds)


def make_geo_db(path: Path) -> Path:
    """A tiny GeoLite2-City-shaped database: 203.0.113.0/24 is in Stockholm, Sweden."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["203.0.113.0/24"]),
        {
            "country": {"iso_code": "SE", "names": {"en": "Sweden"}},
            "city": {"names": {"en": "Stockholm"}},
            "subdivisions": [{"iso_code": "AB", "names": {"en": "Stockholm County"}}],
            "location": {"latitude": 59.3293, "longitude": 18.0686},
        },
    )
    writer.to_db_file(str(path))
    return path


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A threaded HTTP receiver on 127.0.0.1 that records deliveries and deduplicates by id.

    ``status`` is what it answers; ``processed`` holds each ``webhook-id`` answered with a 2xx
    once, in order (a repeated id is acknowledged but not processed again, as receivers should
    do); ``requests`` has every delivery, repeats included.
    """

    def __init__(self, port: int | None = None, *, status: int = 204, delay: float = 0.0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = status
        self.delay = delay
        self.lock = threading.Lock()
        self.requests: list[ReceivedWebhook] = []
        self.processed: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(receiver.delay)
                msg_id = self.headers.get("webhook-id") or ""
                with receiver.lock:
                    receiver.requests.append(ReceivedWebhook(dict(self.headers.items()), body))
                    if receiver.status < 300 and msg_id not in receiver.processed:
                        receiver.processed.append(msg_id)
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedWebhook]:
        """The requests, once at least ``count`` arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
