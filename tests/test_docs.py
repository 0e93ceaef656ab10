"""The documentation site: it builds without a warning, and none of its code is left untested.

* ``mkdocs build --strict`` (the configuration and command-line tables are rendered from the
  code by ``docs/hooks/reference.py``; a broken link or anchor is a warning, so a failure).
* Every fenced block in ``docs/`` is one of:
  - an include of a file under ``examples/`` (``--8<-- "docs/..."``, pymdownx.snippets with
    ``check_paths``); the files under ``examples/docs/`` are run below against the real server;
  - Python, run: the page's Python blocks in order, as one script, against a real
    ``openpanel-server``;
  - shell, run with bash in a scratch folder (``openpanel-server`` on ``PATH``, working on the
    test server's data folder); a block marked ``<!-- docs-test: background -->`` starts the
    page's own server instead, stopped after the page;
  - marked ``<!-- docs-test: skip: <why> -->`` (installing the server from a clone); the
    allowed number per page is listed in ``SKIPS`` below, so each new one is a reviewed change.
  Anything else fails the test.

The docs are written for a server on ``http://127.0.0.1:3333`` and a project whose credentials
read ``YOUR_CLIENT_ID``/``YOUR_CLIENT_SECRET``; ``SUBSTITUTIONS`` puts the test server's URL and
credentials in their place before a block runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from server_helpers import RunningServer, free_port, start_server

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
TIMEOUT = 60

#: Blocks that cannot run here, per page (install commands are inline code, not blocks). Raise
#: a number only with a reason in the marker.
SKIPS: dict[str, int] = {
    "server.md": 1,  # installing the server from a clone of the repository
}

#: Events each page's Python blocks must have stored (checked on the server afterwards).
EXPECTED_EVENTS: dict[str, set[str]] = {
    "quickstart/python.md": {"signup", "report_exported", "job_finished"},
    "troubleshooting.md": {"forked_worker_event", "lambda_invoked"},
    "migrate/openpanel.md": {"report_generated"},
    "migrate/posthog.md": {"invoice_paid", "export_started"},
}

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
MARKER = re.compile(r"^\s*<!-- docs-test: (?P<kind>skip|background)(?::\s*(?P<why>.*?))? -->\s*$")
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    marker: str | None = None
    why: str | None = None
    includes: list[tuple[str, str | None]] = field(default_factory=list[tuple[str, str | None]])

    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def _blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text().splitlines()
    page = path.relative_to(DOCS).as_posix()
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        indent, fence = opened["indent"], opened["fence"]
        info = opened["info"].strip()
        lang = info.split()[0].strip("{}.").lower() if info else ""
        prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        marker = MARKER.match(prev)
        closing = re.compile(rf"^{re.escape(indent)}{fence[0]}{{{len(fence)},}}\s*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        block = Block(page, i + 1, lang, "\n".join(body) + "\n")
        if marker:
            block.marker, block.why = marker["kind"], marker["why"]
        stripped = [ln.strip() for ln in body if ln.strip()]
        matches = [INCLUDE.match(ln) for ln in stripped]
        if stripped and all(matches):
            block.includes = [(m["path"], m["section"]) for m in matches if m]
        yield block
        i = j + 1


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)


def _all_blocks() -> list[Block]:
    return [b for page in _pages() for b in _blocks(page)]


def _kind(block: Block) -> str:
    if block.includes:
        return "include"
    if block.marker == "skip":
        return "skip"
    if block.lang in ("python", "py"):
        return "python"
    if block.lang in ("bash", "sh", "shell", "console"):
        return "shell"
    return "untested"


# --------------------------------------------------------------------------- the build


def test_site_builds_strict_without_warnings(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "WARNING" not in output, output
    site = tmp_path / "site"
    # The generated tables are there (a marker left unrendered would be an HTML comment).
    config = (site / "configuration" / "index.html").read_text()
    assert "OPENPANEL_SERVER_CLICKHOUSE_URL" in config
    assert "max_in_flight" in config and "trusted_hops" in config
    assert "trackOutgoingLinks" in config and "--webhook-allow-subnet" in config
    assert "<!-- reference:" not in config
    # The data-flow diagram is a hand-written SVG: well-formed, and on the home page.
    ElementTree.parse(DOCS / "data-flow.svg")
    assert 'src="data-flow.svg"' in (site / "index.html").read_text()
    # The API reference has the documented public API of each package.
    assert 'id="openpanel_core.OpenPanel.track"' in (site / "api/core/index.html").read_text()
    for package in ("core", "web-bridge", "django", "flask", "asgi"):
        api = (site / "api" / package / "index.html").read_text()
        assert ":class:" not in api and "<p>::</p>" not in api, f"raw reST in api/{package}"
    for page in _pages():
        rel = page.relative_to(DOCS)
        folder = rel.parent if page.name == "index.md" else rel.with_suffix("")
        html = (site / folder / "index.html").read_text()
        blocks = re.findall(r"<pre.*?</pre>", html, re.DOTALL)
        assert not [b for b in blocks if "--8&lt;--" in b], f"unresolved include in {page}"


def test_site_output_is_git_ignored() -> None:
    assert "site/" in (ROOT / ".gitignore").read_text().splitlines()


# --------------------------------------------------------------------------- the blocks


def test_every_block_is_included_run_or_justified() -> None:
    blocks = _all_blocks()
    assert len(blocks) > 20, "the block parser found almost nothing"
    untested = [
        f"{b.where()} ({b.lang or 'no language'})" for b in blocks if _kind(b) == "untested"
    ]
    assert not untested, "blocks neither included nor run:\n" + "\n".join(untested)
    skips: dict[str, int] = {}
    for b in blocks:
        if _kind(b) == "skip":
            assert b.why, f"{b.where()}: a skipped block needs a reason"
            skips[b.page] = skips.get(b.page, 0) + 1
    assert skips == SKIPS, "skipped blocks per page changed; review and update SKIPS"


def test_includes_name_existing_example_files_and_sections() -> None:
    seen = 0
    for b in _all_blocks():
        for rel, section in b.includes:
            target = EXAMPLES / rel
            assert target.is_file(), f"{b.where()}: {rel} is not a file under examples/"
            assert target.resolve().is_relative_to(EXAMPLES.resolve())
            if section:
                text = target.read_text()
                assert f"--8<-- [start:{section}]" in text, f"{b.where()}: no section {section}"
                assert f"--8<-- [end:{section}]" in text, f"{b.where()}: no end of {section}"
            seen += 1
    assert seen >= 10


#: The test server may deliver webhooks to receivers on this machine.
ALLOW_LOCAL_WEBHOOKS = ("--webhook-allow-subnet", "127.0.0.0/8", "--webhook-allow-http")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("docs-server"), *ALLOW_LOCAL_WEBHOOKS)
    try:
        yield running
    finally:
        running.stop()


def _substitutions(url: str, creds: dict[str, str]) -> dict[str, str]:
    return {
        "http://127.0.0.1:3333": url,
        "YOUR_PROJECT_ID": creds["projectId"],
        "YOUR_READ_CLIENT_ID": creds["readClientId"],
        "YOUR_READ_CLIENT_SECRET": creds["readClientSecret"],
        "YOUR_CLIENT_ID": creds["clientId"],
        "YOUR_CLIENT_SECRET": creds["clientSecret"],
    }


def _substitute(text: str, subs: dict[str, str]) -> str:
    for old, new in subs.items():
        text = text.replace(old, new)
    return text


def _client_env(server: RunningServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENPANEL_"))}
    env.update(
        OPENPANEL_CLIENT_ID=server.client_id,
        OPENPANEL_CLIENT_SECRET=server.secret,
        OPENPANEL_API_URL=server.url,
        PYTHONPATH=str(ROOT),
    )
    return env


def _names(server: RunningServer, **params: Any) -> set[str]:
    return {e["name"] for e in server.events(**params)["data"]}


def _wait_for(server: RunningServer, names: set[str], **params: Any) -> set[str]:
    deadline = time.monotonic() + 15
    found: set[str] = set()
    while time.monotonic() < deadline:
        found = _names(server, **params)
        if names <= found:
            break
        time.sleep(0.1)
    return found


PYTHON_PAGES = sorted({b.page for b in _all_blocks() if _kind(b) == "python"})


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_blocks_run(page: str, server: RunningServer, tmp_path: Path) -> None:
    subs = _substitutions(server.url, server.creds)
    code = "\n\n".join(
        f"# {b.where()}\n{_substitute(b.body, subs)}"
        for b in _blocks(DOCS / page)
        if _kind(b) == "python"
    )
    script = tmp_path / "page.py"
    script.write_text(code)
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_client_env(server),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, f"{page}:\n{run.stdout}\n{run.stderr}"
    expected = EXPECTED_EVENTS.get(page, set())
    if expected:
        assert expected <= _wait_for(server, expected)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


SHELL_PAGES = sorted({b.page for b in _all_blocks() if _kind(b) == "shell"})


@pytest.mark.parametrize("page", SHELL_PAGES)
def test_shell_blocks_run(page: str, server: RunningServer, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _client_env(server)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", OPENPANEL_SERVER_PORT=str(port))
    env.pop("PYTHONPATH")
    blocks = [b for b in _blocks(DOCS / page) if _kind(b) == "shell"]
    if not any(b.marker == "background" for b in blocks):
        # The commands manage the running test server's data folder, as on a real install.
        env["OPENPANEL_SERVER_DATA_DIR"] = str(server.data_dir)
    subs = _substitutions(server.url, server.creds)
    background: list[subprocess.Popen[str]] = []
    try:
        for b in blocks:
            body = _substitute(b.body, subs)
            if b.marker == "background":
                proc = subprocess.Popen(
                    ["bash", "-c", body],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
                background.append(proc)
                deadline = time.monotonic() + TIMEOUT
                while not _healthy(url):
                    assert proc.poll() is None, (
                        f"{b.where()} exited: {proc.stdout and proc.stdout.read()}"
                    )
                    assert time.monotonic() < deadline, f"{b.where()}: no server on {url}"
                    time.sleep(0.1)
                # From here on the page's own server answers, with its own first project.
                creds = json.loads((tmp_path / ".openpanel-data" / "credentials.json").read_text())
                subs = _substitutions(url, creds)
                continue
            run = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", body],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
            assert run.returncode == 0, f"{b.where()}:\n{body}\n{run.stdout}\n{run.stderr}"
    finally:
        for proc in background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()


# --------------------------------------------------------------------------- included examples

#: For each framework quick start (examples/docs/): a driver that loads the example as a user
#: would, renders its page (the snippet must be there), sends a browser event through the
#: app's first-party proxy and calls the view that tracks ``signup``, as one visitor (IP, user
#: agent). Run in a subprocess each (Django's settings are global).
_VISIT = """
import json
PAGE_EVENT = json.dumps({{"type": "track", "payload": {{"name": "screen_view",
    "properties": {{"__path": "http://localhost:8000/docs-test/{name}"}}}}}})
