"""``python -m openpanel_server`` is ``openpanel-server``."""

from __future__ import annotations

from openpanel_server._cli import main

if __name__ == "__main__":  # not when a spawned worker process imports the main module
    raise SystemExit(main())
