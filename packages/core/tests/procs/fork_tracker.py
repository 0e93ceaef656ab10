"""gunicorn ``--preload`` style: a client made in the parent, used on both sides of ``os.fork()``.

argv: api_url, mode. Modes, i.e. the parent's state when it forks:

* ``fresh``: the client was created and never used (no threads yet);
* ``queued``: 50 parent events tracked (the sender thread is started, the events are queued);
* ``inflight``: 150 parent events tracked and sent; the server has read the request and not
  answered yet (the test server answers slowly) when the parent forks;
* ``importing``: like ``inflight`` but the parent forks while its worker thread, on its first
  request, is inside ``socket.getaddrinfo`` importing ``encodings.idna`` (an import hook makes
  that import take 2 s, as a cold disk would; without the hook the window is a few ms wide).

The child first checks, on its main thread, that it can resolve a host name (``getaddrinfo``,
given up after 2 s), then tracks 100 events ``{"who": "child"}``, calls ``flush(timeout=10)``
(3 in ``importing`` mode), prints a JSON line and leaves with ``os._exit``. The parent waits for
it (20 s at most), tracks 20 more events, flushes and prints its own JSON line.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import FrameType, ModuleType
from typing import Any

from proc_common import CLIENT_ID, print_internal_errors

from openpanel_core import OpenPanel, _guard

url, mode = sys.argv[1], sys.argv[2]


class SlowLoader(importlib.abc.Loader):
    """Runs a module after a 2 s pause (as a cold disk would), with its import locks held."""

    def __init__(self, real: importlib.abc.Loader, entered: threading.Event) -> None:
        self.real = real
        self.entered = entered

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.entered.set()
        time.sleep(2.0)
        self.real.exec_module(module)


class SlowImport(importlib.abc.MetaPathFinder):
    """Slows the SDK worker's first-time import of ``stringprep`` (run by encodings.idna).

    The pause is in ``exec_module``: ``find_spec`` runs under the global import lock, which
    ``os.fork()`` takes too, but module execution holds only the per-module locks.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.entered = threading.Event()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if (
            fullname != "stringprep"
            or os.getpid() != self.pid
            or not threading.current_thread().name.startswith("openpanel")
        ):
            return None
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
            spec.loader = SlowLoader(spec.loader, self.entered)
        return spec


def report(**fields: Any) -> None:
    fields["internal_errors"] = [repr(e) for e in _guard.recorded]
    print(json.dumps(fields), flush=True)


def server_received() -> int:
    with urllib.request.urlopen(url + "/_seen", timeout=5) as r:
        received: int = json.loads(r.read())["received"]
    return received


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError


def can_resolve() -> str:
    """Whether this (main) thread can resolve a host name, within 2 s."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(2)
    try:
        socket.getaddrinfo("localhost", 80)
    except TimeoutError:
        return "hung"
    except OSError as exc:
        return f"error: {exc!r}"
    finally:
        signal.alarm(0)
    return "ok"


client = OpenPanel(CLIENT_ID, api_url=url)
slow = SlowImport()
importing = False

parent_events = 0
if mode in ("queued", "inflight", "importing"):
    if mode == "importing":
        sys.meta_path.insert(0, slow)
    parent_events = 50 if mode == "queued" else 150
    for i in range(parent_events):
        client.track("forked", {"who": "parent", "n": i})
    if mode == "inflight":
        end = time.monotonic() + 10
        while server_received() < 1:
            if time.monotonic() > end:
                report(who="parent", error="the server never saw a request before the fork")
                sys.exit(1)
            time.sleep(0.005)
    elif mode == "importing":
        # False when nothing imports any more on the first request (encodings.idna preloaded).
        importing = slow.entered.wait(3)
elif mode != "fresh":
    sys.exit(f"unknown mode {mode!r}")

sys.stdout.flush()
sys.stderr.flush()
with warnings.catch_warnings():
    # 3.12+ warns that forking a multi-threaded process may deadlock: that is what we test.
    warnings.simplefilter("ignore", DeprecationWarning)
    pid = os.fork()

if pid == 0:
    code = 1
    try:
        resolve = can_resolve()
        for i in range(100):
            client.track("forked", {"who": "child", "n": i})
        t0 = time.monotonic()
        ok = client.flush(timeout=3 if mode == "importing" else 10)
        report(
            who="child",
            resolve=resolve,
            flush=ok,
            flush_seconds=time.monotonic() - t0,
            queued=client.stats.queued,
            in_flight=client.stats.in_flight,
        )
        code = 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

status: int | None = None
end = time.monotonic() + 20
while time.monotonic() < end:
    done, raw_status = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(raw_status)
        break
    time.sleep(0.01)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

for i in range(parent_events, parent_events + 20):
    client.track("forked", {"who": "parent", "n": i})
ok = client.flush(timeout=10)
report(
    who="parent",
    flush=ok,
    child_exit=status,
    parent_events=parent_events + 20,
    forked_while_importing=importing,
)
client.shutdown(5)
print_internal_errors()
