"""Send a few minutes' worth of realistic product traffic through the Python client.

Run with ``./dev start``. Simulated visitors browse, sign up, get identified, buy, join a
company group; the backend events carry each visitor's IP and user agent through
``client.context(...)`` as a web middleware would. Everything goes to a local collector that
validates it with the suite's wire models, then a summary is printed.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from examples.demo.sink import DemoSink
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=500)
    parser.add_argument("--port", type=int, default=0, help="collector port (default: any)")
    parser.add_argument("--serve", action="store_true", help="keep the collector up afterwards")
    args = parser.parse_args()

    sink = DemoSink(args.port).start()
    print(f"collector listening on {sink.url}  (GET {sink.url}/events lists what arrived)")
    client = OpenPanel(
        client_id="00000000-0000-4000-8000-000000000001",
        client_secret="sec_demo",
        api_url=sink.url,
        global_properties={"app": "demo-shop", "release": "2026.11"},
    )
    started = time.perf_counter()
    sent = simulate(client, args.visitors, random.Random(7))
    enqueue_ms = (time.perf_counter() - started) * 1000
    client.shutdown(10)
    elapsed_ms = (time.perf_counter() - started) * 1000

    stats = client.stats
    by_kind = Counter(
        e["payload"]["name"] if e["type"] == "track" else e["type"] for e in sink.events
    )
    print(f"\n{sent} calls by {args.visitors} simulated visitors")
    print(f"  caller side: {enqueue_ms:.1f} ms in all ({enqueue_ms * 1000 / sent:.1f} µs/call)")
    print(f"  delivered:   {stats.delivered} in {sink.requests} requests, {elapsed_ms:.0f} ms")
    print(f"  failed {stats.failed}, dropped {stats.dropped}, refused {stats.invalid}")
    print("\nwhat the collector received:")
    for kind, count in by_kind.most_common():
        print(f"  {kind:<14} {count}")
    if args.serve:
        print(f"\ncollector still up at {sink.url}/events; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    sink.stop()
    return 0 if stats.delivered == sent else 1


if __name__ == "__main__":
    raise SystemExit(main())
