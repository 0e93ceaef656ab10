"""``@openpanel_webhook`` refuses replays by default and lets a failed delivery's retry in."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flask import Blueprint, Flask, Response, abort
from flask_helpers import CLIENT_ID, recording_client
from werkzeug.serving import make_server

from openpanel_core.webhooks import ReplayCache, generate_secret, sign
from openpanel_flask import OpenPanel, openpanel_webhook, webhook_message

SECRET = generate_secret()
BODY = json.dumps({"type": "event.created", "data": {"name": "purchase"}}).encode()

#: What the view does on each call, in order; "ok" once the list runs out.
Plan = list[str]


def _app(plan: Plan | None = None, *, extension: bool = True, **kwargs: Any) -> Flask:
    app = Flask("replay_app")
    app.config.from_mapping(
        {
            "OPENPANEL_CLIENT_ID": CLIENT_ID,
            "OPENPANEL_WEBHOOK_SECRETS": [SECRET],
            "PROPAGATE_EXCEPTIONS": False,  # a raising view answers 500, as in production
        }
    )
    steps = list(plan or [])
    runs: list[str] = []
    app.extensions["test_runs"] = runs

    @app.post("/hook")
    @openpanel_webhook(**kwargs)
    def hook() -> Any:
        message = webhook_message()
        runs.append(message.id or "")
        step = steps.pop(0) if steps else "ok"
        if step == "raise":
            raise RuntimeError("the database is down")
        if step == "abort503":
            abort(503)
        if step == "500":
            return {"error": "try later"}, 500
        if step == "422":
            return {"error": "unprocessable"}, 422
        return "", 204

    if extension:
        client, _ = recording_client()
        OpenPanel(app, client=client)
    return app


def _runs(app: Flask) -> list[str]:
    runs: list[str] = app.extensions["test_runs"]
    return runs


def _post(app: Flask, headers: dict[str, str], body: bytes = BODY) -> Any:
    return app.test_client().post("/hook", data=body, headers=headers)


def test_a_verbatim_replay_is_refused_without_running_the_view() -> None:
    app = _app()
    headers = sign(BODY, SECRET, msg_id="msg_1")
    assert _post(app, headers).status_code == 204
    again = _post(app, headers)
    assert again.status_code == 400
    assert again.json == {"error": "replayed"}
    assert _runs(app) == ["msg_1"]
    # Another message is not affected.
    assert _post(app, sign(BODY, SECRET, msg_id="msg_2")).status_code == 204
    assert _runs(app) == ["msg_1", "msg_2"]


@pytest.mark.parametrize("failure", ["raise", "abort503", "500"])
def test_a_delivery_whose_view_failed_is_accepted_on_retry(failure: str) -> None:
    app = _app([failure])
    headers = sign(BODY, SECRET, msg_id="msg_retry")
    first = _post(app, headers)
    assert first.status_code >= 500
    retry = _post(app, headers)
    assert retry.status_code == 204
    assert _post(app, headers).status_code == 400  # processed now: a replay again
    assert _runs(app) == ["msg_retry", "msg_retry"]


def test_a_client_error_answer_keeps_the_id() -> None:
    app = _app(["422"])
    headers = sign(BODY, SECRET, msg_id="msg_4xx")
    assert _post(app, headers).status_code == 422
    assert _post(app, headers).status_code == 400
    assert _runs(app) == ["msg_4xx"]


def test_seen_false_turns_replay_protection_off() -> None:
    app = _app(seen=False)
    headers = sign(BODY, SECRET, msg_id="msg_1")
    assert [_post(app, headers).status_code for _ in range(3)] == [204, 204, 204]
    assert _runs(app) == ["msg_1"] * 3


def test_an_explicit_store_with_forget_is_used_and_released() -> None:
    store = ReplayCache(ttl=60)
    app = _app(["raise"], seen=store)
    headers = sign(BODY, SECRET, msg_id="msg_s")
    assert _post(app, headers).status_code == 500
    assert "msg_s" not in store  # released after the failure
    assert _post(app, headers).status_code == 204
    assert "msg_s" in store
    assert _post(app, headers).status_code == 400
    assert app.extensions.get("openpanel_webhook_replays") is None  # no default cache made


def test_a_plain_callable_store_without_forget_still_works() -> None:
    ids: set[str] = set()

    def seen(message_id: str) -> bool:
        if message_id in ids:
            return True
        ids.add(message_id)
        return False

    app = _app(["500"], seen=seen)
    headers = sign(BODY, SECRET, msg_id="msg_p")
    assert _post(app, headers).status_code == 500
    assert _post(app, headers).status_code == 400  # nothing to release it with
    assert ids == {"msg_p"}


def test_a_store_whose_forget_raises_leaves_the_answer_alone() -> None:
    class Broken(ReplayCache):
        def forget(self, message_id: str) -> None:
            raise OSError("store unreachable")

    app = _app(["500", "raise"], seen=Broken())
    first = _post(app, sign(BODY, SECRET, msg_id="a"))
    assert (first.status_code, first.json) == (500, {"error": "try later"})
    second = _post(app, sign(BODY, SECRET, msg_id="b"))
    assert second.status_code == 500
    assert b"Internal Server Error" in second.data  # Flask's own error page, unchanged


def test_forged_requests_never_reach_the_cache() -> None:
    app = _app()
    headers = sign(BODY, SECRET, msg_id="msg_f")
    forged = _post(app, {**headers, "webhook-id": "msg_other"})
    assert forged.status_code == 400
    assert forged.json == {"error": "signature_mismatch"}
    assert _post(app, headers).status_code == 204  # the real one is still new
    [cache] = app.extensions["openpanel_webhook_replays"].values()
    assert "msg_other" not in cache


def test_the_default_cache_is_per_app_and_view_and_follows_the_tolerance() -> None:
    bp = Blueprint("hooks", __name__)
    runs: list[str] = []

    @bp.post("/a")
    @openpanel_webhook
    def hook_a() -> tuple[str, int]:
        runs.append("a")
        return "", 204

    @bp.post("/b")
    @openpanel_webhook(secrets=SECRET)
    def hook_b() -> tuple[str, int]:
        runs.append("b")
        return "", 204

    apps: list[Flask] = []
    for tolerance in (300, 900):
        app = Flask(f"app{tolerance}")
        app.config.from_mapping(
            OPENPANEL_CLIENT_ID=CLIENT_ID,
            OPENPANEL_WEBHOOK_SECRETS=[SECRET],
            OPENPANEL_WEBHOOK_TOLERANCE=tolerance,
        )
        OpenPanel(app, client=recording_client()[0])
        app.register_blueprint(bp)
        apps.append(app)
    headers = sign(BODY, SECRET, msg_id="msg_shared")
    statuses = [
        app.test_client().post(path, data=BODY, headers=headers).status_code
        for app in apps
        for path in ("/a", "/b", "/a", "/b")
    ]
    assert statuses == [204, 204, 400, 400] * 2
    assert runs == ["a", "b"] * 2
    ttls = [sorted(c.ttl for c in a.extensions["openpanel_webhook_replays"].values()) for a in apps]
    assert ttls == [[660.0, 660.0], [1860.0, 1860.0]]  # 2 * tolerance + 60


def test_without_the_extension_the_default_cache_still_applies() -> None:
    app = _app(extension=False, secrets=SECRET)
    headers = sign(BODY, SECRET, msg_id="msg_x")
    assert [_post(app, headers).status_code for _ in range(2)] == [204, 400]


@pytest.fixture
def served() -> Iterator[Callable[[Flask], str]]:
    servers: list[Any] = []

    def serve(app: Flask) -> str:
        http = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        servers.append(http)
        return f"http://127.0.0.1:{http.server_port}"

    yield serve
    for http in servers:
        http.shutdown()
        http.server_close()


def test_concurrent_copies_of_one_delivery_run_the_view_once(
    served: Callable[[Flask], str],
) -> None:
    app = Flask("threaded")
    app.config.from_mapping(OPENPANEL_CLIENT_ID=CLIENT_ID, OPENPANEL_WEBHOOK_SECRETS=[SECRET])
    OpenPanel(app, client=recording_client()[0])
    runs: list[str] = []

    @app.post("/hook")
    @openpanel_webhook
    def hook() -> Response:
        runs.append(webhook_message().id or "")
        time.sleep(0.05)  # still processing while the copies arrive
        return Response(status=204)

    url = served(app) + "/hook"
    headers = sign(BODY, SECRET, msg_id="msg_race")

    def deliver(_: int) -> int:
        return httpx.post(url, content=BODY, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(deliver, range(8)))
    assert sorted(statuses) == [204] + [400] * 7
    assert runs == ["msg_race"]
