"""Send a few minutes' worth of realistic product traffic through the Python client and a shop.

Run with ``./dev start``: it starts the reference server (``openpanel-server serve`` with its
embedded ClickHouse store in ``./.openpanel-demo``), then:

* simulated visitors browse, sign up, get identified, buy and join a company group through the
  Python client; the backend events carry each visitor's IP and user agent through
  ``client.context(...)``, as a web middleware would, so the server derives their devices and
  sessions;
* the Flask example shop (``examples/flask_app``, with ``openpanel-flask``) is served on
  http://127.0.0.1:5001 and simulated browsers load its pages, send the browser script's
  screen views through its first-party proxy, log in and buy, so the shop's backend events
  and the browsers' events of each visitor share one session;
* the server sends a signed webhook for each purchase to the shop's receiver
  (``/webhooks/openpanel``, verified by ``@openpanel_webhook``; listed on ``/webhooks``).

A summary of what the server stored is printed, and the server and the shop keep running for
you to explore (``--once`` stops them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from examples.demo._shop import browse, received_webhooks, start_shop, webhook_endpoint
from openpanel_core import OpenPanel

PAGES = ["/", "/pricing", "/docs", "/blog/launch", "/signup", "/checkout"]
BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
]


def simulate(client: OpenPanel, visitors: int, rng: random.Random) -> int:
    sent = 0
    for n in range(visitors):
        ip = f"203.0.113.{n % 250 + 1}"
        ua = rng.choice(BROWSERS)
        user = f"user-{n}"
        with client.context(ip=ip, user_agent=ua):
            for path in rng.sample(PAGES, k=rng.randint(1, len(PAGES))):
                client.track("screen_view", {"__path": f"https://shop.example{path}"})
                sent += 1
            if rng.random() < 0.4:
                client.track("signup", {"plan": rng.choice(["free", "pro", "team"])})
                client.identify(user, first_name=f"Visitor {n}", email=f"{user}@example.com")
                sent += 2
                with client.context(profile_id=user):
                    if rng.random() < 0.5:
                        client.revenue(rng.choice([900, 2900, 9900]), {"currency": "USD"})
                        client.increment(user, "purchases")
                        sent += 2
                    if rng.random() < 0.3:
                        client.upsert_group(f"org-{n % 7}", type="company", name=f"Org {n % 7}")
                        client.set_group(f"org-{n % 7}", profile_id=user)
                        sent += 2
    return sent


def start_server(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    cmd = [
        sys.executable,
        "-m",
        "openpanel_server",
        "--data-dir",
        str(data_dir),
        "serve",
        "--port",
        str(port),
    ]
    # The demo's webhook endpoint is the shop on 127.0.0.1, over http: allowed explicitly (the
    # server refuses private addresses and plain http otherwise).
    env = {
        **os.environ,
        "OPENPANEL_SERVER_WEBHOOK_ALLOW_SUBNETS": "127.0.0.0/8",
        "OPENPANEL_SERVER_WEBHOOK_ALLOW_HTTP": "1",
    }
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the server did not start within 60 s")


def stored_counts(url: str, creds: dict[str, str]) -> Counter[str]:
    headers = {
        "openpanel-client-id": creds["readClientId"],
        "openpanel-client-secret": creds["readClientSecret"],
    }
    counts: Counter[str] = Counter()
    page = 1
    while True:
        r = httpx.get(
            f"{url}/export/events",
            params={"limit": 1000, "page": page},
            headers=headers,
            timeout=30,
        )
        r.raise_for_status()
        body = r.json()
        counts.update(e["name"] for e in body["data"])
        if page >= body["meta"]["pages"]:
            return counts
        page += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=500)
    parser.add_argument("--port", type=int, default=3333, help="server port (default 3333)")
    parser.add_argument(
        "--shop-port", type=int, default=5001, help="the Flask example shop's port (default 5001)"
    )
    parser.add_argument("--shoppers", type=int, default=60, help="browsers sent through the shop")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".openpanel-demo"),
        help="the server's data folder (default ./.openpanel-demo)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="stop the server after the demo instead of keeping it up",
    )
    args = parser.parse_args()

    proc, url = start_server(args.data_dir, args.port)
    try:
        creds = json.loads((args.data_dir / "credentials.json").read_text())
        client = OpenPanel(
            client_id=creds["clientId"],
            client_secret=creds["clientSecret"],
            api_url=url,
            global_properties={"app": "demo-shop", "release": "2026.11"},
        )
        started = time.perf_counter()
        sent = simulate(client, args.visitors, random.Random(7))
        enqueue_ms = (time.perf_counter() - started) * 1000
        client.shutdown(30)
        elapsed_ms = (time.perf_counter() - started) * 1000
        stats = client.stats
        shop_url = f"http://127.0.0.1:{args.shop_port}/webhooks/openpanel"
        secret = webhook_endpoint(args.data_dir, creds["projectId"], shop_url)
        shop = start_shop(creds, url, args.shop_port, webhook_secret=secret)
        pages, purchases = browse(shop, args.shoppers, BROWSERS, random.Random(11))
        shop_client = shop.app.extensions["openpanel"].client
        shop_client.flush(30)
        time.sleep(0.5)  # the server moves its write-ahead log to the store every 0.2 s
        counts = stored_counts(url, creds)
        print(f"\n{sent} calls by {args.visitors} simulated visitors")
        print(f"  caller side: {enqueue_ms:.1f} ms in all ({enqueue_ms * 1000 / sent:.1f} µs/call)")
        print(f"  delivered:   {stats.delivered} acknowledged by the server in {elapsed_ms:.0f} ms")
        print(f"  failed {stats.failed}, dropped {stats.dropped}, refused {stats.invalid}")
        shop_stats = shop_client.stats
        hooks = received_webhooks(shop, min(purchases, 50))  # the shop lists the last 50
        print(f"\n{args.shoppers} browsers in the Flask shop ({shop.url}): {pages} pages")
        print(
            f"  the shop's backend: {shop_stats.delivered} events delivered, "
            f"{shop_stats.failed} failed, {shop_stats.dropped} dropped"
        )
        print("\nevents the server stored (with the sessions it derived):")
        for name, count in counts.most_common():
            print(f"  {name:<14} {count}")
        print(f"\nserver: {url}  (data in {args.data_dir.resolve()})")
        print(
            f"  events:  curl -H 'openpanel-client-id: {creds['readClientId']}' "
            f"-H 'openpanel-client-secret: {creds['readClientSecret']}' "
            f"'{url}/export/events?limit=5&includes=properties'"
        )
        print(f"  track:   POST {url}/track with openpanel-client-id {creds['clientId']}")
        print(f"  dashboard: {url}/dashboard  (sign in with the read client id and secret above)")
        print(f"  shop:    {shop.url}  (log in, buy, then look at the events again)")
        print(
            f"  webhooks: {len(hooks)} signed purchase webhooks received and verified by the "
            f"shop ({shop.url}/webhooks)"
        )
        ok = (
            stats.delivered == sent
            and shop_stats.failed == 0
            and shop_stats.dropped == 0
            and len(hooks) == min(purchases, 50)
        )
        if not args.once:
            print("\nthe server and the shop keep running; Ctrl-C to stop")
            proc.wait()
        shop.stop()
        return 0 if ok else 1
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    raise SystemExit(main())
