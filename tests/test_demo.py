"""The README's main job: the server starts, the demo's events are all stored."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_main_job_stores_everything(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.demo",
            "--visitors",
            "60",
            "--once",
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(_free_port()),
            "--shop-port",
            str(_free_port()),
            "--shoppers",
            "12",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    calls = re.search(r"^(\d+) calls by 60 simulated visitors", out.stdout, re.M)
    delivered = re.search(r"delivered:\s+(\d+) acknowledged", out.stdout)
    assert calls is not None, out.stdout
    assert delivered is not None, out.stdout
    assert int(calls.group(1)) == int(delivered.group(1)) > 60
    stored = dict(re.findall(r"^  (\w+)\s+(\d+)$", out.stdout, re.M))
    assert int(stored["screen_view"]) > 60
    assert int(stored["session_start"]) >= 1
    assert "failed 0, dropped 0, refused 0" in out.stdout
    # The Flask shop: browsers through its proxy, its backend's events all delivered.
    shop = re.search(
        r"^12 browsers in the Flask shop \(http://127\.0\.0\.1:\d+\): (\d+) pages", out.stdout, re.M
    )
    assert shop is not None, out.stdout
    backend = re.search(
        r"the shop's backend: (\d+) events delivered, 0 failed, 0 dropped", out.stdout
    )
    assert backend is not None, out.stdout
    assert int(stored["purchase"]) >= 1
    # Signed webhooks: the server delivered one per purchase, the shop verified each.
    hooks = re.search(r"webhooks: (\d+) signed purchase webhooks received and verified", out.stdout)
    assert hooks is not None, out.stdout
    assert int(hooks.group(1)) == min(int(stored["purchase"]), 50)
    assert int(stored["server_request"]) >= int(shop.group(1))
    assert (tmp_path / "data" / "credentials.json").exists()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev test" in readme
    assert "./dev start" in readme
    assert "./dev test" in ci
