"""The opt-in device cookie: Set-Cookie attributes, reading back, validation; webhook helpers."""

from __future__ import annotations

import json
import time
from http.cookies import SimpleCookie

import pytest
from bridge_helpers import config

from openpanel_core.webhooks import (
    MissingHeaderError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    Verifier,
    generate_secret,
    sign,
)
from openpanel_web_bridge import (
    device_cookie_header,
    new_device_id,
    read_device_cookie,
    rejection_body,
    webhook_verifier,
)

ON = config(device_cookie=True)


def test_round_trip() -> None:
    device = new_device_id()
    header = device_cookie_header(device, ON, https=False)
    # What a browser sends back: name=value only.
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    cookie = f"sessionid=abc; {jar['op_did'].key}={jar['op_did'].value}; theme=dark"
    assert read_device_cookie(cookie, ON) == device


def test_set_cookie_attributes() -> None:
    device = "0123456789abcdef"
    assert device_cookie_header(device, ON, https=False) == (
        "op_did=0123456789abcdef; Max-Age=63072000; Path=/; HttpOnly; SameSite=Lax"
    )
    assert device_cookie_header(device, ON, https=True) == (
        "op_did=0123456789abcdef; Max-Age=63072000; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    custom = config(
        device_cookie=True,
        cookie_name="did",
        cookie_max_age=3600,
        cookie_secure=True,
        cookie_samesite="strict",
        cookie_domain=".example.com",
    )
    assert device_cookie_header(device, custom, https=False) == (
        "did=0123456789abcdef; Max-Age=3600; Path=/; Domain=.example.com; Secure; HttpOnly; "
        "SameSite=Strict"
    )
    never = config(device_cookie=True, cookie_secure=False)
    assert "Secure" not in device_cookie_header(device, never, https=True)


@pytest.mark.parametrize("bad", ["", "short", "has space here", "a;b=c1234567", "x" * 65, "é" * 10])
def test_set_cookie_refuses_bad_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="device_id"):
        device_cookie_header(bad, ON, https=True)


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("op_did=abcdefgh1234", "abcdefgh1234"),
        ('op_did="abcdefgh1234"', "abcdefgh1234"),
        ("a=1;op_did=abcdefgh1234;b=2", "abcdefgh1234"),
        ("xop_did=abcdefgh1234", None),
        ("op_did=", None),
        ("op_did=short", None),
        ("op_did=" + "x" * 65, None),
        ("op_did=<script>alert(1)</script>", None),
        ("op_did=abc defgh1234", None),
        ("op_did", None),
        ("", None),
        (None, None),
    ],
)
def test_read_validates(cookie: str | None, expected: str | None) -> None:
    assert read_device_cookie(cookie, ON) == expected


def test_read_needs_opt_in() -> None:
    assert read_device_cookie("op_did=abcdefgh1234", config()) is None


def test_new_device_id_is_valid_and_random() -> None:
    ids = {new_device_id() for _ in range(100)}
    assert len(ids) == 100
    for device in ids:
        assert read_device_cookie(f"op_did={device}", ON) == device


def test_webhook_verifier() -> None:
    assert webhook_verifier(config()) is None
    old, new = generate_secret(), generate_secret()
    verifier = webhook_verifier(config(webhook_secrets=(new, old), webhook_tolerance=60))
    assert isinstance(verifier, Verifier)
    body = b'{"type":"event.created","data":{}}'
    headers = sign(body, old, msg_id="msg_1", timestamp=int(time.time()))
    assert verifier.verify(body, headers).id == "msg_1"
    stale = sign(body, new, msg_id="msg_2", timestamp=int(time.time()) - 120)
    with pytest.raises(TimestampOutOfToleranceError):
        verifier.verify(body, stale)


def test_rejection_body() -> None:
    secret = generate_secret()
    assert json.loads(rejection_body(MissingHeaderError("webhook-id"))) == {
        "error": "missing_header"
    }
    body = rejection_body(SignatureMismatchError(f"no match for {secret}"))
    assert body == b'{"error":"signature_mismatch"}'
