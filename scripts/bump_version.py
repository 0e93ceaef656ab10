"""Set the suite's one version everywhere, or check that every place agrees.

The Python packages read their version from ``packages/core/src/openpanel_core/_version.py``
(``[tool.hatch.version] path`` in each ``pyproject.toml``; the integrations and the server
re-export the core's ``__version__``). The npm package ``openpanel-browser`` carries it in
``package.json`` and ``package-lock.json``, in its generated constants (``scripts/gen_js.py``) and
in the built ``op.js``, of which the web bridge ships a copy.

``bump_version.py NEW``:

1. refuses ``NEW`` unless it is ``MAJOR.MINOR.PATCH``, the form that is both a canonical PEP 440
   version and a semver version (npm), and greater than the current one;
2. writes it into ``_version.py``, any static ``version`` of a ``pyproject.toml``, any exact pin of
   one suite package on another (``openpanel-core==...``) and any literal ``__version__`` of a
   package's ``__init__.py``;
3. runs ``scripts/gen_js.py`` (``package.json``, ``package-lock.json``, generated constants) and
   ``npm run build`` in ``packages/js`` (``dist/`` and the web bridge's ``op.js``), unless
   ``--no-build``;
4. moves the ``[Unreleased]`` section of ``CHANGELOG.md`` under ``## [NEW] - <date>`` and opens
   an empty ``[Unreleased]`` section above it;
5. runs the check below.

``bump_version.py --check`` lists every place that disagrees with ``_version.py`` (one line each)
and exits 1 when there is any.

Usage (from the repository root)::

    .tools/bin/uv run --no-sync python scripts/bump_version.py 0.2.0
    .tools/bin/uv run --no-sync python scripts/bump_version.py --check
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_FILE = Path("packages/core/src/openpanel_core/_version.py")
JS = Path("packages/js")
BRIDGE_OP_JS = Path("packages/web-bridge/src/openpanel_web_bridge/static/op.js")
CHANGELOG = Path("CHANGELOG.md")
#: MAJOR.MINOR.PATCH without leading zeros: canonical PEP 440 and valid semver at once.
RELEASE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_VERSION_LINE = re.compile(r'^(__version__ = ")([^"]*)(")$', re.MULTILINE)
_SUITE_PIN = re.compile(r'("openpanel-[a-z-]+(?:\[[^\]]*\])?\s*==\s*)([^";,\s]+)')
_UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n", re.MULTILINE | re.IGNORECASE)
TIMEOUT = 300


class BumpError(Exception):
    """A refused version or a failed step: one line for the user."""


def read_version(root: Path = ROOT) -> str:
    """The version in the core's ``_version.py``."""
    found = _VERSION_LINE.search((root / VERSION_FILE).read_text(encoding="utf-8"))
    if found is None:
        raise BumpError(f"no __version__ line in {VERSION_FILE}")
    return found.group(2)


def parse_release(text: str) -> tuple[int, int, int]:
    """``"1.2.3"`` -> ``(1, 2, 3)``; :class:`BumpError` for anything else."""
    found = RELEASE.fullmatch(text)
    if found is None:
        raise BumpError(
            f"{text!r} is not a release version: use MAJOR.MINOR.PATCH (valid PEP 440 and "
            "semver at once, e.g. 1.4.0)"
        )
    major, minor, patch = (int(g) for g in found.groups())
    return major, minor, patch


def pyprojects(root: Path) -> list[Path]:
    """Every package's ``pyproject.toml``."""
    return sorted((root / "packages").glob("*/pyproject.toml"))


