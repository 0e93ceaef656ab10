"""``@openpanel_webhook``: the view runs only for verified deliveries."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask, g
from flask_helpers import CLIENT_ID, recording_client

from openpanel_core.webhooks import InvalidSecretError, WebhookMessage, generate_secret, sign
from openpanel_flask import OpenPanel, openpanel_webhook, webhook_message

SECRET = generate_secret()
OLD_SECRET = generate_secret()
BODY = json.dumps({"type": "event.created", "data": {"name": "purchase"}}).encode()


def _app(config: dict[str, Any] | None = None, *, extension: bool = True, **kwargs: Any) -> Flask:
    app = Flask("webhook_app")
    app.config.from_mapping(
        {
            "TESTING": True,
            "OPENPANEL_CLIENT_ID": CLIENT_ID,
            "OPENPANEL_WEBHOOK_SECRETS": [SECRET],
            **(config or {}),
        }
    )
    runs: list[WebhookMessage] = []
    app.extensions["test_runs"] = runs

    @app.post("/hook/<kind>")
    @openpanel_webhook(**kwargs)
    def hook(kind: str) -> tuple[str, int]:
        message = g.openpanel_webhook
        assert message is webhook_message()
        runs.append(message)
        return f"{kind}:{message.type}", 202

    if extension:
        client, _ = recording_client()
        OpenPanel(app, client=client)
    return app


def _runs(app: Flask) -> list[WebhookMessage]:
    runs: list[WebhookMessage] = app.extensions["test_runs"]
    return runs


def _post(app: Flask, body: bytes, headers: dict[str, str]) -> Any:
    return app.test_client().post(
        "/hook/x", data=body, headers={**headers, "Content-Type": "application/json"}
    )


def test_a_valid_delivery_reaches_the_view_with_the_message() -> None:
    app = _app()
    r = _post(app, BODY, sign(BODY, SECRET, msg_id="msg_1"))
    assert (r.status_code, r.text) == (202, "x:event.created")
    [message] = _runs(app)
    assert message.id == "msg_1"
    assert message.data == {"type": "event.created", "data": {"name": "purchase"}}
    assert message.body == BODY


def test_a_tampered_body_is_rejected_without_running_the_view() -> None:
    app = _app()
    headers = sign(BODY, SECRET, msg_id="msg_1")
    r = _post(app, BODY.replace(b"purchase", b"refund!!"), headers)
    assert r.status_code == 400
    assert r.json == {"error": "signature_mismatch"}
    assert _runs(app) == []


def test_a_stale_timestamp_is_rejected() -> None:
    app = _app()
    headers = sign(BODY, SECRET, msg_id="msg_1", timestamp=int(time.time()) - 3600)
    r = _post(app, BODY, headers)
    assert r.status_code == 400
    assert r.json["error"] == "timestamp_too_old"
    assert _runs(app) == []


def test_tolerance_comes_from_the_config_or_the_argument() -> None:
    stale = sign(BODY, SECRET, msg_id="msg_1", timestamp=int(time.time()) - 600)
    assert _post(_app({"OPENPANEL_WEBHOOK_TOLERANCE": 900}), BODY, stale).status_code == 202
    assert _post(_app(tolerance=900), BODY, stale).status_code == 202
    assert _post(_app(), BODY, stale).status_code == 400


def test_a_replayed_message_is_rejected_with_a_replay_store() -> None:
    processed: set[str] = set()

    def seen(message_id: str) -> bool:
        if message_id in processed:
            return True
        processed.add(message_id)
        return False

    app = _app(seen=seen)
    headers = sign(BODY, SECRET, msg_id="msg_7")
    assert _post(app, BODY, headers).status_code == 202
    again = _post(app, BODY, headers)
    assert again.status_code == 400
    assert again.json == {"error": "replayed"}
    assert len(_runs(app)) == 1


def test_the_wrong_secret_is_rejected() -> None:
    app = _app()
    r = _post(app, BODY, sign(BODY, generate_secret(), msg_id="msg_1"))
    assert r.status_code == 400
    assert r.json == {"error": "signature_mismatch"}
    assert _runs(app) == []


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_rejected(missing: str) -> None:
    app = _app()
    headers = sign(BODY, SECRET, msg_id="msg_1")
    del headers[missing]
    r = _post(app, BODY, headers)
    assert r.status_code == 400
    assert r.json == {"error": "missing_header"}
    assert _runs(app) == []


def test_rotation_accepts_the_old_and_the_new_secret() -> None:
    app = _app({"OPENPANEL_WEBHOOK_SECRETS": [SECRET, OLD_SECRET]})
    assert _post(app, BODY, sign(BODY, OLD_SECRET, msg_id="a")).status_code == 202
    assert _post(app, BODY, sign(BODY, SECRET, msg_id="b")).status_code == 202


def test_explicit_secrets_work_without_the_extension() -> None:
    app = _app(extension=False, secrets=SECRET)
    assert _post(app, BODY, sign(BODY, SECRET, msg_id="m")).status_code == 202
    assert _post(app, BODY, sign(BODY, OLD_SECRET, msg_id="m")).status_code == 400


def test_bare_decorator_uses_the_configured_secrets() -> None:
    app = Flask("bare")
    app.config.from_mapping(OPENPANEL_CLIENT_ID=CLIENT_ID, OPENPANEL_WEBHOOK_SECRETS=SECRET)
    client, _ = recording_client()
    OpenPanel(app, client=client)

    @app.post("/bare")
    @openpanel_webhook
    def bare() -> str:
        return webhook_message().type or ""

    web = app.test_client()
    assert web.post("/bare", data=BODY, headers=sign(BODY, SECRET, msg_id="m")).text == (
        "event.created"
    )
    assert web.post("/bare", data=BODY).status_code == 400


def test_no_secret_anywhere_refuses_with_500_and_never_runs_the_view() -> None:
    app = _app({"OPENPANEL_WEBHOOK_SECRETS": []})
    r = _post(app, BODY, sign(BODY, SECRET, msg_id="m"))
    assert r.status_code == 500
    assert r.json == {"error": "webhook_not_configured"}
    assert _runs(app) == []


def test_oversize_bodies_get_413_before_reading() -> None:
    app = _app(max_body_bytes=100)
    big = b"{" + b" " * 200 + b"}"
    r = _post(app, big, sign(big, SECRET, msg_id="m"))
    assert r.status_code == 413
    assert _runs(app) == []


def test_a_malformed_explicit_secret_fails_at_decoration() -> None:
    with pytest.raises(InvalidSecretError):
        openpanel_webhook(secrets="whsec_not base64!")


def test_webhook_message_outside_a_webhook_view() -> None:
    app = _app()
    with app.test_request_context("/"), pytest.raises(LookupError):
        webhook_message()
