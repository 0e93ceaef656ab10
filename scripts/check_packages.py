"""Release checks for every package of the suite: build, contents, metadata, and install alone.

For each Python package (``packages/*`` with a ``pyproject.toml``):

* ``uv build`` makes its sdist, then its wheel **from that sdist** (so the sdist is proven to
  build), with hatchling, into a temporary folder;
* the wheel holds the module, its ``py.typed`` and every file git tracks under ``src/`` (package
  data such as the server's dashboard and normalisation data, the web bridge's ``op.js``), and
  nothing else (no tests, caches or editor files); the sdist holds every tracked file of the
  package and no junk;
* ``twine check --strict`` passes on both;
* the metadata is complete: summary, Markdown readme, license, project URLs, author, keywords,
  ``requires-python`` and matching Python classifiers, ``Typing :: Typed``, a framework classifier
  and a framework floor (``>=``) for each integration, the floors ``./dev floors`` tests;
* in an empty virtual environment it installs with only its declared dependencies (the suite's
  own wheels it needs come from the temporary folder, the rest from PyPI), then a subprocess
  imports it, every public submodule and every name of each ``__all__``, checks
  ``__version__`` and that no web framework it must not need is imported (core and web bridge:
  none is even installed).

For the npm package (``packages/js``): its metadata, ``npm pack`` (after a build when ``dist/`` is
missing or older than ``src/``), the tarball's ``dist/``, types and every ``exports`` target; then
the tarball installs into an empty npm project with react and vue, Node imports ``.``, ``./react``
and ``./vue`` as ESM and CJS, and ``tsc`` (nodenext) type-checks those imports.

Last, ``scripts/bump_version.py --check``: every place that carries the version agrees.

Usage (from the repository root; ``./dev package`` runs it)::

    .tools/bin/uv run --no-sync python scripts/check_packages.py [--keep DIR] [--no-js]

Prints a table, then one line per problem; exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import fnmatch
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
JS = PACKAGES / "js"
VERSION_FILE = PACKAGES / "core" / "src" / "openpanel_core" / "_version.py"
TIMEOUT = 300

#: Web frameworks (import names); each package lists those it must not import.
FRAMEWORKS = ("django", "flask", "werkzeug", "starlette", "fastapi", "jinja2", "uvicorn")
#: Files nobody means to ship (fnmatch patterns on archive paths).
JUNK = (
    "*/__pycache__/*",
    "*.pyc",
    "*.pyo",
    "*/.DS_Store",
    "*.orig",
    "*.rej",
    "*.swp",
    "*~",
    "*/.env",
    "*/node_modules/*",
    "*/.venv/*",
    "*/.pytest_cache/*",
    "*/.ruff_cache/*",
)
#: Paths a wheel must never hold: tests belong to the repository, not the install.
WHEEL_TESTS = ("*/tests/*", "*/test_*.py", "*/conftest.py")
REQUIRED_CLASSIFIERS = (
    "Typing :: Typed",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3 :: Only",
    "Intended Audience :: Developers",
)
#: Classifier families every package needs one of.
REQUIRED_FAMILIES = ("Development Status ::", "Operating System ::", "Topic ::")
#: Labels PyPI shows with their icon; the suite has no public repository address yet, so their
#: absence is a note (printed), not a problem.
WANTED_URLS = ("Source", "Changelog", "Issues")


@dataclass(frozen=True)
class Spec:
    """What one Python package must hold and do."""

    dist: str
    folder: str
    module: str
    #: Paths (fnmatch, relative to the module folder) the wheel must hold.
    data: tuple[str, ...] = ()
    #: Framework requirements that must carry a floor (``>=``), and the matching classifier.
    frameworks: tuple[str, ...] = ()
    classifier: str = ""
    #: Import names that must not be in ``sys.modules`` after every import.
    not_imported: tuple[str, ...] = ()
    #: Import names that must not even be installed by the declared dependencies.
    not_installed: tuple[str, ...] = ()
    #: Public submodules not imported in the bare install, with the reason.
    skip: dict[str, str] = field(default_factory=dict[str, str])
    #: Code run before the imports (framework set-up).
    setup: str = ""
    #: Extras installed in a second environment, whose skipped modules it then imports.
    extras: tuple[str, ...] = ()
    #: Console scripts that must answer ``--help``.
    scripts: tuple[str, ...] = ()
    #: ``Private :: Do Not Upload`` is allowed (the reference server is not published).
    private: bool = False


DJANGO_SETUP = """
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "openpanel_django"],
    ROOT_URLCONF="openpanel_django.urls",
)
django.setup()
"""

SPECS = (
    Spec(
        "openpanel-core",
        "core",
        "openpanel_core",
        not_imported=(*FRAMEWORKS, "requests", "pytest"),
        not_installed=FRAMEWORKS,
        skip={"pytest_plugin": "a pytest plugin (needs pytest)"},
    ),
    Spec(
        "openpanel-web-bridge",
        "web-bridge",
        "openpanel_web_bridge",
        data=("static/op.js",),
        not_imported=FRAMEWORKS,
        not_installed=FRAMEWORKS,
    ),
    Spec(
        "openpanel-django",
        "django",
        "openpanel_django",
        frameworks=("django",),
        classifier="Framework :: Django",
        not_imported=("flask", "starlette", "fastapi"),
        setup=DJANGO_SETUP,
    ),
    Spec(
        "openpanel-flask",
        "flask",
        "openpanel_flask",
        frameworks=("flask",),
        classifier="Framework :: Flask",
        not_imported=("django", "starlette", "fastapi"),
    ),
    Spec(
        "openpanel-asgi",
        "asgi",
        "openpanel_asgi",
        frameworks=("starlette", "fastapi"),
        classifier="Framework :: FastAPI",
        not_imported=("django", "flask", "starlette", "fastapi"),
        not_installed=("django", "flask", "starlette", "fastapi"),
        skip={"fastapi": "the [fastapi] extra", "starlette": "the [starlette] extra"},
        extras=("fastapi", "starlette"),
    ),
    Spec(
        "openpanel-server",
        "server",
        "openpanel_server",
        data=(
            "dashboard/index.html",
            "dashboard/app.js",
            "dashboard/style.css",
            "dashboard/vendor/*.js",
            "_normalize/data/*",
        ),
        not_imported=("django", "flask", "fastapi"),
        scripts=("openpanel-server",),
        private=True,
    ),
)
SUITE = {spec.dist for spec in SPECS}


@dataclass
class Row:
    """One line of the table and the problems behind it."""

    name: str
    version: str = "?"
    cells: dict[str, str] = field(default_factory=dict[str, str])
    problems: list[str] = field(default_factory=list[str])
    notes: list[str] = field(default_factory=list[str])
    seconds: float = 0.0

    def check(self, column: str, problems: list[str]) -> None:
        """Record a column's verdict (``ok`` or ``FAIL``) and its problems."""
        self.problems.extend(problems)
        self.cells[column] = "FAIL" if problems else "ok"


