from __future__ import annotations

import importlib
import inspect

import openpanel_server._normalize as normalize

MODULES = ["_bots", "_flatten", "_ids", "_ip", "_names", "_referrer", "_time", "_ua", "_url"]


def test_all_is_sorted_and_complete() -> None:
    assert normalize.__all__ == sorted(normalize.__all__, key=lambda n: (not n.isupper(), n))
    public = {
        name
        for name, value in vars(normalize).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(normalize.__all__) == public


def test_private_modules_declare_all() -> None:
    for name in MODULES:
        module = importlib.import_module(f"openpanel_server._normalize.{name}")
        exported = module.__all__
        assert exported, name
        for attribute in exported:
            assert hasattr(module, attribute), (name, attribute)


def test_signatures() -> None:
    assert str(inspect.signature(normalize.client_ip)) == (
        "(headers: 'Mapping[str, str]', header_order: 'Sequence[str]' = "
        f"{normalize.DEFAULT_IP_HEADERS!r}) -> 'str'"
    )
    assert list(inspect.signature(normalize.resolve_timestamp).parameters) == [
        "value",
        "received_at",
    ]
    assert list(inspect.signature(normalize.classify_referrer).parameters) == [
        "referrer",
        "page_url",
        "query",
    ]
    assert list(inspect.signature(normalize.parse_user_agent).parameters) == ["ua", "overrides"]
    assert list(inspect.signature(normalize.device_id).parameters) == [
        "user_agent",
        "ip",
        "project_id",
        "salt",
    ]
    assert list(inspect.signature(normalize.session_id).parameters) == [
        "project_id",
        "device_id",
        "event_ms",
        "window_ms",
    ]
