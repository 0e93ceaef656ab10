"""The typed slice of clickhouse-connect the store uses, and client construction.

clickhouse-connect's signatures are partially untyped; this module is the only place that
touches them, so the rest of the package stays pyright-strict clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError

from openpanel_server._store._errors import StoreOpenError

__all__ = ["ClickHouseClient", "QueryResultLike", "chdb_client", "server_client"]


class QueryResultLike(Protocol):
    """The part of ``clickhouse_connect.driver.query.QueryResult`` we read."""

    @property
    def result_rows(self) -> Sequence[Sequence[Any]]:
        """Rows as sequences of Python values."""
        ...


class ClickHouseClient(Protocol):
    """The part of ``clickhouse_connect.driver.client.Client`` we call."""

    def query(
        self,
        query: str,
        parameters: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QueryResultLike:
        """Run a SELECT with server-side ``{name:Type}`` parameters."""
        ...

    def command(
        self,
        cmd: str,
        parameters: dict[str, Any] | None = None,
        data: str | bytes | None = None,
        settings: dict[str, Any] | None = None,
    ) -> object:
        """Run a statement that returns no result set (DDL)."""
        ...

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        *,
        column_type_names: Sequence[str] | None = None,
        column_oriented: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> object:
        """Insert a batch in Native format."""
        ...

    def raw_insert(
        self,
        table: str,
        column_names: Sequence[str] | None = None,
        insert_block: bytes | None = None,
        settings: dict[str, Any] | None = None,
        fmt: str | None = None,
    ) -> object:
        """Insert bytes already in ``fmt`` (e.g. JSONEachRow), parsed by ClickHouse."""
        ...

    def close(self) -> None:
        """Release the connection (chDB: the engine handle)."""
        ...


def chdb_client(path: Path, config: Path | None) -> ClickHouseClient:
    """Open a chDB-backed client on ``path`` (absolute), optionally with a config file.

    Raises:
        StoreOpenError: chDB refused the path (another directory is open in this process, or
            another process holds this one).
    """
    options = {"config-file": str(config)} if config is not None else None
    try:
        client: object = clickhouse_connect.get_client(  # pyright: ignore[reportUnknownMemberType]
            dsn=f"chdb://{path}", tz_mode="aware", chdb_options=options
        )
    except DatabaseError as exc:  # another directory open here, or another process holds it
        msg = f"cannot open the chDB engine at {path}: {exc}"
        raise StoreOpenError(msg) from exc
    return cast("ClickHouseClient", client)


def server_client(dsn: str) -> ClickHouseClient:
    """Open an HTTP client for a ClickHouse URL, safe for concurrent use (no session id).

    Query parameters go in the request body (``form_encode_query_params``), not the URL, so
    large filter values never hit the server's URI length limit.
    """
    client: object = clickhouse_connect.get_client(  # pyright: ignore[reportUnknownMemberType]
        dsn=dsn, tz_mode="aware", autogenerate_session_id=False, form_encode_query_params=True
    )
    return cast("ClickHouseClient", client)
