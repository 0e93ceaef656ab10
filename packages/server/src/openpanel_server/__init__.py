"""The OpenPanel-compatible reference server: ingestion, storage, exports, analytics, webhooks.

``openpanel-server`` speaks OpenPanel's ``/track`` API (so the official OpenPanel clients
work with it too) plus the suite's ``/track/batch`` extension, stores events in ClickHouse SQL
(embedded chDB by default, or a ClickHouse server or cluster), and serves the export and
analytics APIs, signed webhooks and a dashboard. The SDKs' tests and the demo run against it.

It is used through its command line (``openpanel-server serve``, ``project``, ``client``,
``webhook``, ...) and its HTTP API, not imported: this package exports only ``__version__``.
"""

from __future__ import annotations

from openpanel_core import __version__

__all__ = ["__version__"]
