"""One version across the suite, and ``scripts/bump_version.py`` that sets it.

* every place that carries the version agrees (``bump_version.py --check``);
* the CHANGELOG has an Unreleased section and one for the current version;
* bad versions are refused with one line, before anything is written;
* in a copy of the repository, ``bump_version.py`` really changes every place (Python
  packages as built by hatchling, npm package and lock, generated constants, the web bridge's
  ``op.js``, the CHANGELOG) and ``--check`` passes after; a place left behind fails the check.

The copy needs Node and ``packages/js/node_modules`` (``npm ci``), as ``./dev js`` does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from npm_helpers import npm_ci

from openpanel_core import __version__

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "packages" / "js"
SCRIPT = "scripts/bump_version.py"
TIMEOUT = 300
HEADING = re.compile(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?\s*$", re.MULTILINE)


def bump(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / SCRIPT), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_every_place_says_the_same_version() -> None:
    done = bump(ROOT, "--check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"bump_version: every package and file says {__version__}"


def test_changelog_has_unreleased_then_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    headings = HEADING.findall(text)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == __version__, "the newest release section is the current version"
    released = [tuple(int(p) for p in v.split(".")) for v, _ in headings[1:]]
    assert released == sorted(released, reverse=True), "newest first"
    assert all(date for _, date in headings[1:]), "every release has a date"
    current = text.split(f"## [{__version__}]")[1].split("\n## [")[0]
    assert "### Added" in current
    assert "openpanel-core" in current
    assert "openpanel-browser" in current


@pytest.mark.parametrize(
    "version",
    ["1.2", "v1.2.0", "1.2.0rc1", "1.2.0-rc.1", "01.2.0", "1.2.0.post1", "1.2.0+local", "x"],
)
def test_refuses_a_version_that_is_not_pep440_and_semver(version: str, tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    before = _snapshot(copy)
    done = bump(copy, version)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"bump_version: {version!r} is not a release version")
    assert _snapshot(copy) == before, "nothing written"


def test_refuses_a_version_not_above_the_current_one(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    done = bump(copy, __version__)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"bump_version: {__version__} is not above the current version {__version__}"
    )


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """packages/js/node_modules with esbuild, typescript and json2ts (``npm ci`` when missing)."""
    if shutil.which("node") is None:
        pytest.fail("`node` is not on PATH: packages/js needs Node.js 20+", pytrace=False)
    modules = JS / "node_modules"
    if not all(
        (modules / n).is_dir() for n in ("esbuild", "typescript", "json-schema-to-typescript")
    ):
        npm_ci(JS)
    return modules


def test_bump_changes_every_place_in_a_copy(node_modules: Path, tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    (copy / "packages/js/node_modules").symlink_to(node_modules, target_is_directory=True)
    changelog = copy / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text(encoding="utf-8").replace(
            "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n\n- A fix waiting for release.\n"
        ),
        encoding="utf-8",
    )
    # An exact pin of one suite package on another moves with the version too.
    django = copy / "packages/django/pyproject.toml"
    django.write_text(
        django.read_text(encoding="utf-8").replace(
            '"openpanel-core",', f'"openpanel-core=={__version__}",'
        ),
        encoding="utf-8",
    )
    assert bump(copy, "--check").returncode == 0
    new = _next_minor(__version__)

    done = bump(copy, new, "--date", "2030-01-02")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"bump_version: every package and file says {new}"
    written = {line.strip() for line in done.stdout.splitlines()[1:-1]}
    assert {
        "CHANGELOG.md",
        "packages/core/src/openpanel_core/_version.py",
        "packages/django/pyproject.toml",
        "packages/js/package.json",
        "packages/js/package-lock.json",
        "packages/js/src/generated/constants.json",
        "packages/js/src/generated/constants.d.ts",
        "packages/web-bridge/src/openpanel_web_bridge/static/op.js",
    } <= written

    assert f'__version__ = "{new}"' in _read(copy, "packages/core/src/openpanel_core/_version.py")
    assert f'"openpanel-core=={new}",' in _read(copy, "packages/django/pyproject.toml")
    package = json.loads(_read(copy, "packages/js/package.json"))
    lock = json.loads(_read(copy, "packages/js/package-lock.json"))
    constants = json.loads(_read(copy, "packages/js/src/generated/constants.json"))
    assert (package["version"], lock["version"], lock["packages"][""]["version"]) == (new,) * 3
    assert constants["sdkVersion"] == new
    assert f'__OP_SDK_VERSION__: "{new}"' in _read(copy, "packages/js/src/generated/constants.d.ts")
    op_js = _read(copy, "packages/web-bridge/src/openpanel_web_bridge/static/op.js")
    assert f'"openpanel-sdk-version":"{new}"' in op_js
    assert f'"{__version__}"' not in op_js
    assert (copy / "packages/js/dist/op.js").read_text(encoding="utf-8") == op_js

    text = changelog.read_text(encoding="utf-8")
    unreleased, rest = text.split("## [Unreleased]\n")[1].split(f"## [{new}] - 2030-01-02\n")
    assert unreleased.strip() == "", "a fresh, empty Unreleased section"
    assert rest.index("- A fix waiting for release.") < rest.index(f"## [{__version__}]")

    # hatchling builds every Python package at the new version, from the one _version.py.
    uv = ROOT / ".tools" / "bin" / "uv"
    out = tmp_path / "dist"
    built = subprocess.run(
        [
            str(uv) if uv.exists() else "uv",
            "build",
            "--all-packages",
            "--wheel",
            "-q",
            "-o",
            str(out),
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheels = sorted(p.name for p in out.glob("*.whl"))
    assert len(wheels) == 6
    assert all(f"-{new}-py3-none-any.whl" in name for name in wheels), wheels
    with zipfile.ZipFile(out / f"openpanel_django-{new}-py3-none-any.whl") as zf:
        assert f"Version: {new}\n" in zf.read(f"openpanel_django-{new}.dist-info/METADATA").decode()

    # A place left behind fails the check, one line naming it.
    path = copy / "packages/js/src/generated/constants.json"
    path.write_text(path.read_text(encoding="utf-8").replace(new, __version__), encoding="utf-8")
    done = bump(copy, "--check")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"bump_version: packages/js/src/generated/constants.json: sdkVersion {__version__}, "
        f"not {new}"
    )


def _next_minor(version: str) -> str:
    major, minor, _ = version.split(".")
    return f"{major}.{int(minor) + 1}.0"


def _read(root: Path, name: str) -> str:
    return (root / name).read_text(encoding="utf-8")


def _copy(tmp_path: Path) -> Path:
    """The repository (tracked and new files, as in the working tree) in ``tmp_path/repo``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    copy = tmp_path / "repo"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return copy


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "node_modules" not in p.parts
    }
