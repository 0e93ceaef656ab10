"""``AsyncOpenPanel`` in a script that never awaits ``flush()``/``shutdown()``.

argv: api_url, mode, number of events. Modes:

* ``noloop``: events tracked outside any event loop (no sender task ever ran);
* ``queued``: tracked inside ``asyncio.run(main())``, ``main`` returns without awaiting
  anything (the sender task never ran);
* ``inflight``: tracked inside ``asyncio.run(main())``; ``main`` returns once the sender task
  has taken every event and a delivery is waiting to retry (the test server refuses first
  attempts with 503), so closing the loop cancels the deliveries in their backoff.

Either way the exit drain is left to send what the script did not. Prints nothing to stdout.
"""

from __future__ import annotations

import asyncio
import sys
import time

from proc_common import CLIENT_ID, report_internal_errors_at_exit

report_internal_errors_at_exit()

from openpanel_core import AsyncOpenPanel  # noqa: E402 - after the atexit registration on purpose

url, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
clients: list[AsyncOpenPanel] = []


def track_all() -> None:
    client = AsyncOpenPanel(CLIENT_ID, api_url=url)
    clients.append(client)
    for i in range(count):
        client.track("async_exit", {"n": i})


async def main() -> None:
    track_all()
    if mode == "inflight":
        client = clients[0]
        end = time.monotonic() + 10
        while client.stats.queued or not client.stats.retried:
            if time.monotonic() > end:
                sys.exit(f"no delivery got to a retry: {client.stats}")
            await asyncio.sleep(0.001)


if mode == "noloop":
    track_all()
elif mode in ("queued", "inflight"):
    asyncio.run(main())
else:
    sys.exit(f"unknown mode {mode!r}")
