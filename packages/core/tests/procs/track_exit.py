"""Track events, then end the script without ``flush()``/``shutdown()``: the exit drain sends.

argv: api_url, number of events, a file that receives ``time.monotonic()`` as the script's last
statement (the parent measures how long the interpreter took to exit from there), and optional
client options as a JSON object. Prints nothing to stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from proc_common import CLIENT_ID, report_internal_errors_at_exit

report_internal_errors_at_exit()

from openpanel_core import OpenPanel  # noqa: E402 - after the atexit registration on purpose

url, count, stamp = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
options: dict[str, Any] = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}

client = OpenPanel(CLIENT_ID, api_url=url, **options)
for i in range(count):
    client.track("exit_drain", {"n": i})
stamp.write_text(repr(time.monotonic()))