# -- helpers ------------------------------------------------------------------------------------


def suite_version(root: Path = ROOT) -> str:
    """The one version, as written in the core's ``_version.py``."""
    text = (root / VERSION_FILE.relative_to(ROOT)).read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if found is None:
        sys.exit(f"check_packages: no __version__ in {VERSION_FILE.relative_to(ROOT)}")
    return found.group(1)


def clean_env() -> dict[str, str]:
    """The environment without the workspace's virtualenv, Python path or uv project settings."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT", "UV_PYTHON")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output (never raises on a non-zero exit)."""
    try:
        return subprocess.run(
            args,
            cwd=cwd,
            env=env if env is not None else clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(args, 127, "", f"{type(exc).__name__}: {exc}")


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """The last non-empty line of a failed command's output, for a one-line problem."""
    lines = [ln.strip() for ln in (done.stderr + "\n" + done.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit {done.returncode}"


def uv_bin() -> str:
    """``.tools/bin/uv`` (what ``./dev`` installs), else uv on PATH."""
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        sys.exit("check_packages: uv is missing (./dev installs it into .tools/)")
    return found


def base_python() -> str:
    """The interpreter behind the running virtualenv (the one the suite is tested on)."""
    return os.path.realpath(sys.executable)


def tracked(folder: Path) -> set[str]:
    """Files git tracks under ``folder`` (relative paths), or every file when not in git."""
    done = run(["git", "ls-files", "-z", "--", "."], cwd=folder, env=dict(os.environ))
    if done.returncode == 0 and done.stdout:
        return {p for p in done.stdout.split("\0") if p and (folder / p).is_file()}
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not matches("/" + p.relative_to(folder).as_posix(), JUNK)
    }


def matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches any fnmatch pattern."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def normalized(dist: str) -> str:
    """The distribution name as wheel and sdist file names spell it."""
    return re.sub(r"[-_.]+", "_", dist).lower()


def read_metadata(wheel: Path) -> Message:
    """The wheel's ``METADATA`` as an email message."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        raw = zf.read(name)
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)


def dev_floors() -> dict[str, str]:
    """The floors ``./dev floors`` installs (``"django~=4.2.0"`` -> ``{"django": "4.2"}``)."""
    text = (ROOT / "dev").read_text(encoding="utf-8")
    return {
        name.lower(): ".".join(version.split(".")[:2])
        for name, version in re.findall(r'"([A-Za-z0-9_.-]+)~=([0-9][0-9.]*)"', text)
    }


# -- Python packages ----------------------------------------------------------------------------


def build_all(out: Path) -> tuple[bool, str]:
    """``uv build`` every workspace member: sdist, then the wheel from the sdist."""
    done = run(
        [uv_bin(), "build", "--all-packages", "--quiet", "--no-python-downloads", "-o", str(out)],
        cwd=ROOT,
        env={**clean_env(), "UV_PYTHON": base_python()},
    )
    return done.returncode == 0, "" if done.returncode == 0 else last_line(done)


def twine_check(files: list[Path]) -> dict[str, str]:
    """``twine check --strict``: file name -> "" when it passed, else the reason."""
    if not files:
        return {}
    done = run(
        [sys.executable, "-m", "twine", "check", "--strict", *(f.name for f in files)],
        cwd=files[0].parent,
        env={**clean_env(), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"},
    )
    verdict: dict[str, str] = {f.name: "no verdict from twine" for f in files}
    current = ""
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        found = re.match(r"Checking (.+?): (PASSED|FAILED)", line.strip())
        if found:
            current = Path(found.group(1)).name
            verdict[current] = "" if found.group(2) == "PASSED" else "failed"
        elif (current and line.strip() and verdict.get(current)) or (
            current and ("WARNING" in line or "ERROR" in line)
        ):
            verdict[current] = line.strip()
    return verdict


def check_wheel(spec: Spec, wheel: Path, version: str) -> list[str]:
    """The wheel holds exactly the module's tracked files, ``py.typed`` and its data."""
    problems: list[str] = []
    src = PACKAGES / spec.folder / "src" / spec.module
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    info = f"{normalized(spec.dist)}-{version}.dist-info/"
    shipped = {n[len(spec.module) + 1 :] for n in names if n.startswith(spec.module + "/")}
    for name in names:
        if not (name.startswith((spec.module + "/", info))):
            problems.append(f"wheel: stray file outside the package: {name}")
        elif matches("/" + name, JUNK):
            problems.append(f"wheel: junk file {name}")
        elif name.startswith(spec.module + "/") and matches("/" + name, WHEEL_TESTS):
            problems.append(f"wheel: test file {name}")
    if "py.typed" not in shipped:
        problems.append(f"wheel: no {spec.module}/py.typed")
    problems.extend(
        f"wheel: package data {spec.module}/{pattern} missing"
        for pattern in spec.data
        if not any(fnmatch.fnmatchcase(n, pattern) for n in shipped)
    )
    problems.extend(
        f"wheel: tracked file {spec.module}/{missing} missing"
        for missing in sorted(tracked(src) - shipped)
    )
    if spec.dist == "openpanel-web-bridge":
        with zipfile.ZipFile(wheel) as zf:
            op_js = zf.read(f"{spec.module}/static/op.js")
        if op_js != (src / "static" / "op.js").read_bytes():
            problems.append("wheel: static/op.js differs from the repository's copy")
        if f'"{version}"' not in op_js.decode("utf-8", "replace"):
            problems.append(f"wheel: static/op.js does not carry the version {version}")
    for script in spec.scripts:
        with zipfile.ZipFile(wheel) as zf:
            entry_points = (
                zf.read(info + "entry_points.txt").decode()
                if (info + "entry_points.txt" in zf.namelist())
                else ""
            )
        if not re.search(rf"^{re.escape(script)}\s*=", entry_points, re.MULTILINE):
            problems.append(f"wheel: no console script {script}")
    return problems


def untracked_in_wheel(spec: Spec, wheel: Path) -> list[str]:
    """Files the wheel ships that git does not track (a stray local file, or one not added)."""
    src = PACKAGES / spec.folder / "src" / spec.module
    with zipfile.ZipFile(wheel) as zf:
        shipped = {
            n[len(spec.module) + 1 :]
            for n in zf.namelist()
            if n.startswith(spec.module + "/") and not n.endswith("/")
        }
    extra = sorted(shipped - tracked(src))
    if not extra:
        return []
    shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
    return [f"the wheel ships {len(extra)} file(s) git does not track: {shown}"]


def check_sdist(spec: Spec, sdist: Path, version: str) -> list[str]:
    """The sdist holds the package's tracked files (pyproject, readme, sources) and no junk."""
    problems: list[str] = []
    prefix = f"{normalized(spec.dist)}-{version}/"
    with tarfile.open(sdist) as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    inside: set[str] = set()
    for name in names:
        if not name.startswith(prefix):
            problems.append(f"sdist: stray path {name}")
            continue
        inside.add(name[len(prefix) :])
        if matches("/" + name, JUNK):
            problems.append(f"sdist: junk file {name}")
    problems.extend(
        f"sdist: no {needed}"
        for needed in ("PKG-INFO", "pyproject.toml", "README.md", f"src/{spec.module}/py.typed")
        if needed not in inside
    )
    problems.extend(
        f"sdist: tracked file {missing} missing"
        for missing in sorted(tracked(PACKAGES / spec.folder) - inside)
    )
    return problems


def check_metadata(spec: Spec, meta: Message, version: str, floors: dict[str, str]) -> list[str]:
    """Complete, consistent metadata (see the module docstring)."""
    problems: list[str] = []

    def one(key: str) -> str:
        return str(meta.get(key, "") or "").strip()

    def many(key: str) -> list[str]:
        return [str(v).strip() for v in meta.get_all(key, [])]

    if one("Name") != spec.dist:
        problems.append(f"metadata: Name is {one('Name')!r}")
    if one("Version") != version:
        problems.append(f"metadata: Version {one('Version')} is not the suite's {version}")
    summary = one("Summary")
    if not summary or "\n" in summary or len(summary) > 200:
        problems.append("metadata: description (Summary) missing, multi-line or over 200 chars")
    if one("Description-Content-Type") != "text/markdown" or not (meta.get_payload() or ""):
        problems.append("metadata: readme missing or not Markdown")
    if not (one("License-Expression") or one("License")):
        problems.append("metadata: no license")
    if any(c.startswith("License ::") for c in many("Classifier")) and one("License-Expression"):
        problems.append("metadata: License :: classifiers beside a license expression (PEP 639)")
    if not (one("Author") or one("Author-email") or one("Maintainer-email")):
        problems.append("metadata: no authors")
    if not one("Keywords"):
        problems.append("metadata: no keywords")
    urls = many("Project-URL")
    if not urls:
        problems.append("metadata: no project URLs")
    problems.extend(
        f"metadata: project URL is not https: {url}"
        for url in urls
        if not url.partition(",")[2].strip().startswith("https://")
    )
    classifiers = many("Classifier")
    problems.extend(
        f"metadata: classifier {wanted!r} missing"
        for wanted in REQUIRED_CLASSIFIERS
        if wanted not in classifiers
    )
    problems.extend(
        f"metadata: no {family} classifier"
        for family in REQUIRED_FAMILIES
        if not any(c.startswith(family) for c in classifiers)
    )
    if "Private :: Do Not Upload" in classifiers and not spec.private:
        problems.append("metadata: Private :: Do Not Upload on a published package")
    requires_python = one("Requires-Python")
    if not requires_python:
        problems.append("metadata: no Requires-Python")
    else:
        allowed = SpecifierSet(requires_python)
        pythons = [
            c.rsplit(" :: ", 1)[1]
            for c in classifiers
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
        ]
        if not pythons:
            problems.append("metadata: no Programming Language :: Python :: 3.X classifiers")
        problems.extend(
            f"metadata: classifier Python {v} outside Requires-Python {requires_python}"
            for v in pythons
            if Version(v) not in allowed
        )
        oldest = min((Version(v) for v in pythons), default=None)
        if oldest is not None and not allowed.contains(str(oldest)):
            problems.append(f"metadata: oldest Python classifier {oldest} is not installable")
    if spec.classifier and not any(c.startswith(spec.classifier) for c in classifiers):
        problems.append(f"metadata: classifier {spec.classifier!r} missing")
    requirements = [Requirement(r) for r in many("Requires-Dist")]
    for framework in spec.frameworks:
        declared = [r for r in requirements if r.name.lower() == framework]
        if not declared:
            problems.append(f"metadata: framework {framework} not declared")
        for req in declared:
            lows = [s.version for s in req.specifier if s.operator == ">="]
            if not lows:
                problems.append(f"metadata: {req} has no floor (>=)")
            elif framework in floors and Version(lows[0]) != Version(floors[framework]):
                problems.append(
                    f"metadata: {req} but ./dev floors tests {framework} {floors[framework]}"
                )
    problems.extend(
        f"metadata: depends on {req.name}, not a package of the suite"
        for req in requirements
        if req.name.startswith("openpanel") and req.name not in SUITE
    )
    return problems


def suite_closure(metas: dict[str, Message], dist: str, extras: tuple[str, ...] = ()) -> list[str]:
    """``dist`` and the suite packages it needs, through the declared dependencies."""
    seen: list[str] = []
    todo = [(dist, extras)]
    while todo:
        name, wanted = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        for raw in metas[name].get_all("Requires-Dist", []):
            req = Requirement(str(raw))
            env = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.name in SUITE and (
                req.marker is None or any(req.marker.evaluate(e) for e in env)
            ):
                todo.append((req.name, tuple(sorted(req.extras))))
    return seen


IMPORT_PROBE = """
import importlib, importlib.util, json, sys
{setup}
top = importlib.import_module({module!r})
report = {{"file": top.__file__, "version": getattr(top, "__version__", None), "missing": []}}
for name in {modules!r}:
    mod = importlib.import_module(name)
    for attr in getattr(mod, "__all__", ()):
        if not hasattr(mod, attr):
            report["missing"].append(name + "." + attr)
report["imported"] = sorted(m for m in {not_imported!r} if m in sys.modules)
report["installed"] = sorted(m for m in {not_installed!r} if importlib.util.find_spec(m))
print(json.dumps(report))
"""


def constraints(work: Path) -> Path:
    """Third-party versions pinned to the workspace's (``uv.lock``): the same, cached wheels.

    Constraints never add a package: what gets installed is still only what the package
    declares; they only keep the run fast and repeatable.
    """
    path = work / "constraints.txt"
    if not path.is_file():
        suite = {normalized(d) for d in SUITE}
        pins = sorted(
            f"{d.metadata['Name']}=={d.version}"
            for d in importlib.metadata.distributions()
            if d.metadata["Name"] and normalized(d.metadata["Name"]) not in suite
        )
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
        tmp.write_text("\n".join(pins) + "\n", encoding="utf-8")
        tmp.replace(path)
    return path


def public_modules(spec: Spec, wheel: Path) -> list[str]:
    """The module and its public submodules (no ``_`` path part), from the wheel's files."""
    with zipfile.ZipFile(wheel) as zf:
        files = [n for n in zf.namelist() if n.startswith(spec.module + "/") and n.endswith(".py")]
    modules: list[str] = []
    for name in sorted(files):
        parts = name[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        modules.append(".".join(parts))
    return modules


def install_alone(
    spec: Spec,
    wheels: dict[str, Path],
    metas: dict[str, Message],
    version: str,
    work: Path,
    extras: tuple[str, ...] = (),
) -> list[str]:
    """Install into an empty venv with only the declared dependencies, then import everything."""
    tag = f"with [{','.join(extras)}]" if extras else "alone"
    venv = work / ("venv-" + normalized(spec.dist) + ("-extras" if extras else ""))
    uv, env = uv_bin(), clean_env()
    done = run(
        [uv, "venv", "--quiet", "--no-python-downloads", "--python", base_python(), str(venv)],
        cwd=work,
        env=env,
    )
    if done.returncode != 0:
        return [f"{tag}: uv venv failed: {last_line(done)}"]
    python = venv / "bin" / "python"
    closure = suite_closure(metas, spec.dist, extras)
    targets = [str(wheels[name]) for name in closure]
    if extras:
        targets[0] = f"{spec.dist}[{','.join(extras)}] @ {wheels[spec.dist].as_uri()}"
    done = run(
        [uv, "pip", "install", "--quiet", "--no-python-downloads", "--python", str(python),
         "--find-links", str(wheels[spec.dist].parent), "--constraints", str(constraints(work)),
         *targets],
        cwd=work,
        env=env,
    )  # fmt: skip
    if done.returncode != 0:
        return [f"{tag}: install failed: {last_line(done)}"]
    modules = public_modules(spec, wheels[spec.dist])
    skip = {f"{spec.module}.{m}" for m in spec.skip}
    if extras:
        modules = [m for m in modules if m == spec.module or m in skip]
        not_imported = tuple(m for m in spec.not_imported if m not in (*extras, "starlette"))
        not_installed: tuple[str, ...] = ()
    else:
        modules = [m for m in modules if m not in skip]
        not_imported, not_installed = spec.not_imported, spec.not_installed
    probe = IMPORT_PROBE.format(
        setup=spec.setup,
        module=spec.module,
        modules=modules,
        not_imported=not_imported,
        not_installed=not_installed,
    )
    done = run([str(python), "-I", "-c", probe], cwd=work, env=env, timeout=120)
    if done.returncode != 0:
        return [f"{tag}: import failed: {last_line(done)}"]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    problems: list[str] = []
    if not str(report["file"]).startswith(str(venv)):
        problems.append(f"{tag}: imported from {report['file']}, not the venv")
    if report["version"] not in (None, version):
        problems.append(f"{tag}: __version__ is {report['version']}, not {version}")
    problems.extend(f"{tag}: __all__ names {m}, which is missing" for m in report["missing"])
    if report["imported"]:
        problems.append(f"{tag}: importing it imports {', '.join(report['imported'])}")
    if report["installed"]:
        problems.append(f"{tag}: its dependencies install {', '.join(report['installed'])}")
    for script in spec.scripts:
        done = run([str(venv / "bin" / script), "--help"], cwd=work, env=env, timeout=60)
        if done.returncode != 0 or "usage" not in done.stdout.lower():
            problems.append(f"{tag}: `{script} --help` failed: {last_line(done)}")
    return problems


def check_python(out: Path, version: str, pool: ThreadPoolExecutor) -> tuple[list[Row], set[str]]:
    """Every Python package: build, contents, twine, metadata, install alone."""
    rows = {spec.dist: Row(spec.dist) for spec in SPECS}
    start = time.monotonic()
    built, why = build_all(out / "dist")
    build_time = time.monotonic() - start
    if not built:
        for row in rows.values():
            row.check("build", [f"uv build failed: {why}"])
        return list(rows.values()), set()
    dist = out / "dist"
    wheels: dict[str, Path] = {}
    sdists: dict[str, Path] = {}
    for spec in SPECS:
        stem = f"{normalized(spec.dist)}-{version}"
        wheel, sdist = dist / f"{stem}-py3-none-any.whl", dist / f"{stem}.tar.gz"
        row = rows[spec.dist]
        row.version = version
        row.seconds = build_time / len(SPECS)
        missing = [p.name for p in (sdist, wheel) if not p.is_file()]
        row.check("build", [f"not built: {', '.join(missing)} (wrong version?)"] if missing else [])
        if not missing:
            wheels[spec.dist], sdists[spec.dist] = wheel, sdist
    twine = twine_check([*wheels.values(), *sdists.values()])
    metas = {dist: read_metadata(wheel) for dist, wheel in wheels.items()}
    floors = dev_floors()
    urls = {dist: sorted(m.get_all("Project-URL", [])) for dist, m in metas.items()}
    url_sets = {json.dumps(u) for u in urls.values()}
    jobs: dict[str, list[Future[tuple[list[str], float]]]] = {}
    for spec in SPECS:
        row = rows[spec.dist]
        if spec.dist not in wheels:
            continue
        row.check(
            "contents",
            check_wheel(spec, wheels[spec.dist], version)
            + check_sdist(spec, sdists[spec.dist], version),
        )
        row.notes.extend(untracked_in_wheel(spec, wheels[spec.dist]))
        row.check(
            "twine",
            [
                f"twine check --strict {name}: {twine[name]}"
                for name in (wheels[spec.dist].name, sdists[spec.dist].name)
                if twine.get(name)
            ],
        )
        meta_problems = check_metadata(spec, metas[spec.dist], version, floors)
        if len(url_sets) > 1:
            meta_problems.append("metadata: project URLs differ between the suite's packages")
        row.check("metadata", meta_problems)
        labels = {
            str(u).partition(",")[0].strip() for u in metas[spec.dist].get_all("Project-URL", [])
        }
        if not metas[spec.dist].get_all("License-File"):
            row.notes.append("no license file shipped (License-File): add a LICENSE")
        if not spec.private and (absent := [u for u in WANTED_URLS if u not in labels]):
            row.notes.append(f"no {'/'.join(absent)} URL yet (needs a public repository)")
        jobs[spec.dist] = [
            pool.submit(timed, install_alone, spec, wheels, metas, version, out),
            *(
                [pool.submit(timed, install_alone, spec, wheels, metas, version, out, spec.extras)]
                if spec.extras
                else []
            ),
        ]
    _finish(rows, jobs)
    all_urls = {
        str(u).partition(",")[2].strip()
        for m in metas.values()
        for u in m.get_all("Project-URL", [])
    }
    return [*rows.values()], all_urls


def timed(check: Callable[..., list[str]], *args: Any) -> tuple[list[str], float]:
    """Run a check; its problems (a crash is one) and how long it took."""
    start = time.monotonic()
    try:
        problems = check(*args)
    except Exception as exc:  # noqa: BLE001 - one line per problem, never a traceback
        problems = [f"{check.__name__} crashed: {type(exc).__name__}: {exc}"]
    return problems, time.monotonic() - start


def _finish(rows: dict[str, Row], jobs: dict[str, list[Future[tuple[list[str], float]]]]) -> None:
    """Wait for the install checks; each package's verdict and time in its row."""
    for dist, futures in jobs.items():
        problems: list[str] = []
        for future in futures:
            found, seconds = future.result()
            problems.extend(found)
            rows[dist].seconds += seconds
        rows[dist].check("alone", problems)


# -- npm package --------------------------------------------------------------------------------

JS_ENTRIES = ("index", "react", "react-router", "next", "vue")
JS_IMPORTS = {
    "openpanel-browser": ("createOpenPanel", "OpenPanel", "SDK_VERSION"),
    "openpanel-browser/react": ("OpenPanelProvider", "useOpenPanel", "usePageView"),
    "openpanel-browser/vue": ("OpenPanelPlugin", "useOpenPanel"),
}
ESM_PROBE = """
const out = {};
for (const spec of %s) out[spec] = Object.keys(await import(spec));
out.version = (await import('openpanel-browser')).SDK_VERSION;
console.log(JSON.stringify(out));
"""
CJS_PROBE = """
const out = {};
for (const spec of %s) out[spec] = Object.keys(require(spec));
out.version = require('openpanel-browser').SDK_VERSION;
console.log(JSON.stringify(out));
"""
TS_ESM = """
import { createOpenPanel, SDK_VERSION, type OpenPanelOptions } from 'openpanel-browser';
import { OpenPanelProvider, useOpenPanel } from 'openpanel-browser/react';
import { OpenPanelPlugin } from 'openpanel-browser/vue';
const options: OpenPanelOptions = { clientId: 'x' };
export const used = [createOpenPanel, SDK_VERSION, options, OpenPanelProvider, useOpenPanel,
  OpenPanelPlugin];
"""
TS_CJS = """
import op = require('openpanel-browser');
import react = require('openpanel-browser/react');
import vue = require('openpanel-browser/vue');
export const used = [op.createOpenPanel, react.useOpenPanel, vue.OpenPanelPlugin];
"""
TS_CONFIG: dict[str, Any] = {
    "compilerOptions": {
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "target": "es2020",
        "strict": True,
        "noEmit": True,
        "skipLibCheck": False,
        "types": [],
    },
    "files": ["esm.mts", "cjs.cts"],
}


def check_js_metadata(package: dict[str, Any], version: str) -> list[str]:
    """``package.json``: version, description, license, keywords, homepage, types, exports."""
    problems: list[str] = []
    if package.get("version") != version:
        problems.append(f"package.json: version {package.get('version')} is not {version}")
    problems.extend(
        f"package.json: no {key}"
        for key in ("description", "license", "keywords", "author", "homepage", "types")
        if not package.get(key)
    )
    if package.get("files") != ["dist"]:
        problems.append('package.json: "files" should be ["dist"]')
    exports: dict[str, Any] = package.get("exports") or {}
    for entry in JS_ENTRIES:
        key = "." if entry == "index" else f"./{entry}"
        if key not in exports:
            problems.append(f"package.json: exports has no {key}")
    return problems


def js_targets(exports: Any) -> set[str]:
    """Every file path the ``exports`` map points at."""
    if isinstance(exports, str):
        return {exports.removeprefix("./")}
    if isinstance(exports, dict):
        return {t for value in exports.values() for t in js_targets(value)}  # pyright: ignore[reportUnknownVariableType]
    return set()


def ensure_js_build(npm: str) -> list[str]:
    """``npm ci`` when needed, and ``npm run build`` when dist/ is missing or older than src/."""
    if not (JS / "node_modules" / "esbuild").is_dir():
        done = run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS)
        if done.returncode != 0:
            return [f"npm ci failed: {last_line(done)}"]
    dist = JS / "dist"
    sources = [p for p in (JS / "src").rglob("*") if p.is_file()] + [JS / "build.mjs"]
    built = [p for p in dist.rglob("*") if p.is_file()] if dist.is_dir() else []
    if not built or min(p.stat().st_mtime for p in built) < max(p.stat().st_mtime for p in sources):
        done = run([npm, "run", "--silent", "build"], cwd=JS)
        if done.returncode != 0:
            return [f"npm run build failed: {last_line(done)}"]
    return []


def check_js(out: Path, version: str) -> Row:
    """Pack the npm package, check the tarball, install it into an empty project, import it."""
    start = time.monotonic()
    package: dict[str, Any] = json.loads((JS / "package.json").read_text(encoding="utf-8"))
    row = Row(f"{package.get('name')} (npm)", str(package.get("version")))
    row.check("metadata", check_js_metadata(package, version))
    row.cells["twine"] = "-"
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        row.check("build", ["node and npm (Node.js 20+) are needed for packages/js"])
        return row
    problems = ensure_js_build(npm)
    if problems:
        row.check("build", problems)
        return row
    packs = out / "npm"
    packs.mkdir()
    done = run([npm, "pack", "--json", "--pack-destination", str(packs)], cwd=JS)
    if done.returncode != 0:
        row.check("build", [f"npm pack failed: {last_line(done)}"])
        return row
    row.check("build", [])
    packed: dict[str, Any] = json.loads(done.stdout)[0]
    tarball = packs / str(packed["filename"])
    with tarfile.open(tarball) as tf:
        names = {m.name.removeprefix("package/") for m in tf.getmembers() if m.isfile()}
    problems = [
        f"tarball: no {t}" for t in sorted(js_targets(package.get("exports"))) if t not in names
    ]
    for entry in JS_ENTRIES:
        problems.extend(
            f"tarball: no dist/{entry}{ext}"
            for ext in (".mjs", ".cjs", ".d.ts", ".d.cts")
            if f"dist/{entry}{ext}" not in names
        )
    for needed in (
        "package.json",
        "README.md",
        "dist/op.js",
        str(package.get("types", "")).removeprefix("./"),
    ):
        if needed not in names:
            problems.append(f"tarball: no {needed}")
    problems.extend(
        f"tarball: {n} is not the package's to ship"
        for n in sorted(names)
        if not (n.startswith("dist/") or n in ("package.json", "README.md", "LICENSE"))
        or matches("/" + n, JUNK)
    )
    row.check("contents", problems)
    row.check("alone", install_js(out, tarball, package, version, node, npm))
    row.seconds = time.monotonic() - start
    return row


def install_js(
    out: Path, tarball: Path, package: dict[str, Any], version: str, node: str, npm: str
) -> list[str]:
    """Install the tarball (with react, vue and @types/react) into an empty project, import it."""
    project = out / "npm-consumer"
    project.mkdir()
    (project / "package.json").write_text(
        json.dumps({"name": "consumer", "version": "0.0.0", "private": True}), encoding="utf-8"
    )
    dev: dict[str, str] = package.get("devDependencies", {})
    peers = [f"{name}@{dev[name]}" for name in ("react", "vue", "@types/react") if name in dev]
    done = run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline",
         str(tarball), *peers],
        cwd=project,
    )  # fmt: skip
    if done.returncode != 0:
        return [f"npm install of the tarball failed: {last_line(done)}"]
    problems: list[str] = []
    specs = json.dumps(list(JS_IMPORTS))
    (project / "probe.mjs").write_text(ESM_PROBE % specs, encoding="utf-8")
    (project / "probe.cjs").write_text(CJS_PROBE % specs, encoding="utf-8")
    for kind, probe in (("ESM", "probe.mjs"), ("CJS", "probe.cjs")):
        done = run([node, probe], cwd=project, timeout=60)
        if done.returncode != 0:
            problems.append(f"{kind} import failed: {last_line(done)}")
            continue
        seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if seen.get("version") != version:
            problems.append(f"{kind}: SDK_VERSION is {seen.get('version')}, not {version}")
        for spec, names in JS_IMPORTS.items():
            problems.extend(
                f"{kind}: {spec} has no export {n}" for n in names if n not in seen.get(spec, [])
            )
    tsc = JS / "node_modules" / "typescript" / "bin" / "tsc"
    if tsc.is_file():
        (project / "esm.mts").write_text(TS_ESM, encoding="utf-8")
        (project / "cjs.cts").write_text(TS_CJS, encoding="utf-8")
        (project / "tsconfig.json").write_text(json.dumps(TS_CONFIG), encoding="utf-8")
        done = run([node, str(tsc), "-p", "tsconfig.json"], cwd=project, timeout=120)
        if done.returncode != 0:
            first = next((ln for ln in done.stdout.splitlines() if "error" in ln), last_line(done))
            problems.append(f"tsc (nodenext) on the installed types: {first.strip()}")
    else:
        problems.append("typescript missing from packages/js/node_modules (npm ci)")
    return problems


