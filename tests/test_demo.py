"""The README's main job runs and delivers every event it sends."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_delivers_everything() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--visitors", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    calls = re.search(r"^(\d+) calls by 60 simulated visitors", out.stdout, re.M)
    delivered = re.search(r"delivered:\s+(\d+)", out.stdout)
    assert calls is not None, out.stdout
    assert delivered is not None, out.stdout
    assert int(calls.group(1)) == int(delivered.group(1)) > 60
    assert "screen_view" in out.stdout
    assert "failed 0, dropped 0, refused 0" in out.stdout


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev test" in readme
    assert "./dev start" in readme
    assert "./dev test" in ci
