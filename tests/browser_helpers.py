"""Real-browser tests: headless Debian Chromium driven by ``playwright-core`` from Node.

``tests/browser`` pins ``playwright-core`` in its ``package-lock.json`` and holds the driver
scripts (``*.mjs``) and the static pages. :func:`launch_browser` starts one Chromium (through
``launch.mjs``, Playwright's ``launchServer``) that a test module shares; each scenario is a
``node <script>.mjs`` run that connects to it, opens a fresh browser context, and prints one JSON
line with what it saw. The browser is Debian's ``/usr/bin/chromium`` (CI installs it with apt;
``npx playwright install`` is never used), so a missing browser, ``node`` or ``npm`` is a
failure with a clear message, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from npm_helpers import npm_ci, tool
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = [
    "BROWSER_DIR",
    "CHROMIUM",
    "PAGES_DIR",
    "Browser",
    "StaticSite",
    "browser_project",
    "launch_browser",
    "run_driver",
    "serve_static",
    "serve_wsgi",
]

BROWSER_DIR = Path(__file__).parent / "browser"
PAGES_DIR = BROWSER_DIR / "pages"
#: Debian's Chromium (``apt-get install chromium``); another build can be named in the env.
CHROMIUM = os.environ.get("OPENPANEL_TEST_CHROMIUM", "/usr/bin/chromium")
LAUNCH_TIMEOUT = 30
DRIVER_TIMEOUT = 60


def _chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the browser tests drive Debian's chromium "
            "(`apt-get install chromium`, as CI does) or the build named by "
            "OPENPANEL_TEST_CHROMIUM",
            pytrace=False,
        )
    return CHROMIUM


# ---------------------------------------------------------------------- the browser


@dataclass(frozen=True)
class Browser:
    """A running Chromium that driver scripts connect to."""

    ws_endpoint: str
    version: str


@contextmanager
def launch_browser() -> Generator[Browser, None, None]:
    """Start one headless Chromium (``launch.mjs``) for the ``with`` block.

    The node process prints the browser's WebSocket endpoint, then waits for its stdin to
    close, closes the browser (and its temporary profile) and exits.
    """
    npm_ci(BROWSER_DIR)
    chromium = _chromium()
    proc = subprocess.Popen(
        [tool("node"), "launch.mjs", chromium, str(LAUNCH_TIMEOUT * 1000)],
        cwd=BROWSER_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        line = proc.stdout.readline()  # launch.mjs exits on its own after LAUNCH_TIMEOUT
        if not line.strip():
            proc.wait(10)
            pytest.fail(
                f"Chromium did not start ({chromium}, exit {proc.returncode}):\n"
                f"{proc.stderr.read()[-3000:]}",
                pytrace=False,
            )
        info = json.loads(line)
        yield Browser(ws_endpoint=info["wsEndpoint"], version=info["version"])
    finally:
        proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


def run_driver(
    script: str, browser: Browser, config: Mapping[str, Any], *, timeout: float = DRIVER_TIMEOUT
) -> dict[str, Any]:
    """Run ``tests/browser/<script>`` against ``browser``; return the JSON it prints.

    The script gets ``config`` plus ``wsEndpoint`` and ``timeoutMs`` (its own watchdog, a few
    seconds shorter than ours) as JSON on stdin.
    """
    payload = {**config, "wsEndpoint": browser.ws_endpoint, "timeoutMs": int(timeout * 1000) - 5000}
    try:
        done = subprocess.run(
            [tool("node"), script],
            cwd=BROWSER_DIR,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"node {script} took over {timeout} s: {exc.stderr!r}", pytrace=False)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(
            f"node {script} failed ({done.returncode}):\n{done.stdout[-5000:]}\n"
            f"{done.stderr[-5000:]}",
            pytrace=False,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------- servers


@contextmanager
def serve_wsgi(app: Any) -> Generator[str, None, None]:
    """Serve a WSGI app on 127.0.0.1 (an ephemeral port) in a thread; yield its base URL."""
    http: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="browser-wsgi", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


@dataclass(frozen=True)
class StaticSite:
    """A static site on its own origin (``url``); ``other_url`` is the same server as ``localhost``.

    The second name is another host for the browser, so a link to it is an outgoing link,
    and no network or request interception is needed to follow it.
    """

    url: str
    other_url: str


Route = Callable[[], tuple[str, bytes]]


@contextmanager
def serve_static(routes: Mapping[str, Route]) -> Generator[StaticSite, None, None]:
    """Serve ``routes`` (path -> () -> (content type, body)) and the pages and scripts of
    ``PAGES_DIR`` (``/<name>.html``, ``/<name>.js``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            found: tuple[str, bytes] | None = None
            if path in routes:
                found = routes[path]()
            elif "/" not in path[1:] and path.endswith((".html", ".js")):
                page = PAGES_DIR / path[1:]
                if page.is_file():
                    kind = "html" if path.endswith(".html") else "javascript"
                    found = (f"text/{kind}; charset=utf-8", page.read_bytes())
            if found is None:
                self.send_error(404)
                return
            content_type, body = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet test output

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    thread = threading.Thread(target=http.serve_forever, name="browser-static", daemon=True)
    thread.start()
    port = http.server_address[1]
    try:
        yield StaticSite(url=f"http://127.0.0.1:{port}", other_url=f"http://localhost:{port}")
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def browser_project(data_dir: Path, origin: str) -> dict[str, str]:
    """Create, with the server's CLI, a project for a site whose browser talks to the server.

    Its allowed origin is ``origin``, revenue from browsers is allowed (OpenPanel's "unsafe
    revenue" switch), its write client has no secret (as a browser's), and a read client
    reads the exports. Written as ``credentials.json``, so ``start_server(data_dir)`` (which
    then creates no default project) uses it.
    """

    def cli(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "openpanel_server", "--data-dir", str(data_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        created: dict[str, Any] = json.loads(done.stdout)
        return created

    data_dir.mkdir(parents=True, exist_ok=True)
    project = cli("project", "create", "browser-site", "--origin", origin, "--allow-unsafe-revenue")
    pid = project["projectId"]
    writer = cli("client", "create", "--project", pid, "--name", "browser", "--no-secret")
    reader = cli("client", "create", "--project", pid, "--name", "export", "--type", "read")
    creds = {
        "projectId": pid,
        "clientId": writer["clientId"],
        "clientSecret": "",
        "readClientId": reader["clientId"],
        "readClientSecret": reader["clientSecret"],
    }
    (data_dir / "credentials.json").write_text(json.dumps(creds), encoding="utf-8")
    return creds