BROWSER = {{"user-agent": {ua!r}, "origin": "http://localhost:8000",
    "content-type": "application/json"}}
"""

DRIVERS: dict[str, str] = {
    "flask": """
from examples.docs.flask_quickstart import app, openpanel
client = app.test_client()
environ = {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": BROWSER["user-agent"]}
page = client.get("/", environ_base=environ)
assert page.status_code == 200 and "/_op/op.js" in page.text, page.text
assert '"trackLocalhost":true' in page.text
proxied = client.post("/_op/track", data=PAGE_EVENT, headers=BROWSER, environ_base=environ)
assert proxied.status_code == 200, proxied.text
assert client.post("/signup", environ_base=environ).status_code == 201
with app.app_context():
    assert openpanel.client.flush(10)
""",
    "django": """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "examples.docs.django_quickstart.settings"
import django
django.setup()
from django.test import Client
import openpanel_django
client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=BROWSER["user-agent"])
page = client.get("/")
assert page.status_code == 200 and "/_op/op.js" in page.content.decode(), page.content
assert '"trackLocalhost":true' in page.content.decode()
proxied = client.post("/_op/track", data=PAGE_EVENT, content_type="application/json",
    HTTP_ORIGIN=BROWSER["origin"])
assert proxied.status_code == 200, proxied.content
assert client.post("/signup/").status_code == 201
assert openpanel_django.get_client().flush(10)
""",
    "fastapi": """
