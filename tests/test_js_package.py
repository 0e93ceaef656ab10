"""The npm package ``openpanel-browser`` (packages/js) against the Python suite.

* its generated protocol types and constants are what ``scripts/gen_js.py`` makes from the
  current ``openpanel_core`` models (regenerated into a temp folder and compared);
* its version is the suite's version;
* the script the web bridge ships (and serves) is byte for byte a fresh build of ``op.js``,
  within the size budget.

Node and the package's pinned devDependencies (``npm ci`` in packages/js) are needed, as for
``./dev js``; a missing ``node`` is a failure, not a skip.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from npm_helpers import npm_ci

from openpanel_core import __version__
from openpanel_web_bridge._script import script_source

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "packages" / "js"
GENERATED = JS / "src" / "generated"
BRIDGE_COPY = ROOT / "packages/web-bridge/src/openpanel_web_bridge/static/op.js"
#: gzip -9 bytes; OpenPanel's op1.js is 3,277, Plausible's script 2,681, Umami's 2,210.
BUDGET = 2000
TIMEOUT = 120


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: packages/js needs Node.js 20+", pytrace=False)
    return node


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """packages/js/node_modules with the build and generator tools (``npm ci`` when missing)."""
    modules = JS / "node_modules"
    if not all((modules / name).is_dir() for name in ("esbuild", "json-schema-to-typescript")):
        npm_ci(JS)
    return modules


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_generated_files_are_fresh(node_modules: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gen_js.py", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == ["constants.d.ts", "constants.json", "protocol.ts"]
    assert sorted(p.name for p in GENERATED.iterdir()) == fresh, "no stray generated file"
    for name in fresh:
        committed = (GENERATED / name).read_text(encoding="utf-8")
        assert committed == (tmp_path / name).read_text(encoding="utf-8"), (
            f"packages/js/src/generated/{name} is stale: run "
            "`.tools/bin/uv run --no-sync python scripts/gen_js.py` and commit it"
        )


def test_gen_js_check_mode_agrees(node_modules: Path) -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gen_js.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_types_follow_the_models() -> None:
    # A field added to the models shows up in the types (and so in the staleness test above).
    protocol = (GENERATED / "protocol.ts").read_text(encoding="utf-8")
    assert "export interface TrackPayload {" in protocol
    assert "profileId?: string | number;" in protocol
    assert "null" not in protocol, "optional fields are never null on the wire"
    constants = _json(GENERATED / "constants.json")
    assert constants["sdkName"] == "openpanel-browser"
    assert constants["headers"]["clientId"] == "openpanel-client-id"
    assert constants["sessionTimeoutSeconds"] == 30 * 60


def test_package_version_is_the_suite_version() -> None:
    package = _json(JS / "package.json")
    lock = _json(JS / "package-lock.json")
    assert package["name"] == "openpanel-browser"
    assert package["version"] == __version__
    assert lock["version"] == __version__
    assert lock["packages"][""]["version"] == __version__
    assert _json(GENERATED / "constants.json")["sdkVersion"] == __version__


@pytest.fixture(scope="module")
def fresh_build(node_modules: Path) -> bytes:
    """op.js built now, in memory, from the current sources."""
    done = subprocess.run(
        [_node(), "build.mjs", "--stdout"],
        cwd=JS,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout
    return done.stdout


def test_web_bridge_copy_is_a_fresh_build(fresh_build: bytes) -> None:
    assert BRIDGE_COPY.read_bytes() == fresh_build, (
        "the web bridge's op.js differs from the build: run `npm run build` in packages/js "
        "and commit packages/web-bridge/src/openpanel_web_bridge/static/op.js"
    )
    dist = JS / "dist" / "op.js"
    if dist.is_file():  # an earlier `npm run build` left it: it must be the same bytes
        assert dist.read_bytes() == fresh_build, "dist/op.js is stale: run `npm run build`"


def test_web_bridge_serves_the_build_unchanged(fresh_build: bytes) -> None:
    served = script_source()
    assert served == fresh_build
    assert f'"{__version__}"'.encode() in served
    assert b"__OPENPANEL_SDK_VERSION__" not in served


def test_size_budget() -> None:
    size = len(gzip.compress(BRIDGE_COPY.read_bytes(), compresslevel=9, mtime=0))
    assert size <= BUDGET, f"op.js is {size} B gzip -9; the budget is {BUDGET} B"
