"""The npm side of the tests: Node, ``npm ci`` of ``packages/server/tests/npm``, node scripts.

That folder pins the real npm clients (``@openpanel/sdk``, ``@openpanel/web``), jsdom and
ua-parser-js in its ``package-lock.json``. Every test that needs them installs it through
:func:`npm_ci`, which runs ``npm ci`` once per lock file (a marker is written after a successful
install) under an OS file lock, so pytest-xdist workers never race. The README's machines have
Node.js 20+, so a missing ``node`` or ``npm`` is a failure, not a skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

__all__ = ["NPM_DIR", "npm_ci", "run_node", "tool"]

NPM_DIR = Path(__file__).parent / "npm"
NODE_TIMEOUT = 60
NPM_CI_TIMEOUT = 600


def tool(name: str) -> str:
    """The path of ``node`` or ``npm``; a clear failure when it is missing (never a skip)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: these tests need Node.js 20+ and npm "
            "(they run `npm ci` in a pinned test folder and then `node` scripts from there)",
            pytrace=False,
        )
    return path


def npm_ci(folder: Path = NPM_DIR) -> None:
    """Run ``npm ci`` in ``folder`` unless its exact lock file is already installed."""
    npm = tool("npm")
    digest = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
    # Written last, after a successful install of exactly this lock file (a half-finished or
    # outdated node_modules has no matching marker and is reinstalled: `npm ci` starts afresh).
    marker = folder / "node_modules" / ".openpanel-installed"

    def installed() -> bool:
        return marker.is_file() and marker.read_text() == digest

    if installed():
        return
    # An OS file lock outside the repository: released when its holder exits, even on a crash.
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"openpanel-npm-{key}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if installed():  # another worker installed it while we waited
                return
            try:
                done = subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    timeout=NPM_CI_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"`npm ci` in {folder} took over {NPM_CI_TIMEOUT} s", pytrace=False)
            if done.returncode != 0:
                pytest.fail(
                    f"`npm ci` in {folder} failed ({done.returncode}):\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
                    pytrace=False,
                )
            marker.write_text(digest)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_node(npm_dir: Path, script: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run ``npm/<script>`` with ``config`` on stdin and return the JSON it prints."""
    try:
        done = subprocess.run(
            [tool("node"), script, "-"],
            cwd=npm_dir,
            input=json.dumps(config),
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"node {script} took over {NODE_TIMEOUT} s: {exc.stderr!r}", pytrace=False)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(
            f"node {script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
