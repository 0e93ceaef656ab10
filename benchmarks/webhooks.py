# pyright: basic
"""Webhook verification: microseconds per call, ours beside standardwebhooks, svix and stripe.

Usage (the peers live in the benchmark venv, see run.sh)::

    benchmarks/run.sh webhooks [--rounds 500] [--json results.json]
    benchmarks/.venv/bin/python benchmarks/webhooks.py

Each implementation verifies a valid delivery of a 1 KiB and a 64 KiB JSON body, as its users
call it, without JSON parsing where the library lets us skip it:

* ours: ``openpanel_core.webhooks.Verifier(secret).verify(body, headers, parse=False)``
  (Standard Webhooks v1; the key is decoded once in the constructor, as in the integrations);
* ``standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)``;
* ``svix.webhooks.Webhook(secret).verify(body, headers)`` (it parses the JSON: no option);
* ``stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)`` (Stripe's
  own scheme, ``t=...,v1=<hex>``, which has no id in the signed content).

Method: the clock is live (signatures are made just before timing, well inside the 300 s
window); 500 rounds, each running every cell once in a shuffled order; each cell is a batch of
calls calibrated to about 2 ms; the garbage collector is off while timing. Before timing, every
implementation must accept the valid delivery and refuse a tampered body. Prints a markdown
table (median, p10, p90 in microseconds per call; ratio to ours) and the machine it ran on.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from openpanel_core.webhooks import Verifier, WebhookError

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
SIZES = {"1 KiB": 1024, "64 KiB": 65536}


def body_of(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes, shaped like an ``event.created`` delivery."""
    head = {"type": "event.created", "timestamp": "2027-01-15T08:00:00.000Z", "data": {"pad": ""}}
    empty = len(json.dumps(head, separators=(",", ":")).encode())
    head["data"]["pad"] = "x" * (size - empty)
    raw = json.dumps(head, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def standard_headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{MSG_ID}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "content-type": "application/json",
    }


def stripe_header(body: bytes) -> str:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


Call = Callable[[], object]


def implementations(body: bytes) -> dict[str, tuple[Call, Call]]:
    """name -> (verify the valid delivery, verify a tampered body: must raise)."""
    tampered = body[:-2] + b"y}"
    headers = standard_headers(body)
    out: dict[str, tuple[Call, Call]] = {}

    ours = Verifier(SECRET)
    out["ours (openpanel-core Verifier)"] = (
        lambda: ours.verify(body, headers, parse=False),
        lambda: ours.verify(tampered, headers, parse=False),
    )
    try:
        from standardwebhooks.webhooks import Webhook as StandardWebhook

        swh = StandardWebhook(SECRET)
        out["standardwebhooks Webhook.verify(json_parse=False)"] = (
            lambda: swh.verify(body, headers, json_parse=False),
            lambda: swh.verify(tampered, headers, json_parse=False),
        )
    except ImportError:
        print("standardwebhooks is not installed: skipped", file=sys.stderr)
    try:
        from svix.webhooks import Webhook as SvixWebhook  # pyright: ignore[reportMissingImports]

        svix_hook = SvixWebhook(SECRET)
        out["svix Webhook.verify"] = (
            lambda: svix_hook.verify(body, headers),
            lambda: svix_hook.verify(tampered, headers),
        )
    except ImportError:
        print("svix is not installed: skipped (use benchmarks/run.sh webhooks)", file=sys.stderr)
    try:
        import stripe  # pyright: ignore[reportMissingImports]

        sig = stripe_header(body)
        verify_header = stripe.WebhookSignature.verify_header
        out["stripe WebhookSignature.verify_header(tolerance=300)"] = (
            lambda: verify_header(body, sig, SECRET, tolerance=300),
            lambda: verify_header(tampered, sig, SECRET, tolerance=300),
        )
    except ImportError:
        print("stripe is not installed: skipped (use benchmarks/run.sh webhooks)", file=sys.stderr)
    return out


def sanity(name: str, good: Call, bad: Call) -> None:
    good()
    try:
        bad()
    except (WebhookError, Exception) as exc:  # each library has its own error class
        if isinstance(exc, (AssertionError, TypeError, NameError)):
            raise
        return
    raise SystemExit(f"{name} accepted a tampered body")


def calibrate(fn: Call, target: float = 0.002) -> int:
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start >= target / 4:
            per = (time.perf_counter() - start) / n
            return max(1, int(target / per))
        n *= 2


def run(rounds: int) -> list[dict[str, Any]]:
    cells: list[tuple[str, str, Call, int]] = []
    for size_name, size in SIZES.items():
        body = body_of(size)
        for name, (good, bad) in implementations(body).items():
            sanity(name, good, bad)
            cells.append((name, size_name, good, calibrate(good)))
    samples: dict[tuple[str, str], list[float]] = {(c[0], c[1]): [] for c in cells}
    rng = random.Random(1)
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            order = list(cells)
            rng.shuffle(order)
            for name, size_name, fn, n in order:
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[(name, size_name)].append((time.perf_counter() - start) / n * 1e6)
    finally:
        gc.enable()
    rows: list[dict[str, Any]] = []
    for (name, size_name), values in samples.items():
        q = statistics.quantiles(values, n=10)
        rows.append(
            {
                "implementation": name,
                "body": size_name,
                "median_us": statistics.median(values),
                "p10_us": q[0],
                "p90_us": q[-1],
                "rounds": len(values),
            }
        )
    return rows


def machine() -> str:
    import ssl

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for module in ("standardwebhooks", "svix", "stripe"):
        try:
            from importlib.metadata import version

            versions.append(f"{module} {version(module)}")
        except Exception:
            versions.append(f"{module} (not installed)")
    return (
        f"CPython {platform.python_version()}, {ssl.OPENSSL_VERSION}, {cpu}, "
        f"{os.cpu_count()} CPUs; " + ", ".join(versions)
    )


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| implementation | body | median µs | p10 | p90 | × ours |",  # noqa: RUF001
        "|---|---|---|---|---|---|",
    ]
    ours = {r["body"]: r["median_us"] for r in rows if r["implementation"].startswith("ours")}
    for size_name in SIZES:
        same = sorted((r for r in rows if r["body"] == size_name), key=lambda r: r["median_us"])
        lines.extend(
            f"| {r['implementation']} | {size_name} | {r['median_us']:.2f} | "
            f"{r['p10_us']:.2f} | {r['p90_us']:.2f} | {r['median_us'] / ours[size_name]:.2f} |"
            for r in same
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows = run(args.rounds)
    print(table(rows))
    print()
    print(machine())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
