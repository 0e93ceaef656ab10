"""Read-side client access for the analytics layer.

:func:`analytics_client` returns the store's read connection (chDB: a second engine handle,
so dashboard reads do not wait behind inserts). :func:`stream_client` returns a client for one
long streaming read: chDB serialises every call on a handle while a stream is open on it, so an
export on the shared read handle would stall the dashboard for its whole length; with chDB
this opens a dedicated handle on the same engine (about 10 ms) and closes it afterwards. A
server DSN's HTTP client is safe for concurrent streams and is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openpanel_server._store._client import ClickHouseClient, chdb_client
from openpanel_server._store._store import Store, _registry  # pyright: ignore[reportPrivateUsage]

__all__ = ["analytics_client", "stream_client"]


def analytics_client(store: Store) -> ClickHouseClient:
    """The client for analytics reads (parameterise every query)."""
    return store._read  # pyright: ignore[reportPrivateUsage]


def stream_client(store: Store) -> tuple[ClickHouseClient, Callable[[], None]]:
    """A client for one streaming read and the function that releases it.

    Returns:
        ``(client, release)``: call ``release()`` once the stream is closed.
    """
    if store.data_dir is None:  # a ClickHouse server: the HTTP client streams concurrently
        return analytics_client(store), _noop
    with _registry.lock:
        key = _registry.key if _registry.store is store else None
    if key is None:  # not the registered embedded store (closed): nothing safe to open
        msg = "the store is closed"
        raise RuntimeError(msg)
    client = chdb_client(Path(key.path), Path(key.config) if key.config else None)
    return client, client.close


def _noop() -> None:
    return None
