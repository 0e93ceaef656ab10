from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from django.core import checks
from django.test import override_settings
from django_helpers import MIDDLEWARE, OpenPanelFixture

from openpanel_django import _checks

Error = "Error"
Warning = "Warning"


class Msg(NamedTuple):
    kind: str
    id: str
    msg: str
    hint: str


def typed(found: Sequence[checks.CheckMessage]) -> list[Msg]:
    return [Msg(type(m).__name__, str(m.id), str(m.msg), str(m.hint or "")) for m in found]


def check_openpanel() -> list[Msg]:
    return typed(_checks.check_openpanel())


def run_checks(tags: list[str]) -> list[Msg]:
    return typed(checks.run_checks(tags=tags))


AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
OURS = "openpanel_django.middleware.OpenPanelMiddleware"


def ids(messages: list[Msg]) -> list[str]:
    return [m.id for m in messages]


def test_the_test_settings_are_clean() -> None:
    assert check_openpanel() == []
    assert [m for m in run_checks(tags=["openpanel"]) if m.id.startswith("openpanel")] == []


def test_checks_are_registered_under_the_openpanel_tag() -> None:
    with override_settings(OPENPANEL=None):
        found = run_checks(tags=["openpanel"])
    assert ids(found) == ["openpanel.E100"]


def test_missing_or_invalid_setting_is_an_error() -> None:
    with override_settings(OPENPANEL=None):
        [missing] = check_openpanel()
    assert missing.kind == Error
    assert missing.id == "openpanel.E100"
    assert "settings.OPENPANEL is not set" in missing.msg
    with override_settings(OPENPANEL={"client_id": "x", "api_url": "ftp://example.com"}):
        [bad_url] = check_openpanel()
    assert bad_url.id == "openpanel.E100"
    assert "OPENPANEL['api_url'] must be an http(s) URL" in bad_url.msg
    with override_settings(OPENPANEL={"client_id": "x", "IDENTIFY": "no.such.module.fn"}):
        [bad_hook] = check_openpanel()
    assert "OPENPANEL['IDENTIFY']" in bad_hook.msg
    with override_settings(OPENPANEL=["client_id"]):
        assert ids(check_openpanel()) == ["openpanel.E100"]


def test_bridge_problems_are_reported_with_their_ids_and_hints(op: OpenPanelFixture) -> None:
    with op.settings(client_id=""):
        [missing] = check_openpanel()
    assert missing.kind == Error
    assert missing.id == "openpanel.E001"
    assert missing.hint
    with op.settings(client_id="not-a-uuid", device_cookie=True, proxy=False):
        found = check_openpanel()
    assert {m.id for m in found} >= {"openpanel.W001", "openpanel.W003"}
    assert all(m.kind == Warning for m in found)


def test_authentication_middleware_order() -> None:
    after = [m for m in MIDDLEWARE if m != AUTH]
    after.append(AUTH)
    with override_settings(MIDDLEWARE=after):
        [error] = check_openpanel()
    assert error.kind == Error
    assert error.id == "openpanel.E101"
    assert "below AuthenticationMiddleware" in error.hint
    without = [m for m in MIDDLEWARE if m != AUTH]
    with override_settings(MIDDLEWARE=without):
        [warning] = check_openpanel()
    assert (warning.kind, warning.id) == (Warning, "openpanel.W102")


def test_auth_order_does_not_matter_without_identify_users(op: OpenPanelFixture) -> None:
    after = [*(m for m in MIDDLEWARE if m != AUTH), AUTH]
    with op.settings(identify_users=False), override_settings(MIDDLEWARE=after):
        assert check_openpanel() == []


def test_middleware_missing_or_twice() -> None:
    with override_settings(MIDDLEWARE=[m for m in MIDDLEWARE if m != OURS]):
        assert ids(check_openpanel()) == ["openpanel.W103"]
    with override_settings(MIDDLEWARE=[*MIDDLEWARE, OURS]):
        assert ids(check_openpanel()) == ["openpanel.W106"]


def test_urls_must_be_mounted_at_the_prefix(op: OpenPanelFixture) -> None:
    with op.settings(prefix="/analytics"):
        [error] = check_openpanel()
    assert error.id == "openpanel.E104"
    assert "'/_op'" in error.msg and "'/analytics'" in error.msg
    with override_settings(ROOT_URLCONF="django_test_urls_bare"):
        [warning] = check_openpanel()
    assert warning.id == "openpanel.W105"
    assert 'include("openpanel_django.urls")' in warning.hint
    with (
        op.settings(script=False, proxy=False),
        override_settings(ROOT_URLCONF="django_test_urls_bare"),
    ):
        assert check_openpanel() == []
