"""The public surface is exactly the contract (httpx's test_exported_members)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import openpanel_web_bridge

CONTRACT = {
    "BridgeConfig", "Problem", "render_snippet", "json_for_html", "StaticResponse",
    "script_response", "script_version", "PROXY_ROUTES", "ProxyResponse", "Proxy", "client_ip",
    "RequestInfo", "request_info", "PathMatcher", "excluded_paths", "request_event",
    "IdentifyOnce", "read_device_cookie", "device_cookie_header", "new_device_id",
    "webhook_verifier", "rejection_body", "__version__",
}  # fmt: skip


def test_all_is_the_contract() -> None:
    assert set(openpanel_web_bridge.__all__) == CONTRACT
    public = {
        name
        for name, value in vars(openpanel_web_bridge).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public - {"annotations"} == CONTRACT - {"__version__"}


def test_all_is_sorted_and_resolves() -> None:
    names = list(openpanel_web_bridge.__all__)
    assert all(hasattr(openpanel_web_bridge, n) for n in names)
    plain = [n for n in names if not n.startswith("__")]
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical.
    assert plain == sorted(
        plain, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )


def test_version_is_the_suite_version() -> None:
    core = importlib.import_module("openpanel_core")
    assert openpanel_web_bridge.__version__ == core.__version__


def test_signatures() -> None:
    from openpanel_web_bridge import Proxy, render_snippet, request_info

    assert str(inspect.signature(render_snippet)) == (
        "(config: 'BridgeConfig', *, nonce: 'str | None' = None, "
        "options: 'Mapping[str, Any] | None' = None, profile_id: 'str | None' = None) -> 'str'"
    )
    assert list(inspect.signature(Proxy.forward).parameters) == [
        "self", "method", "subpath", "headers", "body", "client_ip", "device_id",
    ]  # fmt: skip
    assert list(inspect.signature(request_info).parameters) == [
        "get_header", "peer", "method", "scheme", "host", "path", "query", "config",
    ]  # fmt: skip


def test_imports_no_web_framework() -> None:
    code = (
        "import sys, openpanel_web_bridge;"
        "bad = [m for m in ('django','flask','starlette','fastapi','werkzeug') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
