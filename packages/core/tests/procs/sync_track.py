"""``sync_mode``: each ``track()`` has reached the server when it returns.

argv: api_url, number of events. After every ``track()`` the script asks the test server how
many events it has accepted (``GET /_seen``) and prints one JSON line per event:
``{"n": i, "seen": accepted_so_far, "seconds": time_spent_in_track}``.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request

from proc_common import CLIENT_ID, report_internal_errors_at_exit

report_internal_errors_at_exit()

from openpanel_core import OpenPanel  # noqa: E402 - after the atexit registration on purpose

url, count = sys.argv[1], int(sys.argv[2])


def seen() -> int:
    with urllib.request.urlopen(url + "/_seen", timeout=5) as r:
        accepted: int = json.loads(r.read())["accepted"]
    return accepted


client = OpenPanel(CLIENT_ID, api_url=url, sync_mode=True)
for i in range(count):
    t0 = time.monotonic()
    client.track("sync_event", {"n": i})
    spent = time.monotonic() - t0
    print(json.dumps({"n": i, "seen": seen(), "seconds": spent}), flush=True)
