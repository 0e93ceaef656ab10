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
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from examples.flask_app import PRODUCTS, create_app, openpanel

__all__ = ["Shop", "browse", "start_shop"]

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


def start_shop(creds: dict[str, str], api_url: str, port: int) -> Shop:
    """Serve the Flask example shop on 127.0.0.1:``port`` (0: any free port)."""
    app = create_app(
        {
            "OPENPANEL_CLIENT_ID": creds["clientId"],
            "OPENPANEL_CLIENT_SECRET": creds["clientSecret"],
            "OPENPANEL_API_URL": api_url,
            # The simulated visitors come "through a reverse proxy" with public addresses.
            "OPENPANEL_IP_HEADER": "x-forwarded-for",
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


def browse(shop: Shop, visitors: int, user_agents: list[str], rng: random.Random) -> int:
    """Send ``visitors`` browsers through the shop; returns how many pages they loaded."""
    pages = 0
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
    return pages