# -- main ---------------------------------------------------------------------------------------

COLUMNS = ("build", "contents", "twine", "metadata", "alone")
HEADERS = ("sdist+wheel", "contents", "twine", "metadata", "installs alone")


def table(rows: list[Row]) -> str:
    """The summary table."""
    width = max(len(r.name) for r in rows) + 2
    lines = [
        "package".ljust(width)
        + "version  "
        + "".join(h.ljust(max(len(h), 4) + 2) for h in HEADERS)
        + "seconds"
    ]
    for r in rows:
        cells = "".join(
            r.cells.get(c, "-").ljust(max(len(h), 4) + 2)
            for c, h in zip(COLUMNS, HEADERS, strict=True)
        )
        lines.append(f"{r.name.ljust(width)}{r.version.ljust(9)}{cells}{r.seconds:6.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every check; print the table and the problems; 1 when there is any."""
    parser = argparse.ArgumentParser(prog="scripts/check_packages.py", description=__doc__)
    parser.add_argument("--keep", type=Path, help="build and install into this folder, kept")
    parser.add_argument("--no-js", action="store_true", help="skip the npm package")
    args = parser.parse_args(argv)
    start = time.monotonic()
    version = suite_version()
    with tempfile.TemporaryDirectory(prefix="op-packages-") as tmp:
        out = Path(tmp)
        if args.keep is not None:
            out = args.keep.resolve()
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
        with ThreadPoolExecutor(max_workers=3) as pool:
            js: Future[Row] | None = None if args.no_js else pool.submit(check_js, out, version)
            rows, urls = check_python(out, version, pool)
            if js is not None:
                rows.append(js_row := js.result())
                homepage = json.loads((JS / "package.json").read_text("utf-8")).get("homepage")
                if urls and homepage not in urls:
                    js_row.problems.append("package.json: homepage is none of the Python URLs")
                    js_row.cells["metadata"] = "FAIL"
    print(table(rows))
    by_text: dict[str, list[str]] = {}
    for r in rows:
        for n in r.notes:
            by_text.setdefault(n, []).append(r.name)
    notes = [
        f"  {names[0] if len(names) == 1 else f'{len(names)} packages'}: {text}"
        for text, names in by_text.items()
    ]
    if notes:
        print("notes:\n" + "\n".join(notes))
    problems = [f"  {r.name}: {p}" for r in rows for p in r.problems]
    versions = run([sys.executable, str(ROOT / "scripts" / "bump_version.py"), "--check"], cwd=ROOT)
    problems += [
        f"  versions: {ln.removeprefix('bump_version: ')}" for ln in versions.stderr.splitlines()
    ]
    elapsed = time.monotonic() - start
    if problems:
        print(f"problems ({len(problems)}):\n" + "\n".join(problems))
        print(f"check_packages: {len(problems)} problem(s) in {elapsed:.1f} s")
        return 1
    print(f"check_packages: {len(rows)} packages ok in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
