from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.test import override_settings
from django_helpers import CLIENT_ID, OpenPanelFixture

import openpanel_django
from openpanel_core import ConfigurationError, OpenPanel
from openpanel_django._settings import read_settings


def test_exports_are_exactly_the_public_names() -> None:
    public = {n for n in dir(openpanel_django) if not n.startswith("_")} | {"__version__"}
    modules = {"apps", "middleware", "urls", "templatetags", "annotations"}
    assert sorted(openpanel_django.__all__) == openpanel_django.__all__
    assert set(openpanel_django.__all__) == public - modules


def test_importing_the_package_reads_no_settings() -> None:
    code = (
        "import openpanel_django, openpanel_django.apps, openpanel_django.middleware\n"
        "import openpanel_django.templatetags.openpanel\n"
        "from django.conf import settings\n"
        "assert not settings.configured\n"
        "from openpanel_django.apps import OpenPanelConfig\n"
        "assert OpenPanelConfig.label == 'openpanel'\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr


def test_one_client_per_process_rebuilt_when_settings_change(op: OpenPanelFixture) -> None:
    first = openpanel_django.get_client()
    assert openpanel_django.get_client() is first
    assert isinstance(first, OpenPanel)
    assert first.client_id == CLIENT_ID
    with op.settings(client_id="6c1c9f43-2f0a-4a9e-8d4c-0f0e8a1b2c3d"):
        second = openpanel_django.get_client()
        assert second is not first
        assert second.client_id == "6c1c9f43-2f0a-4a9e-8d4c-0f0e8a1b2c3d"
    assert openpanel_django.get_client() is not second


def test_wrong_settings_give_a_disabled_client_not_an_exception() -> None:
    with override_settings(OPENPANEL={"client_id": "x", "nonsense": True}):
        client = openpanel_django.get_client()
        assert client.disabled
        with pytest.raises(ConfigurationError, match="nonsense"):
            openpanel_django.get_config()


def test_shortcuts_use_the_process_client(op: OpenPanelFixture) -> None:
    openpanel_django.track("signup", {"plan": "pro"}, profile_id="u1")
    openpanel_django.identify("u1", first_name="Ada", properties={"tier": 2})
    openpanel_django.revenue(1999, {"currency": "EUR"}, profile_id="u1")
    signup, identify, revenue = op.events
    assert (signup.name, signup.properties["plan"], signup.payload["profileId"]) == (
        "signup",
        "pro",
        "u1",
    )
    assert identify.payload == {"profileId": "u1", "firstName": "Ada", "properties": {"tier": 2}}
    assert revenue.name == "revenue"
    assert revenue.properties["__revenue"] == 1999


def test_settings_keys_in_any_case_and_django_only_keys(op: OpenPanelFixture) -> None:
    with override_settings(
        OPENPANEL={
            "CLIENT_ID": CLIENT_ID,
            "Track_Requests": True,
            "identify": "openpanel_django.default_identify",
            "WEBHOOK_REPLAY_CACHE": None,
            "client_options": {"flush_interval": 0.5},
        }
    ):
        config, options = read_settings()
    assert config.client_id == CLIENT_ID and config.track_requests
    assert options.identify is openpanel_django.default_identify
    assert options.webhook_replay_cache is None
    assert options.client_options == {"flush_interval": 0.5}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"CLIENT_OPTIONS": ["x"]}, "CLIENT_OPTIONS"),
        ({"WEBHOOK_REPLAY_CACHE": 3}, "WEBHOOK_REPLAY_CACHE"),
        ({"PROFILE_ID": 42}, "PROFILE_ID"),
        ({"IDENTIFY": "os.path.nope"}, "IDENTIFY"),
        ({1: "x"}, "keys must be strings"),
    ],
)
def test_bad_django_only_keys(extra: dict[Any, Any], message: str) -> None:
    with (
        override_settings(OPENPANEL={"client_id": CLIENT_ID, **extra}),
        pytest.raises(ConfigurationError, match=message),
    ):
        read_settings()


def test_bad_client_options_are_logged_and_disable_sending(
    op: OpenPanelFixture, caplog: pytest.LogCaptureFixture
) -> None:
    with op.settings(CLIENT_OPTIONS={"no_such_option": 1}):
        client = openpanel_django.get_client()
    assert client.disabled
    assert "cannot create the client" in caplog.text


def test_default_user_hooks() -> None:
    class User:
        pk = 7
        first_name = "Ada"
        last_name = ""
        email = "ada@example.com"

    assert openpanel_django.default_profile_id(User()) == "7"
    assert openpanel_django.default_identify(User()) == {
        "first_name": "Ada",
        "email": "ada@example.com",
    }
    assert openpanel_django.default_profile_id(object()) is None
