# No `from __future__ import annotations`: FastAPI must see the local dependency in Annotated.
"""FastAPI and Starlette webhook helpers refuse replays by default; failed deliveries retry."""

import asyncio
import json
from typing import Annotated, Any

import pytest
from asgi_helpers import CLIENT_ID, asgi_client
from fastapi import Depends, FastAPI, HTTPException, Response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from openpanel_asgi._webhooks import make_receiver
from openpanel_asgi.fastapi import verified_webhook
from openpanel_asgi.starlette import webhook_endpoint
from openpanel_core.webhooks import ReplayCache, Verifier, WebhookMessage, generate_secret, sign
from openpanel_web_bridge import BridgeConfig

pytestmark = pytest.mark.anyio

SECRET = generate_secret()
BODY = json.dumps({"type": "event.created", "data": {"name": "purchase"}}).encode()
FRAMEWORKS = ["fastapi", "starlette"]


def signed(msg_id: str) -> dict[str, str]:
    return {**sign(BODY, SECRET, msg_id=msg_id), "content-type": "application/json"}


class Endpoint:
    """What the endpoint does on each call, in order ("ok" once the plan runs out)."""

    def __init__(self, plan: list[str] | None = None, *, delay: float = 0.0) -> None:
        self.plan = list(plan or [])
        self.runs: list[str] = []
        self.delay = delay

    async def step(self, message: WebhookMessage) -> str:
        self.runs.append(message.id or "")
        if self.delay:
            await asyncio.sleep(self.delay)
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "raise":
            raise RuntimeError("the database is down")
        return step


def fastapi_app(endpoint: Endpoint, **options: Any) -> FastAPI:
    app = FastAPI()
    dependency = verified_webhook(**options)

    @app.post("/hooks")
    async def receive(
        message: Annotated[WebhookMessage, Depends(dependency)], response: Response
    ) -> dict[str, Any]:
        step = await endpoint.step(message)
        if step == "http503":
            raise HTTPException(503, "try later")
        if step == "http422":
            raise HTTPException(422, "unprocessable")
        if step == "status502":
            response.status_code = 502
        if step == "status422":
            response.status_code = 422
        return {"id": message.id}

    return app


def starlette_app(endpoint: Endpoint, **options: Any) -> Starlette:
    @webhook_endpoint(**options)
    async def receive(request: Request, message: WebhookMessage) -> StarletteResponse:
        step = await endpoint.step(message)
        if step in ("status502", "http503"):
            return JSONResponse({"error": "later"}, status_code=502)
        if step in ("status422", "http422"):
            return JSONResponse({"error": "unprocessable"}, status_code=422)
        return JSONResponse({"id": message.id})

    return Starlette(routes=[Route("/hooks", receive, methods=["POST"])])


def build(framework: str, endpoint: Endpoint, **options: Any) -> Any:
    options.setdefault("secrets", SECRET)
    if framework == "fastapi":
        return fastapi_app(endpoint, **options)
    return starlette_app(endpoint, **options)


