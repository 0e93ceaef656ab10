"""openpanel-core installs alone, with nothing but its declared dependencies (logfire's check)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("uv is missing: ./dev installs it into .tools/")
        pytest.skip("uv is not installed (./dev installs it)")
    return found


def test_core_installs_and_works_without_the_workspace(tmp_path: Path) -> None:
    uv = _uv()
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    subprocess.run([uv, "venv", "-q", "--python", "python3", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), str(ROOT / "packages" / "core")],
        check=True,
        env=env,
        timeout=300,
    )
    code = (
        "import sys, openpanel_core, openpanel_core.webhooks, openpanel_core.schema;"
        "from openpanel_core.testing import RecordingTransport;"
        "t = RecordingTransport();"
        "op = openpanel_core.OpenPanel('c', transport=t, sync_mode=True);"
        "op.track('installed');"
        "assert t.events[0].name == 'installed';"
        "bad = sorted(m for m in ('pytest', 'django', 'flask', 'starlette', 'requests')"
        " if m in sys.modules);"
        "print(','.join(bad))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""
