"""``scripts/check_packages.py`` (``./dev package``) finds real packaging defects.

``./dev test`` runs the check on the repository itself; this test runs it on a copy of the
repository with one defect per kind planted, and expects a failing exit with one line for each.
Needs uv (``./dev`` installs it), Node and ``packages/js/node_modules`` (``npm ci``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from npm_helpers import npm_ci

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "packages" / "js"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if shutil.which("node") is None:
        pytest.fail("`node` is not on PATH: packages/js needs Node.js 20+", pytrace=False)
    modules = JS / "node_modules"
    if not all((modules / n).is_dir() for n in ("esbuild", "typescript")):
        npm_ci(JS)
    return modules


def _copy(tmp_path: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    copy = tmp_path / "repo"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    (copy / ".tools").symlink_to(ROOT / ".tools", target_is_directory=True)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_check_packages_reports_each_planted_defect(node_modules: Path, tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    (copy / "packages/js/node_modules").symlink_to(node_modules, target_is_directory=True)
    pkgs = copy / "packages"
    # A test module inside the core's source folder ships in its wheel.
    (pkgs / "core/src/openpanel_core/tests").mkdir()
    (pkgs / "core/src/openpanel_core/tests/test_leak.py").write_text("X = 1\n", encoding="utf-8")
    # The web bridge loses its py.typed marker.
    (pkgs / "web-bridge/src/openpanel_web_bridge/py.typed").unlink()
    # The Flask package loses its description and its typing classifier.
    flask = pkgs / "flask/pyproject.toml"
    text = flask.read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("description ="))
    flask.write_text(text.replace('    "Typing :: Typed",\n', ""), encoding="utf-8")
    # The Django floor disagrees with the one ./dev floors tests.
    _edit(pkgs / "django/pyproject.toml", '"django>=4.2"', '"django>=4.1"')
    # The ASGI package imports a web framework it does not declare.
    _edit(
        pkgs / "asgi/src/openpanel_asgi/__init__.py",
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport flask  # noqa: F401\n",
    )
    # The npm package's exports map points at a file the build does not make.
    package_json = pkgs / "js/package.json"
    package = json.loads(package_json.read_text(encoding="utf-8"))
    package["exports"]["./extra"] = "./dist/extra.mjs"
    package_json.write_text(json.dumps(package, indent=2) + "\n", encoding="utf-8")

    done = subprocess.run(
        [sys.executable, str(copy / "scripts/check_packages.py")],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    problems = out.split("problems (")[1]
    expected = [
        "openpanel-core: wheel: test file openpanel_core/tests/test_leak.py",
        "openpanel-web-bridge: wheel: no openpanel_web_bridge/py.typed",
        "openpanel-flask: metadata: description (Summary) missing",
        "openpanel-flask: metadata: classifier 'Typing :: Typed' missing",
        "openpanel-django: metadata: django>=4.1 but ./dev floors tests django 4.2",
        "openpanel-asgi: alone: import failed: ModuleNotFoundError: No module named 'flask'",
        "openpanel-browser (npm): tarball: no dist/extra.mjs",
    ]
    for line in expected:
        assert line in problems, f"missing {line!r} in:\n{out}"
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("check_packages: ")
    assert "problem(s)" in summary
    table = out.split("\n")[:8]
    assert table[0].startswith("package")
    assert any(row.startswith("openpanel-server") and "FAIL" not in row for row in table)
