"""A webhook receiver in plain Python (WSGI, standard library only besides openpanel-core).

``OPENPANEL_WEBHOOK_SECRET`` is the endpoint's ``whsec_...`` secret (printed once by
``openpanel-server webhook create``). Run it with ``python webhook_receiver.py``: it listens on
http://127.0.0.1:8000/webhooks/openpanel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from openpanel_core.webhooks import ReplayCache, Verifier, WebhookMessage, WebhookVerificationError

# --8<-- [start:receiver]
replays = ReplayCache()  # ids of processed messages, kept 600 s (twice the 300 s tolerance)
received: list[WebhookMessage] = []


def handle(message: WebhookMessage) -> None:
    """Your code: message.id is the idempotency key, message.data the JSON body."""
    assert message.data is not None
    received.append(message)
    print(message.id, message.type, json.dumps(message.data["data"])[:80])


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] != "/webhooks/openpanel" or environ["REQUEST_METHOD"] != "POST":
        start_response("404 Not Found", [("content-type", "text/plain")])
        return [b"not found"]
    # Verify the raw bytes as received: never a re-serialised JSON.
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    # Read the secret per request so a rotation needs no restart; several during a rotation.
    verifier = Verifier(os.environ["OPENPANEL_WEBHOOK_SECRET"].split(","), seen=replays)
    try:
        message = verifier.verify(body, headers)
    except WebhookVerificationError as exc:  # bad signature, stale timestamp, replay, ...
        start_response(f"{exc.http_status} Refused", [("content-type", "application/json")])
        return [json.dumps({"error": exc.reason}).encode()]
    try:
        handle(message)
    except Exception:
        assert message.id is not None
        replays.forget(message.id)  # not processed: let the server's retry in
        raise
    start_response("204 No Content", [])
    return [b""]


# --8<-- [end:receiver]


if __name__ == "__main__":
    with make_server("127.0.0.1", 8000, app) as server:
        server.serve_forever()