def reason(framework: str, response: Any) -> str:
    data = response.json()
    return data["detail"] if framework == "fastapi" else data["error"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_verbatim_replay_is_refused_without_running_the_endpoint(framework: str) -> None:
    endpoint = Endpoint()
    async with asgi_client(build(framework, endpoint)) as http:
        first = await http.post("/hooks", content=BODY, headers=signed("msg_1"))
        replay = await http.post("/hooks", content=BODY, headers=signed("msg_1"))
        other = await http.post("/hooks", content=BODY, headers=signed("msg_2"))
    assert first.status_code == 200
    assert replay.status_code == 400
    assert reason(framework, replay) == "replayed"
    assert other.status_code == 200
    assert endpoint.runs == ["msg_1", "msg_2"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("failure", ["raise", "http503", "status502"])
async def test_a_delivery_whose_endpoint_failed_is_accepted_on_retry(
    framework: str, failure: str
) -> None:
    endpoint = Endpoint([failure])
    app = build(framework, endpoint)
    async with asgi_client(app, raise_app_exceptions=False) as http:
        first = await http.post("/hooks", content=BODY, headers=signed("msg_r"))
        retry = await http.post("/hooks", content=BODY, headers=signed("msg_r"))
        replay = await http.post("/hooks", content=BODY, headers=signed("msg_r"))
    assert first.status_code >= 500
    assert retry.status_code == 200
    assert replay.status_code == 400
    assert endpoint.runs == ["msg_r", "msg_r"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_client_error_status_keeps_the_id(framework: str) -> None:
    endpoint = Endpoint(["status422"])
    async with asgi_client(build(framework, endpoint)) as http:
        first = await http.post("/hooks", content=BODY, headers=signed("msg_4"))
        again = await http.post("/hooks", content=BODY, headers=signed("msg_4"))
    assert (first.status_code, again.status_code) == (422, 400)
    assert endpoint.runs == ["msg_4"]


async def test_fastapi_releases_on_any_exception_even_a_client_error() -> None:
    # The dependency sees the exception, not the status it becomes: like Django's receiver,
    # a view that raised did not process the message.
    endpoint = Endpoint(["http422"])
    async with asgi_client(build("fastapi", endpoint)) as http:
        first = await http.post("/hooks", content=BODY, headers=signed("msg_5"))
        retry = await http.post("/hooks", content=BODY, headers=signed("msg_5"))
    assert (first.status_code, retry.status_code) == (422, 200)


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_seen_false_turns_replay_protection_off(framework: str) -> None:
    endpoint = Endpoint()
    async with asgi_client(build(framework, endpoint, seen=False)) as http:
        statuses = [
            (await http.post("/hooks", content=BODY, headers=signed("msg_1"))).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 200]
    assert endpoint.runs == ["msg_1"] * 3


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_an_explicit_store_is_used_and_released(framework: str) -> None:
    store = ReplayCache(ttl=60)
    endpoint = Endpoint(["raise"])
    app = build(framework, endpoint, seen=store)
    async with asgi_client(app, raise_app_exceptions=False) as http:
        assert (await http.post("/hooks", content=BODY, headers=signed("m"))).status_code == 500
        assert "m" not in store
        assert (await http.post("/hooks", content=BODY, headers=signed("m"))).status_code == 200
        assert "m" in store
        assert (await http.post("/hooks", content=BODY, headers=signed("m"))).status_code == 400


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_ready_verifier_gets_the_default_cache_too(framework: str) -> None:
    endpoint = Endpoint()
    app = build(framework, endpoint, secrets=Verifier(SECRET))
    async with asgi_client(app) as http:
        statuses = [
            (await http.post("/hooks", content=BODY, headers=signed("msg_v"))).status_code
            for _ in range(2)
        ]
    assert statuses == [200, 400]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_each_helper_has_its_own_cache(framework: str) -> None:
    first, second = Endpoint(), Endpoint()
    async with (
        asgi_client(build(framework, first)) as one,
        asgi_client(build(framework, second)) as two,
    ):
        a = await one.post("/hooks", content=BODY, headers=signed("msg_x"))
        b = await two.post("/hooks", content=BODY, headers=signed("msg_x"))
    assert (a.status_code, b.status_code) == (200, 200)


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_copies_arriving_while_the_first_is_processed_are_refused(framework: str) -> None:
    endpoint = Endpoint(delay=0.05)
    async with asgi_client(build(framework, endpoint)) as http:
        responses = await asyncio.gather(
            *(http.post("/hooks", content=BODY, headers=signed("msg_c")) for _ in range(8))
        )
    assert sorted(r.status_code for r in responses) == [200] + [400] * 7
    assert endpoint.runs == ["msg_c"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_store_whose_forget_raises_leaves_the_answer_alone(framework: str) -> None:
    class Broken(ReplayCache):
        def forget(self, message_id: str) -> None:
            raise OSError("store unreachable")

    endpoint = Endpoint(["status502"])
    async with asgi_client(build(framework, endpoint, seen=Broken())) as http:
        failed = await http.post("/hooks", content=BODY, headers=signed("msg_b"))
    assert failed.status_code == 502


async def test_forged_requests_never_reach_the_store() -> None:
    store = ReplayCache()
    endpoint = Endpoint()
    async with asgi_client(build("starlette", endpoint, seen=store)) as http:
        forged = await http.post(
            "/hooks", content=BODY, headers={**signed("msg_f"), "webhook-id": "msg_other"}
        )
        real = await http.post("/hooks", content=BODY, headers=signed("msg_f"))
    assert (forged.status_code, real.status_code) == (400, 200)
    assert "msg_other" not in store and "msg_f" in store


def test_the_default_cache_keeps_ids_twice_the_tolerance_plus_a_minute() -> None:
    config = BridgeConfig.from_mapping(
        {"client_id": CLIENT_ID, "webhook_secrets": [SECRET], "webhook_tolerance": 60}
    )

    def ttl(**options: Any) -> float:
        options = {"secrets": None, "tolerance": None, "config": None, "seen": None, **options}
        store = make_receiver(max_body_bytes=None, **options).store
        assert isinstance(store, ReplayCache)
        return store.ttl

    assert ttl(secrets=SECRET) == 660.0
    assert ttl(secrets=SECRET, tolerance=900) == 1860.0
    assert ttl(config=config) == 180.0
    assert ttl(secrets=Verifier(SECRET)) == 660.0
    assert ttl(secrets=Verifier(SECRET, tolerance=900), tolerance=900) == 1860.0
    assert (
        make_receiver(SECRET, tolerance=None, config=None, seen=False, max_body_bytes=None).store
        is None
    )
