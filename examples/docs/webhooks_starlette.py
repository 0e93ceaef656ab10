# Receiving OpenPanel webhooks in Starlette.
from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openpanel_asgi.starlette import webhook_endpoint
from openpanel_core.webhooks import WebhookMessage

received: list[WebhookMessage] = []


@webhook_endpoint(secrets=os.environ["OPENPANEL_WEBHOOK_SECRET"])
async def receive(request: Request, message: WebhookMessage) -> Response:
    # Runs only for a verified delivery. message.id is the idempotency key, message.data the body.
    received.append(message)
    return Response(status_code=204)


app = Starlette(routes=[Route("/webhooks/openpanel", receive, methods=["POST"])])
