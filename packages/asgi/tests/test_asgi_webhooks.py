# No `from __future__ import annotations`: FastAPI must see the local dependency in Annotated.
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from asgi_helpers import CLIENT_ID, asgi_client
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpanel_asgi.fastapi import verified_webhook
from openpanel_asgi.starlette import verify_webhook, webhook_endpoint
from openpanel_core import ConfigurationError
from openpanel_core.webhooks import Verifier, WebhookError, WebhookMessage, generate_secret, sign
from openpanel_web_bridge import BridgeConfig

pytestmark = pytest.mark.anyio

SECRET = generate_secret()
OTHER_SECRET = generate_secret()
BODY = json.dumps({"type": "event.created", "data": {"name": "purchase", "value": 42}}).encode()


def signed(
    body: bytes = BODY, *, secret: str = SECRET, msg_id: str = "msg_1", timestamp: int | None = None
) -> dict[str, str]:
    headers = sign(body, secret, msg_id=msg_id, timestamp=timestamp)
    return {**headers, "content-type": "application/json"}


class Seen:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def __call__(self, message_id: str) -> bool:
        if message_id in self.ids:
            return True
        self.ids.add(message_id)
        return False


def fastapi_app(ran: list[WebhookMessage], **options: Any) -> FastAPI:
    app = FastAPI()
    dependency = verified_webhook(**options)

    @app.post("/hooks", status_code=200)
    async def receive(message: Annotated[WebhookMessage, Depends(dependency)]) -> dict[str, Any]:
        ran.append(message)
        return {"id": message.id, "type": message.type}

    return app


def starlette_app(ran: list[WebhookMessage], **options: Any) -> Starlette:
    @webhook_endpoint(**options)
    async def receive(request: Request, message: WebhookMessage) -> Response:
        ran.append(message)
        return JSONResponse({"id": message.id, "type": message.type})

    verifier = Verifier(SECRET, seen=options.get("seen"))

    async def manual(request: Request) -> Response:
        try:
            message = await verify_webhook(request, verifier)
        except WebhookError as exc:
            return JSONResponse({"rejected": exc.reason}, status_code=exc.http_status)
        ran.append(message)
        return JSONResponse({"id": message.id, "type": message.type})

    return Starlette(
        routes=[
            Route("/hooks", receive, methods=["POST"]),
            Route("/manual", manual, methods=["POST"]),
        ]
    )


def rejection(framework: str, response: Any) -> str:
    data = response.json()
    return data["detail"] if framework == "fastapi" else data.get("error", data.get("rejected"))


CASES = [("fastapi", "/hooks"), ("starlette", "/hooks"), ("starlette", "/manual")]


def build(framework: str, ran: list[WebhookMessage], **options: Any) -> Any:
    return fastapi_app(ran, **options) if framework == "fastapi" else starlette_app(ran, **options)


@pytest.mark.parametrize(("framework", "path"), CASES)
async def test_valid_webhook_reaches_the_endpoint(framework: str, path: str) -> None:
    ran: list[WebhookMessage] = []
    async with asgi_client(build(framework, ran, secrets=SECRET)) as http:
        response = await http.post(path, content=BODY, headers=signed())
    assert response.status_code == 200
    assert response.json() == {"id": "msg_1", "type": "event.created"}
    [message] = ran
    assert message.body == BODY
    assert message.data == {"type": "event.created", "data": {"name": "purchase", "value": 42}}


@pytest.mark.parametrize(("framework", "path"), CASES)
async def test_rejections_never_run_the_endpoint(framework: str, path: str) -> None:
    ran: list[WebhookMessage] = []
    app = build(framework, ran, secrets=SECRET, seen=Seen())
    stale = int(time.time()) - 3600
    tampered = BODY.replace(b"42", b"43")
    async with asgi_client(app) as http:
        cases = {
            "tampered": await http.post(path, content=tampered, headers=signed()),
            "stale": await http.post(
                path, content=BODY, headers=signed(msg_id="m2", timestamp=stale)
            ),
            "wrong secret": await http.post(
                path, content=BODY, headers=signed(secret=OTHER_SECRET, msg_id="m3")
            ),
            "missing headers": await http.post(path, content=BODY),
        }
        first = await http.post(path, content=BODY, headers=signed(msg_id="m4"))
        replay = await http.post(path, content=BODY, headers=signed(msg_id="m4"))
    assert first.status_code == 200
    assert len(ran) == 1  # only the first delivery of m4
    assert replay.status_code == 400
    assert rejection(framework, replay) == "replayed"
    reasons = {name: (r.status_code, rejection(framework, r)) for name, r in cases.items()}
    assert reasons == {
        "tampered": (400, "signature_mismatch"),
        "stale": (400, "timestamp_too_old"),
        "wrong secret": (400, "signature_mismatch"),
        "missing headers": (400, "missing_header"),
    }
    for response in [*cases.values(), replay]:
        assert SECRET not in response.text and OTHER_SECRET not in response.text


@pytest.mark.parametrize("framework", ["fastapi", "starlette"])
async def test_rotation_config_and_body_limit(framework: str) -> None:
    ran: list[WebhookMessage] = []
    config = BridgeConfig.from_mapping(
        {"client_id": CLIENT_ID, "webhook_secrets": [OTHER_SECRET, SECRET], "webhook_tolerance": 60}
    )
    app = build(framework, ran, config=config, max_body_bytes=len(BODY))
    big = BODY + b" " * 10
    async with asgi_client(app) as http:
        ok = await http.post("/hooks", content=BODY, headers=signed())
        too_big = await http.post("/hooks", content=big, headers=signed(big))

        async def chunks() -> AsyncIterator[bytes]:
            yield big[:20]
            yield big[20:]

        streamed = await http.post("/hooks", content=chunks(), headers=signed(big, msg_id="m9"))
        old = await http.post(
            "/hooks", content=BODY, headers=signed(msg_id="m5", timestamp=int(time.time()) - 120)
        )
    assert ok.status_code == 200
    assert too_big.status_code == streamed.status_code == 413
    assert rejection(framework, too_big) == "payload_too_large"
    assert old.status_code == 400  # the config's 60 s tolerance, not the default 300
    assert len(ran) == 1


def test_no_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        verified_webhook()
    with pytest.raises(ConfigurationError):
        webhook_endpoint(config=BridgeConfig.from_mapping({"client_id": CLIENT_ID}))


async def test_fastapi_dependency_accepts_a_ready_verifier() -> None:
    ran: list[WebhookMessage] = []
    app = fastapi_app(ran, secrets=Verifier([SECRET], tolerance=10))
    async with asgi_client(app) as http:
        assert (await http.post("/hooks", content=BODY, headers=signed())).status_code == 200
        late = signed(msg_id="m6", timestamp=int(time.time()) - 30)
        assert (await http.post("/hooks", content=BODY, headers=late)).status_code == 400
    assert len(ran) == 1
