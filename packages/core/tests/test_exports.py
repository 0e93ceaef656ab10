"""The public surface is exactly what ``__all__`` says (httpx's test_exported_members)."""

from __future__ import annotations

import importlib

import pytest

import openpanel_core


def test_package_all_is_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(openpanel_core).items()
        if not name.startswith("_") and not isinstance(value, type(importlib))
    }
    assert public - {"annotations"} == set(openpanel_core.__all__) - {"__version__"}


@pytest.mark.parametrize(
    "module",
    [
        "openpanel_core",
        "openpanel_core.testing",
        "openpanel_core.schema",
        "openpanel_core.webhooks",
        "openpanel_core.pytest_plugin",
    ],
)
def test_all_is_sorted_and_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert all(hasattr(mod, name) for name in names)
    assert [n for n in names if not n.startswith("__")] == sorted(
        n for n in names if not n.startswith("__")
    )


def test_version_is_shared() -> None:
    assert openpanel_core.__version__.count(".") == 2


def test_core_imports_no_web_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, openpanel_core, openpanel_core.webhooks, openpanel_core.testing;"
        "bad = [m for m in ('django','flask','starlette','fastapi','werkzeug') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