from starlette.testclient import TestClient
from examples.docs.fastapi_quickstart import app
with TestClient(app, client=(IP, 50000), headers={"user-agent": BROWSER["user-agent"]}) as client:
    page = client.get("/")
    assert page.status_code == 200 and "/_op/op.js" in page.text, page.text
    assert '"trackLocalhost":true' in page.text
    proxied = client.post("/_op/track", content=PAGE_EVENT, headers=BROWSER)
    assert proxied.status_code == 200, proxied.text
    assert client.post("/signup").status_code == 201
# leaving the block ran the lifespan shutdown: op.shutdown() sent the queue
""",
    "starlette": """
from starlette.testclient import TestClient
from examples.docs.starlette_quickstart import app
with TestClient(app, client=(IP, 50000), headers={"user-agent": BROWSER["user-agent"]}) as client:
    page = client.get("/")
    assert page.status_code == 200 and "/_op/op.js" in page.text, page.text
    assert '"trackLocalhost":true' in page.text
    proxied = client.post("/_op/track", content=PAGE_EVENT, headers=BROWSER)
    assert proxied.status_code == 200, proxied.text
""",
}


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_framework_quickstart_example(name: str, server: RunningServer, tmp_path: Path) -> None:
    ip = f"203.0.113.{10 + sorted(DRIVERS).index(name)}"
    script = f"IP = {ip!r}\n" + _VISIT.format(name=name, ua=BROWSER_UA) + DRIVERS[name]
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_client_env(server),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    path = f"http://localhost:8000/docs-test/{name}"
    deadline = time.monotonic() + 15
    views: list[dict[str, Any]] = []
    while not views and time.monotonic() < deadline:
        data = server.events(event="screen_view", includes="properties")["data"]
        views = [e for e in data if e["path"].endswith(f"/docs-test/{name}")]
        time.sleep(0.1)
    assert views, f"the browser event sent through the {name} proxy ({path}) was not stored"
    session = views[0]["sessionId"]
    # The server-side event of the same visitor is in the browser's session.
    wanted = "server_request" if name == "starlette" else "signup"
    deadline = time.monotonic() + 15
    same: list[dict[str, Any]] = []
    while not same and time.monotonic() < deadline:
        same = [e for e in server.events(event=wanted)["data"] if e["sessionId"] == session]
        time.sleep(0.1)
    assert same, f"no {wanted} event in the session of the {name} visitor"
    assert same[0]["deviceId"] == views[0]["deviceId"]


def test_browser_examples_typecheck(tmp_path: Path) -> None:
    """The React and Vue quick starts compile (tsc, strict) against the package's sources."""
    from npm_helpers import npm_ci, tool

    js = ROOT / "packages" / "js"
    npm_ci(js)
    examples = EXAMPLES / "docs"
    config = {
        "extends": str(js / "tsconfig.json"),
        "compilerOptions": {
            "baseUrl": str(js),
            "types": ["react", "react-dom"],
            "typeRoots": [str(js / "node_modules" / "@types")],
            "paths": {
                "openpanel-browser": ["src/index.ts"],
                "openpanel-browser/*": ["src/*.ts"],
                "*": ["node_modules/@types/*", "node_modules/*"],
            },
        },
        "include": [
            str(examples / "react" / "*.tsx"),
            str(examples / "vue" / "*.ts"),
            str(js / "src" / "types" / "*.d.ts"),
            str(js / "src" / "generated" / "constants.d.ts"),
        ],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    run = subprocess.run(
        [tool("node"), "node_modules/typescript/bin/tsc", "-p", str(tmp_path / "tsconfig.json")],
        cwd=js,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_cluster_env_file_configures_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server page's cluster environment file is what the server reads as a cluster setup."""
    from openpanel_server._config import Settings

    for name in list(os.environ):
        if name.startswith("OPENPANEL_SERVER_"):
            monkeypatch.delenv(name)
    lines = (EXAMPLES / "docs" / "server" / "cluster.env").read_text().splitlines()
    pairs = [ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#")]
    assert pairs
    for key, value in pairs:
        assert key.startswith("OPENPANEL_SERVER_"), key
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    assert settings.cluster is True
    assert settings.clickhouse_url is not None
    assert settings.clickhouse_url.startswith("https://")
    assert settings.trust_proxy_headers is True
    assert (settings.host, settings.port) == ("0.0.0.0", 3333)


# --------------------------------------------------------------------------- webhooks

#: Each receiver of the webhooks page, driven through its framework's test client with a
#: delivery signed as the server signs it: accepted once (204), refused when replayed,
#: tampered with or signed with another secret (400), and the receiver saw exactly one message.
_DELIVERIES = """
import json
from openpanel_core.webhooks import generate_secret, sign
BODY = json.dumps({"type": "event.created", "data": {"name": "purchase"}}).encode()
GOOD = sign(BODY, SECRET, msg_id="msg_docs_1")
OTHER = sign(BODY, generate_secret(), msg_id="msg_docs_2")
TAMPERED = BODY.replace(b"purchase", b"refund")
def check(post, received):
    assert post(BODY, GOOD) == 204
    assert post(BODY, GOOD) == 400  # replayed
    assert post(TAMPERED, sign(BODY, SECRET, msg_id="msg_docs_3")) == 400
    assert post(BODY, OTHER) == 400
    assert [m.id for m in received] == ["msg_docs_1"], received
    assert received[0].data["data"] == {"name": "purchase"}
"""

RECEIVERS: dict[str, str] = {
    "plain": """
import io
from examples.docs import webhook_receiver as mod
def post(body, headers):
    environ = {"PATH_INFO": "/webhooks/openpanel", "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    seen = []
    mod.app(environ, lambda status, headers: seen.append(int(status.split()[0])))
    return seen[0]
check(post, mod.received)
""",
    "flask": """
from examples.docs import webhooks_flask as mod
client = mod.app.test_client()
check(lambda b, h: client.post("/webhooks/openpanel", data=b, headers=h).status_code,
    mod.received)
""",
    "fastapi": """
from starlette.testclient import TestClient
from examples.docs import webhooks_fastapi as mod
with TestClient(mod.app) as client:
    check(lambda b, h: client.post("/webhooks/openpanel", content=b, headers=h).status_code,
        mod.received)
""",
    "starlette": """
from starlette.testclient import TestClient
from examples.docs import webhooks_starlette as mod
with TestClient(mod.app) as client:
    check(lambda b, h: client.post("/webhooks/openpanel", content=b, headers=h).status_code,
        mod.received)
""",
    "django": """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "examples.docs.django_quickstart.settings"
import django
django.setup()
from django.core.cache import cache
from django.test import Client
from examples.docs.django_quickstart import views
client = Client()
def post(body, headers):
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    return client.post("/webhooks/openpanel", data=body, content_type="application/json",
        **extra).status_code
check(post, views.received)
""",
}


@pytest.mark.parametrize("name", sorted(RECEIVERS))
def test_webhook_receiver_example(name: str, server: RunningServer) -> None:
    from openpanel_core.webhooks import generate_secret

    env = _client_env(server)
    env["OPENPANEL_WEBHOOK_SECRET"] = generate_secret()
    script = f"SECRET = {env['OPENPANEL_WEBHOOK_SECRET']!r}\n" + _DELIVERIES + RECEIVERS[name]
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"


def test_webhook_from_the_server_reaches_the_plain_receiver(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhooks page end to end: an endpoint created with the CLI, an event tracked, the
    server's signed delivery verified by the plain-Python receiver of the page."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from examples.docs import webhook_receiver

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = make_server("127.0.0.1", 0, webhook_receiver.app, handler_class=Quiet)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    running = server
    try:
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "openpanel_server",
                "--data-dir",
                str(running.data_dir),
                "webhook",
                "create",
                f"http://127.0.0.1:{http.server_port}/webhooks/openpanel",
                "--project",
                running.creds["projectId"],
                "--event",
                "event.created",
                "--event-name",
                "docs_webhook_purchase",
                *ALLOW_LOCAL_WEBHOOKS,
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        endpoint = json.loads(created.stdout)
        monkeypatch.setenv("OPENPANEL_WEBHOOK_SECRET", endpoint["secret"])
        webhook_receiver.received.clear()
        httpx.post(
            f"{running.url}/track",
            json={"type": "track", "payload": {"name": "docs_webhook_purchase"}},
            headers=running.server_headers(),
        ).raise_for_status()
        deadline = time.monotonic() + 20
        while not webhook_receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert webhook_receiver.received, "no verified delivery reached the receiver"
        message = webhook_receiver.received[0]
        assert message.type == "event.created"
        assert message.data is not None
        assert message.data["data"]["name"] == "docs_webhook_purchase"
    finally:
        http.shutdown()
        http.server_close()


# --------------------------------------------------------------------------- the static site

#: A Playwright driver (in a temp folder; it reuses ``tests/browser/harness.mjs``): loads the
#: static-site quick start's page, waits for the script, clicks its two buttons.
_STATIC_DRIVER = """
import { openContext, output, readConfig, sleep, watchdog } from 'HARNESS';

const config = await readConfig();
const errors = [];
watchdog(config.timeoutMs, () => errors.join('\\n'));
const { browser, context } = await openContext(config);
const page = await context.newPage();
page.on('pageerror', (error) => errors.push(String(error)));
await page.goto(config.url);
await page.waitForFunction(() => window.op && window.op.version);
await page.click('button[data-track]');
await page.click('text=Subscribe');
await sleep(300);
output({ errors, version: await page.evaluate(() => window.op.version) });
await context.close();
await browser.close();
"""


def test_static_site_page_in_a_browser(server: RunningServer, tmp_path: Path) -> None:
    """The static-site quick start's HTML, as written, in headless Chromium against the server.

    The only change: ``trackLocalhost`` and ``trackAutomation`` are switched on, because the
    test page is on 127.0.0.1 and the browser is driven by Playwright (the script ignores
    both by default).
    """
    from openpanel_web_bridge._script import script_source
    from tests.browser_helpers import BROWSER_DIR, launch_browser, run_driver, serve_static

    html = (EXAMPLES / "docs" / "static_site" / "index.html").read_text()
    html = _substitute(html, _substitutions(server.url, server.creds))
    assert "trackAttributes: true," in html
    html = html.replace(
        "trackAttributes: true,",
        "trackAttributes: true, trackLocalhost: true, trackAutomation: true,",
    )
    driver = tmp_path / "static_site.mjs"
    driver.write_text(_STATIC_DRIVER.replace("HARNESS", (BROWSER_DIR / "harness.mjs").as_uri()))
    routes = {
        "/": lambda: ("text/html; charset=utf-8", html.encode()),
        "/op.js": lambda: ("text/javascript; charset=utf-8", script_source()),
    }
    with serve_static(routes) as site, launch_browser() as browser:
        result = run_driver(str(driver), browser, {"url": f"{site.url}/"})
    assert result["errors"] == []
    # The clicks' events name this page alone; its screen view is the one in their session.
    wanted = {"screen_view", "plan_chosen", "newsletter_signup"}
    deadline = time.monotonic() + 15
    mine: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        data = server.events(includes="properties")["data"]
        sessions = {e["sessionId"] for e in data if e["name"] == "plan_chosen"}
        mine = [e for e in data if e["name"] in wanted and e["sessionId"] in sessions]
        if {e["name"] for e in mine} == wanted:
            break
        time.sleep(0.1)
    assert {e["name"] for e in mine} == wanted, mine
    by_name = {e["name"]: e for e in mine}
    assert by_name["plan_chosen"]["properties"]["plan"] == "pro"
    assert by_name["newsletter_signup"]["properties"]["source"] == "footer"
    assert by_name["screen_view"]["properties"]["__title"] == "My static site"
