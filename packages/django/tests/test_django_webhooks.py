from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django_helpers import AsyncWeb, OpenPanelFixture, Response, Web
from django_test_urls import EXPLICIT_SECRET, received

import openpanel_django
from openpanel_core.webhooks import generate_secret, sign

SECRET_A = generate_secret()
SECRET_B = generate_secret()


@pytest.fixture(autouse=True)
def _hooks(op: OpenPanelFixture) -> Generator[None]:
    received.clear()
    cache.clear()
    with op.settings(webhook_secrets=[SECRET_A]):
        yield
    received.clear()


def body_of(**data: Any) -> bytes:
    return json.dumps({"type": "event.created", "data": {"name": "signup", **data}}).encode()


def signed(
    body: bytes, secret: str = SECRET_A, msg_id: str = "msg_1", timestamp: int | None = None
) -> dict[str, str]:
    headers = sign(body, secret, msg_id=msg_id, timestamp=timestamp)
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def deliver(path: str, body: bytes, headers: dict[str, str], web: Web | None = None) -> Response:
    return (web or Web()).post(path, body, **headers)


def error(response: Response) -> str:
    assert response["Content-Type"] == "application/json"
    reason: str = response.json()["error"]
    return reason


def test_valid_webhook_reaches_the_view() -> None:
    body = body_of()
    response = deliver("/hooks/fn/", body, signed(body))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "type": "event.created"}
    [(kind, message)] = received
    assert kind == "fn"
    assert message.id == "msg_1"
    assert message.body == body
    assert message.data == {"type": "event.created", "data": {"name": "signup"}}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered", "signature_mismatch"),
        ("wrong_secret", "signature_mismatch"),
        ("stale", "timestamp_too_old"),
        ("future", "timestamp_too_new"),
        ("missing_headers", "missing_header"),
        ("no_signature", "missing_header"),
    ],
)
def test_refused_webhooks_never_run_the_view(case: str, reason: str) -> None:
    body = body_of()
    headers = signed(body)
    if case == "tampered":
        body = body_of(name="admin")
    elif case == "wrong_secret":
        headers = signed(body, secret=SECRET_B)
    elif case == "stale":
        headers = signed(body, timestamp=int(time.time()) - 3600)
    elif case == "future":
        headers = signed(body, timestamp=int(time.time()) + 3600)
    elif case == "missing_headers":
        headers = {}
    else:
        del headers["HTTP_WEBHOOK_SIGNATURE"]
    for path in ("/hooks/fn/", "/hooks/class/"):
        response = deliver(path, body, headers)
        assert response.status_code == 400, path
        assert error(response) == reason
    assert received == []


def test_replayed_message_is_refused() -> None:
    body = body_of()
    assert deliver("/hooks/fn/", body, signed(body)).status_code == 200
    replay = deliver("/hooks/fn/", body, signed(body))
    assert replay.status_code == 400
    assert error(replay) == "replayed"
    another = deliver("/hooks/fn/", body, signed(body, msg_id="msg_2"))
    assert another.status_code == 200
    assert [m.id for _, m in received] == ["msg_1", "msg_2"]


def test_failed_view_releases_the_id_for_the_senders_retry() -> None:
    body = body_of(fail=True)
    assert deliver("/hooks/fn/", body, signed(body)).status_code == 503
    assert deliver("/hooks/fn/", body, signed(body)).status_code == 503  # retried, not "replayed"
    assert len(received) == 2


def test_secret_rotation_and_explicit_secrets(op: OpenPanelFixture) -> None:
    body = body_of()
    with op.settings(webhook_secrets=[SECRET_B, SECRET_A]):
        assert deliver("/hooks/fn/", body, signed(body, msg_id="old")).status_code == 200
        assert deliver("/hooks/fn/", body, signed(body, SECRET_B, "new")).status_code == 200
    # secrets= on the decorator win over the settings; replay_cache=None accepts repeats.
    headers = signed(body, secret=EXPLICIT_SECRET)
    assert deliver("/hooks/explicit/", body, headers).status_code == 204
    assert deliver("/hooks/explicit/", body, headers).status_code == 204
    assert deliver("/hooks/explicit/", body, signed(body)).status_code == 400
    assert [k for k, _ in received] == ["fn", "fn", "explicit", "explicit"]


def test_no_secret_configured_refuses_everything(
    op: OpenPanelFixture, caplog: pytest.LogCaptureFixture
) -> None:
    body = body_of()
    with op.settings():
        response = deliver("/hooks/fn/", body, signed(body))
    assert response.status_code == 500
    assert error(response) == "not_configured"
    assert received == []
    assert "has no secret" in caplog.text


def test_only_post_and_body_limit() -> None:
    assert Web().get("/hooks/fn/").status_code == 405
    assert Web().get("/hooks/class/").status_code == 405
    body = json.dumps({"type": "big", "data": "x" * 1_100_000}).encode()
    response = deliver("/hooks/fn/", body, signed(body))
    assert response.status_code == 413
    assert error(response) == "payload_too_large"
    assert received == []


def test_csrf_checks_do_not_apply_to_webhooks() -> None:
    body = body_of()
    web = Web(enforce_csrf_checks=True)
    assert deliver("/hooks/fn/", body, signed(body), web).status_code == 200
    assert deliver("/hooks/class/", body, signed(body, msg_id="m2"), web).status_code == 204


def test_class_based_receiver() -> None:
    body = body_of()
    response = deliver("/hooks/class/", body, signed(body))
    assert response.status_code == 204
    [(kind, message)] = received
    assert (kind, message.type) == ("class", "event.created")
    assert deliver("/hooks/class/", body, signed(body)).status_code == 400  # replay


def test_class_handler_error_releases_the_id() -> None:
    body = body_of(**{"raise": True})
    web = Web(raise_request_exception=False)
    assert deliver("/hooks/class/", body, signed(body), web).status_code == 500
    assert deliver("/hooks/class/", body, signed(body), web).status_code == 500
    assert len(received) == 2


@pytest.mark.anyio
async def test_async_view_receiver() -> None:
    body = body_of()
    headers = {
        k.lower().removeprefix("http_").replace("_", "-"): v for k, v in signed(body).items()
    }
    web = AsyncWeb()
    response = await web.post("/hooks/async/", body, headers=headers)
    assert response.status_code == 200
    assert [k for k, _ in received] == ["async"]
    tampered = await web.post("/hooks/async/", body_of(name="x"), headers=headers)
    assert tampered.status_code == 400
    replay = await web.post("/hooks/async/", body, headers=headers)
    assert replay.status_code == 400
    assert len(received) == 1


def test_webhook_message_outside_a_receiver() -> None:
    with pytest.raises(LookupError):
        openpanel_django.webhook_message(HttpRequest())