def _section(text: str, name: str) -> str:
    """The body of a TOML table (``[project]``), up to the next table header."""
    found = re.search(rf"^\[{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    return found.group(1) if found else ""


def _static_version(text: str) -> str | None:
    found = re.search(r'^version\s*=\s*"([^"]*)"', _section(text, "project"), re.MULTILINE)
    return found.group(1) if found else None


def init_files(root: Path) -> list[Path]:
    """Each Python package's top-level ``__init__.py``."""
    return sorted((root / "packages").glob("*/src/*/__init__.py"))


def _json(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def disagreements(root: Path = ROOT) -> tuple[str, list[str]]:
    """The version and every place that says otherwise (``"path: says X"`` lines)."""
    version = read_version(root)
    out: list[str] = []
    core_version = (root / VERSION_FILE).resolve()
    for path in pyprojects(root):
        rel = path.relative_to(root)
        text = path.read_text(encoding="utf-8")
        static = _static_version(text)
        if static is not None:
            if static != version:
                out.append(f"{rel}: version {static}")
        else:
            found = re.search(r'^path\s*=\s*"([^"]+)"', _section(text, "tool.hatch.version"), re.M)
            if found is None:
                out.append(f"{rel}: no static version and no [tool.hatch.version] path")
            elif (path.parent / found.group(1)).resolve() != core_version:
                out.append(f"{rel}: version read from {found.group(1)}, not {VERSION_FILE}")
        out.extend(
            f"{rel}: pins {pin.group(1).strip(chr(34) + ' =')}=={pin.group(2)}"
            for pin in _SUITE_PIN.finditer(text)
            if pin.group(2) != version
        )
    for path in init_files(root):
        found = _VERSION_LINE.search(path.read_text(encoding="utf-8"))
        if found is not None and found.group(2) != version:
            out.append(f"{path.relative_to(root)}: __version__ {found.group(2)}")
    js = root / JS
    package = _json(js / "package.json")
    if package.get("version") != version:
        out.append(f"{JS}/package.json: version {package.get('version')}")
    lock_path = js / "package-lock.json"
    if lock_path.is_file():
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        for where, value in (
            ("version", lock.get("version")),
            ('packages[""].version', lock.get("packages", {}).get("", {}).get("version")),
        ):
            if value != version:
                out.append(f"{JS}/package-lock.json: {where} {value}")
    constants = _json(js / "src" / "generated" / "constants.json")
    if constants.get("sdkVersion") != version:
        out.append(f"{JS}/src/generated/constants.json: sdkVersion {constants.get('sdkVersion')}")
    dts = (js / "src" / "generated" / "constants.d.ts").read_text(encoding="utf-8")
    found = re.search(r'__OP_SDK_VERSION__: "([^"]*)"', dts)
    if found is None or found.group(1) != version:
        said = found.group(1) if found else "nothing"
        out.append(f"{JS}/src/generated/constants.d.ts: __OP_SDK_VERSION__ {said}")
    op_js = (root / BRIDGE_OP_JS).read_text(encoding="utf-8")
    said = sorted(set(re.findall(r'"openpanel-sdk-version":"([^"]*)"|\.version="([^"]*)"', op_js)))
    values = sorted({v for pair in said for v in pair if v})
    if values != [version]:
        out.append(f"{BRIDGE_OP_JS}: carries {', '.join(values) or 'no version'}")
    changelog = root / CHANGELOG
    if not changelog.is_file():
        out.append(f"{CHANGELOG}: missing")
    elif not re.search(rf"^## \[{re.escape(version)}\]", changelog.read_text("utf-8"), re.M):
        out.append(f"{CHANGELOG}: no ## [{version}] section")
    return version, out


def move_unreleased(text: str, version: str, date: str) -> str:
    """``CHANGELOG.md`` with the Unreleased entries under ``## [version] - date``."""
    found = _UNRELEASED.search(text)
    if found is None:
        raise BumpError(f"{CHANGELOG} has no '## [Unreleased]' section to release")
    if re.search(rf"^## \[{re.escape(version)}\]", text, re.MULTILINE):
        raise BumpError(f"{CHANGELOG} already has a ## [{version}] section")
    heading = f"## [Unreleased]\n\n## [{version}] - {date}\n"
    text = text[: found.start()] + heading + text[found.end() :]
    return re.sub(r"\n{3,}(?=## \[)", "\n\n", text)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BumpError(f"{' '.join(args[:3])} failed: {exc}") from exc
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + "\n" + done.stdout).splitlines() if ln.strip()]
        raise BumpError(f"{' '.join(args[:3])} failed: {lines[-1] if lines else done.returncode}")


