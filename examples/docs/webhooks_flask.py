# Receiving OpenPanel webhooks in Flask.
from __future__ import annotations

import os

from flask import Flask

from openpanel_core.webhooks import WebhookMessage
from openpanel_flask import openpanel_webhook, webhook_message

app = Flask(__name__)
received: list[WebhookMessage] = []


@app.post("/webhooks/openpanel")
@openpanel_webhook(secrets=os.environ["OPENPANEL_WEBHOOK_SECRET"])
def openpanel_events() -> tuple[str, int]:
    message = webhook_message()  # verified: the view never runs for a refused request
    received.append(message)  # message.id is the idempotency key, message.data the body
    return "", 204
