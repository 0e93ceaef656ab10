"""BridgeConfig: strict parsing with errors naming the key, problems(), clients."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from bridge_helpers import CLIENT_ID, SECRET, config

from openpanel_core import AsyncOpenPanel, ConfigurationError, OpenPanel
from openpanel_core.webhooks import generate_secret
from openpanel_web_bridge import BridgeConfig, Problem


def test_defaults_match_the_contract() -> None:
    c = BridgeConfig(CLIENT_ID)
    assert (c.api_url, c.prefix, c.proxy, c.script, c.disabled) == (
        "https://api.openpanel.dev",
        "/_op",
        True,
        True,
        False,
    )
    assert (c.cookie_name, c.cookie_max_age, c.cookie_samesite) == ("op_did", 63072000, "Lax")
    assert (c.max_proxy_body_bytes, c.proxy_timeout, c.trusted_hops) == (1_048_576, 5.0, 1)
    assert dict(c.browser) == {}
    assert c.problems() == []


def test_from_mapping_accepts_any_case_and_lists() -> None:
    c = BridgeConfig.from_mapping(
        {
            "CLIENT_ID": CLIENT_ID,
            "Client_Secret": SECRET,
            "api_url": "https://ingest.example.com/",
            "prefix": "/analytics/",
            "exclude_paths": ["/health", "/static/*"],
            "webhook_secrets": [generate_secret()],
            "ip_header": "X-Forwarded-For",
            "cookie_samesite": "strict",
            "proxy_timeout": 2,
            "browser": {"trackOutgoingLinks": True},
        },
        source="OPENPANEL",
    )
    assert c.client_id == CLIENT_ID
    assert c.api_url == "https://ingest.example.com"
    assert c.prefix == "/analytics"
    assert c.exclude_paths == ("/health", "/static/*")
    assert isinstance(c.webhook_secrets, tuple)
    assert c.ip_header == "x-forwarded-for"
    assert c.cookie_samesite == "Strict"
    assert c.proxy_timeout == 2.0
    assert dict(c.browser) == {"trackOutgoingLinks": True}
    assert c.problems() == []


def test_single_string_for_a_tuple_setting() -> None:
    c = BridgeConfig.from_mapping({"client_id": CLIENT_ID, "exclude_paths": "/health"})
    assert c.exclude_paths == ("/health",)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nope": 1}, "OPENPANEL['nope'] is not a known setting"),
        ({"API_URL": "ftp://x"}, "OPENPANEL['API_URL'] must be an http(s) URL"),
        ({"api_url": "not a url"}, "OPENPANEL['api_url'] must be an http(s) URL"),
        ({"api_url": "https://u:p@x.example"}, "OPENPANEL['api_url'] must be an http(s) URL"),
        ({"prefix": "_op"}, "OPENPANEL['prefix'] must start with \"/\""),
        ({"prefix": "/"}, "OPENPANEL['prefix'] must start with \"/\""),
        ({"prefix": "/a b"}, "OPENPANEL['prefix'] must start with \"/\""),
        ({"proxy": "yes"}, "OPENPANEL['proxy'] must be True or False"),
        ({"trusted_hops": 0}, "OPENPANEL['trusted_hops'] must be an integer of at least 1"),
        ({"trusted_hops": True}, "OPENPANEL['trusted_hops'] must be an integer"),
        ({"max_proxy_body_bytes": "1mb"}, "OPENPANEL['max_proxy_body_bytes'] must be an integer"),
        ({"proxy_timeout": 0}, "OPENPANEL['proxy_timeout'] must be a positive number"),
        ({"cookie_samesite": "sometimes"}, "OPENPANEL['cookie_samesite'] must be"),
        ({"cookie_name": "a b"}, "OPENPANEL['cookie_name'] must be a valid cookie name"),
        ({"cookie_domain": "x; y"}, "OPENPANEL['cookie_domain'] must be a domain name"),
        ({"ip_header": "x forwarded"}, "OPENPANEL['ip_header'] must be an HTTP header name"),
        ({"exclude_paths": [1]}, "OPENPANEL['exclude_paths'] must be a list of strings"),
        ({"exclude_paths": ["re:("]}, "OPENPANEL['exclude_paths'] path pattern 're:('"),
        ({"browser": ["x"]}, "OPENPANEL['browser'] must be a mapping"),
        ({"browser": {"clientSecret": "x"}}, "OPENPANEL['browser'] must not contain a secret"),
        ({"browser": {"f": object()}}, "OPENPANEL['browser'] must contain only JSON values"),
        ({"request_event_name": "session_start"}, "OPENPANEL['request_event_name'] must be"),
        ({"webhook_secrets": ["whsec_!!"]}, "OPENPANEL['webhook_secrets'] holds an unusable"),
        ({"client_secret": 5}, "OPENPANEL['client_secret'] must be a string"),
    ],
)
def test_from_mapping_errors_name_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        BridgeConfig.from_mapping({"client_id": CLIENT_ID, **values}, source="OPENPANEL")
    assert str(info.value).startswith(message), str(info.value)


def test_from_mapping_refuses_non_mappings_and_duplicate_keys() -> None:
    with pytest.raises(ConfigurationError, match="OPENPANEL must be a mapping"):
        BridgeConfig.from_mapping(["client_id"], source="OPENPANEL")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="given twice"):
        BridgeConfig.from_mapping({"client_id": CLIENT_ID, "CLIENT_ID": CLIENT_ID})


def test_errors_never_contain_the_secret() -> None:
    with pytest.raises(ConfigurationError) as info:
        BridgeConfig.from_mapping({"client_id": CLIENT_ID, "client_secret": SECRET, "x": 1})
    assert SECRET not in str(info.value)
    assert SECRET not in repr(config())
    assert "client_secret=<hidden>" in repr(config())


def test_missing_client_id_is_a_problem_not_an_exception() -> None:
    c = BridgeConfig.from_mapping({})
    assert [p.id for p in c.problems()] == ["openpanel.E001"]
    problem = c.problems()[0]
    assert problem.level == "error"
    assert "client_id" in problem.message
    assert problem.hint
    assert BridgeConfig.from_mapping({"disabled": True}).problems() == []


def ids(problems: list[Problem]) -> list[str]:
    return [p.id for p in problems]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"api_url": "ftp://x"}, ["openpanel.E002"]),
        ({"prefix": "op"}, ["openpanel.E003"]),
        ({"cookie_samesite": "Loose"}, ["openpanel.E005"]),
        ({"device_cookie": True, "cookie_samesite": "None", "cookie_secure": False},
         ["openpanel.E004"]),
        ({"device_cookie": True, "cookie_samesite": "none", "cookie_secure": None}, []),
        ({"client_id": "not-a-uuid"}, ["openpanel.W001"]),
        ({"api_url": "http://ingest.example.com"}, ["openpanel.W002"]),
        ({"api_url": "http://localhost:3333"}, []),
        ({"device_cookie": True, "proxy": False}, ["openpanel.W003"]),
        ({"trusted_hops": 0, "proxy_timeout": -1}, ["openpanel.E008", "openpanel.E008"]),
        ({"exclude_paths": ("re:[",)}, ["openpanel.E011"]),
    ],
)  # fmt: skip
def test_problems(overrides: dict[str, Any], expected: list[str]) -> None:
    assert ids(config(**overrides).problems()) == expected


def test_problems_list_errors_before_warnings() -> None:
    c = config(client_id="nope", api_url="ftp://x")
    assert [p.level for p in c.problems()] == ["error", "warning"]


def test_config_is_frozen_and_hashable() -> None:
    c = config(browser={"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.prefix = "/x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.browser["a"] = 2  # type: ignore[index]
    assert hash(c) == hash(config(browser={"a": 1}))
    assert c == config(browser={"a": 1})


def test_browser_options_are_copied() -> None:
    options: dict[str, Any] = {"trackAttributes": True}
    c = config(browser=options)
    options["trackAttributes"] = False
    assert c.browser["trackAttributes"] is True


def test_make_client_uses_the_config() -> None:
    c = config(api_url="http://127.0.0.1:9/")
    client = c.make_client(flush_interval=0.5)
    try:
        assert isinstance(client, OpenPanel)
        assert client.client_id == CLIENT_ID
        assert client.api_url == "http://127.0.0.1:9"
        assert client.flush_interval == 0.5
    finally:
        client.shutdown(0.1)
    disabled = config(disabled=True).make_client()
    assert disabled.disabled
    disabled.shutdown(0.1)


def test_make_async_client_uses_the_config() -> None:
    client = config().make_async_client(disabled=True)
    assert isinstance(client, AsyncOpenPanel)
    assert client.client_id == CLIENT_ID
    assert client.disabled