def bump(new: str, root: Path = ROOT, *, build: bool = True, date: str | None = None) -> list[str]:
    """Set ``new`` everywhere; the files written, relative to ``root``."""
    old = read_version(root)
    if parse_release(new) <= parse_release(old):
        raise BumpError(f"{new} is not above the current version {old}")
    changelog_path = root / CHANGELOG
    if not changelog_path.is_file():
        raise BumpError(f"{CHANGELOG} is missing")
    released = move_unreleased(
        changelog_path.read_text(encoding="utf-8"),
        new,
        date or dt.datetime.now(tz=dt.timezone.utc).date().isoformat(),
    )
    before = {path: path.read_bytes() for path in _versioned_files(root)}
    version_file = root / VERSION_FILE
    version_file.write_text(
        _VERSION_LINE.sub(rf"\g<1>{new}\g<3>", version_file.read_text("utf-8")), encoding="utf-8"
    )
    for path in pyprojects(root):
        text = path.read_text(encoding="utf-8")
        project = _section(text, "project")
        bumped = re.sub(r'^(version\s*=\s*")[^"]*(")', rf"\g<1>{new}\g<2>", project, flags=re.M)
        text = text.replace(project, bumped, 1) if project else text
        path.write_text(_SUITE_PIN.sub(rf"\g<1>{new}", text), encoding="utf-8")
    for path in init_files(root):
        text = path.read_text(encoding="utf-8")
        path.write_text(_VERSION_LINE.sub(rf"\g<1>{new}\g<3>", text), encoding="utf-8")
    changelog_path.write_text(released, encoding="utf-8")
    if build:
        # gen_js imports openpanel_core: this checkout's, whatever the environment installed.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(root / "packages/core/src"), os.environ.get("PYTHONPATH", "")]
        )}  # fmt: skip
        _run([sys.executable, "scripts/gen_js.py"], cwd=root, env=env)
        npm = shutil.which("npm")
        if npm is None:
            raise BumpError("npm is not on PATH: packages/js needs Node.js 20+ (or --no-build)")
        if not (root / JS / "node_modules" / "esbuild").is_dir():
            _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=root / JS)
        _run([npm, "run", "--silent", "build"], cwd=root / JS)
    return sorted(
        str(path.relative_to(root))
        for path, data in before.items()
        if path.is_file() and path.read_bytes() != data
    )


def _versioned_files(root: Path) -> list[Path]:
    """Every committed file a bump may change."""
    generated = root / JS / "src" / "generated"
    return [
        root / VERSION_FILE,
        root / CHANGELOG,
        *pyprojects(root),
        *init_files(root),
        root / JS / "package.json",
        root / JS / "package-lock.json",
        *sorted(generated.glob("*")),
        root / BRIDGE_OP_JS,
    ]


def main(argv: list[str] | None = None) -> int:
    """Bump or check; one line per problem."""
    parser = argparse.ArgumentParser(
        prog="scripts/bump_version.py",
        description="Set the suite's one version everywhere (or --check that all agree).",
    )
    parser.add_argument("version", nargs="?", help="the new version, MAJOR.MINOR.PATCH")
    parser.add_argument("--check", action="store_true", help="only check that every place agrees")
    parser.add_argument("--no-build", action="store_true", help="skip gen_js.py and npm build")
    parser.add_argument("--date", help="the release date in CHANGELOG.md (default: today, UTC)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        if args.check == (args.version is not None):
            raise BumpError("give either a new version or --check")
        if args.version is not None:
            files = bump(args.version, root, build=not args.no_build, date=args.date)
            print(f"bump_version: {args.version} written to {len(files)} file(s)")
            for name in files:
                print(f"  {name}")
        version, wrong = disagreements(root)
    except BumpError as exc:
        print(f"bump_version: {exc}", file=sys.stderr)
        return 2
    if wrong:
        for line in wrong:
            print(f"bump_version: {line}, not {version}", file=sys.stderr)
        return 1
    print(f"bump_version: every package and file says {version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
