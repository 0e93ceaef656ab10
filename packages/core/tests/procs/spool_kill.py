"""Fill a durable spool against a server that takes nothing, then wait to be SIGKILLed.

argv: api_url, spool file, number of events. Prints ``ready`` once ``stats.spooled`` reached the
number of events, then sleeps; prints ``timeout`` and exits 1 if that does not happen in 20 s.
"""

from __future__ import annotations

import sys
import time

from proc_common import CLIENT_ID

from openpanel_core import OpenPanel

url, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

client = OpenPanel(CLIENT_ID, api_url=url, persist_path=path)
for i in range(count):
    client.track("spooled", {"n": i})
end = time.monotonic() + 20
while client.stats.spooled != count:
    if time.monotonic() > end:
        print("timeout", client.stats, flush=True)
        sys.exit(1)
    time.sleep(0.01)
print("ready", flush=True)
time.sleep(60)
