"""``python -m openpanel_server`` is ``openpanel-server``."""

from __future__ import annotations

from openpanel_server._cli import main

raise SystemExit(main())
