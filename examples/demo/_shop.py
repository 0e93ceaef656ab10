"""The Flask example shop, served next to the server, with visitors who browse and buy.

Each simulated visitor is a browser: it keeps its cookies, loads pages, sends the browser
script's ``screen_view`` through the shop's first-party proxy (``/_op/track``), logs in and
buys. The shop's backend tracks the login, the purchase and the revenue while serving those
requests, so on the server the browser's and the backend's events of one visitor share a
device and a session.
"""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from examples.flask_app import PRODUCTS, create_app, openpanel

__all__ = ["Shop", "browse", "received_webhooks", "start_shop", "webhook_endpoint"]

NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"]


@dataclass
class Shop:
    """A running shop: its URL, the Flask app and the server thread."""

    url: str
    app: Flask
    http: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and deliver what the shop's client still holds."""
        self.http.shutdown()
        self.thread.join(5)
        openpanel.shutdown(self.app, timeout=10.0)


def _server_cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openpanel_server", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def webhook_endpoint(data_dir: Path, project_id: str, url: str) -> str:
    """A webhook endpoint of the demo project for ``url``; returns its secret.

    Endpoints left by an earlier demo run for the same URL are deleted first (their secrets
    were shown once and are gone). The shop receives the ``event.created`` message of each
    ``purchase``, signed with Standard Webhooks headers.
    """
    for line in _server_cli(data_dir, "webhook", "list", "--project", project_id).splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].startswith("ep_") and fields[2] == url:
            _server_cli(data_dir, "webhook", "delete", fields[0])
    created = json.loads(
        _server_cli(
            data_dir,
            "webhook",
            "create",
            url,
            "--project",
            project_id,
            "--event",
            "event.created",
            "--event-name",
            "purchase",
            "--no-legacy-signature",
            "--webhook-allow-subnet",
            "127.0.0.0/8",
            "--webhook-allow-http",
        )
    )
    secret: str = created["secret"]
    return secret


def received_webhooks(shop: Shop, expected: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The verified webhooks the shop received, waiting up to ``timeout`` for ``expected``."""
    received: Any = shop.app.extensions["received_webhooks"]
    deadline = time.monotonic() + timeout
    while len(received) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(received)


def start_shop(
    creds: dict[str, str], api_url: str, port: int, webhook_secret: str | None = None
) -> Shop:
    """Serve the Flask example shop on 127.0.0.1:``port`` (0: any free port)."""
    app = create_app(
        {
            "OPENPANEL_CLIENT_ID": creds["clientId"],
            "OPENPANEL_CLIENT_SECRET": creds["clientSecret"],
            "OPENPANEL_API_URL": api_url,
            # The simulated visitors come "through a reverse proxy" with public addresses.
            "OPENPANEL_IP_HEADER": "x-forwarded-for",
            "OPENPANEL_WEBHOOK_SECRETS": [webhook_secret] if webhook_secret else [],
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per simulated request
    http = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="demo-shop", daemon=True)
    thread.start()
    return Shop(f"http://127.0.0.1:{http.server_port}", app, http, thread)


def _screen_view(url: str, path: str, title: str, referrer: str | None) -> str:
    properties: dict[str, Any] = {"__path": f"{url}{path}", "__title": title}
    if referrer:
        properties["__referrer"] = referrer
    return json.dumps(
        {"type": "track", "payload": {"name": "screen_view", "properties": properties}}
    )


def browse(
    shop: Shop, visitors: int, user_agents: list[str], rng: random.Random
) -> tuple[int, int]:
    """Send ``visitors`` browsers through the shop; returns the pages loaded and the purchases."""
    pages = purchases = 0
    skus = list(PRODUCTS)
    for n in range(visitors):
        headers = {
            "User-Agent": rng.choice(user_agents),
            "Accept-Language": "en-GB,en;q=0.9",
            "X-Forwarded-For": f"198.51.100.{n % 250 + 1}",
        }
        beacon = {
            "Content-Type": "application/json",
            "Origin": shop.url,
            "openpanel-sdk-name": "web",
            "openpanel-sdk-version": "1.0.0",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Site": "same-origin",
        }
        referrer = rng.choice([None, "https://www.google.com/", "https://news.ycombinator.com/"])
        with httpx.Client(
            base_url=shop.url, headers=headers, follow_redirects=True, timeout=10
        ) as browser:
            route = [("/", "Coffee gear")] + [
                (f"/products/{sku}", str(PRODUCTS[sku]["name"]))
                for sku in rng.sample(skus, k=rng.randint(1, len(skus)))
            ]
            for path, title in route:
                browser.get(path).raise_for_status()
                sent = browser.post(
                    "/_op/track",
                    content=_screen_view(shop.url, path, title, referrer),
                    headers=beacon,
                )
                sent.raise_for_status()
                referrer = None  # only the landing page has an external referrer
                pages += 1
            if rng.random() < 0.5:
                name = f"{rng.choice(NAMES)} {n}"
                browser.post("/login", data={"name": name, "next": route[-1][0]}).raise_for_status()
                if rng.random() < 0.6:
                    sku = route[-1][0].rsplit("/", 1)[-1] if len(route) > 1 else skus[0]
                    quantity = str(rng.randint(1, 3))
                    browser.post(f"/buy/{sku}", data={"quantity": quantity}).raise_for_status()
                    purchases += 1
    return pages, purchases
