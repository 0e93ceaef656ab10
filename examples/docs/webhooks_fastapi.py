# Receiving OpenPanel webhooks in FastAPI.
# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at run time.
import os
from typing import Annotated

from fastapi import Depends, FastAPI

from openpanel_asgi.fastapi import verified_webhook
from openpanel_core.webhooks import WebhookMessage

app = FastAPI()
openpanel_webhook = verified_webhook(secrets=os.environ["OPENPANEL_WEBHOOK_SECRET"])
received: list[WebhookMessage] = []


@app.post("/webhooks/openpanel", status_code=204)
async def receive(message: Annotated[WebhookMessage, Depends(openpanel_webhook)]) -> None:
    # Runs only for a verified delivery. message.id is the idempotency key, message.data the body.
    received.append(message)
