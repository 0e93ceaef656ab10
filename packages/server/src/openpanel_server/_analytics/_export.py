"""Streaming export of events as CSV or NDJSON, in constant memory.

The query reads in the table's sort-key order (``project_id, toDate(created_at),
created_at``), so ClickHouse streams rows as it reads them instead of sorting the whole
range first (measured: time to first byte 0.06-0.18 s and +0-17 MB RSS for 1M rows, against
1.6-2.3 s and +1.5-2.0 GB with ``ORDER BY created_at``). Output settings ride in the SQL's
``SETTINGS`` clause: clickhouse-connect's chDB backend materialises a ``raw_stream`` that is
given per-call settings. ``CSVWithNames`` is not streamable in chDB either (each block repeats
the header), so CSV streams as ``CSV`` after a header line written here. Blocks are capped at
4096 rows (``max_block_size``), which bounds the bytes in flight to about 1 MB a block.
"""

# SQL text here is assembled from constants and placeholders only; values are parameters.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from pydantic import Field, field_validator

from openpanel_server._analytics._context import QueryContext
from openpanel_server._analytics._filter_model import MAX_FILTERS, Filter
from openpanel_server._analytics._ranges import RangeFields, resolve_window
from openpanel_server._analytics._run import AnalyticsClient, RawStream, check_regexes
from openpanel_server._analytics._sql import Params, Query
from openpanel_server._analytics._where import event_conditions
from openpanel_server._store._export import OPTIONAL_EVENT_FIELDS, event_field_selection

__all__ = ["ExportFormat", "ExportRequest", "ExportStream", "build_export", "open_export"]

ExportFormat = Literal["csv", "ndjson"]

_SETTINGS = (
    " SETTINGS prefer_column_name_to_alias = 1, date_time_output_format = 'iso',"
    " output_format_json_quote_64bit_integers = 0, format_csv_null_representation = '',"
    " optimize_read_in_order = 1, max_block_size = 4096"
)
_CSV_JSON = frozenset({"properties", "groups"})


class ExportRequest(RangeFields):
    """Which events to export.

    Attributes:
        events: Keep only these names (empty: all).
        filters: Event filters.
        includes: Optional fields beyond the defaults, by OpenPanel name (``properties``,
            ``origin``, ``referrerName``...).
        format: ``csv`` or ``ndjson`` (one JSON object per line).
    """

    events: list[str] = Field(default_factory=list[str], max_length=100)
    filters: list[Filter] = Field(default_factory=list[Filter], max_length=MAX_FILTERS)
    includes: list[str] = Field(default_factory=list[str], max_length=50)
    format: ExportFormat = "ndjson"

    @field_validator("includes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in OPTIONAL_EVENT_FIELDS]
        if unknown:
            msg = f"unknown fields {unknown}; known: {sorted(OPTIONAL_EVENT_FIELDS)}"
            raise ValueError(msg)
        return value


def _columns(request: ExportRequest) -> dict[str, str]:
    fields = event_field_selection(request.includes)
    if request.format == "csv":
        fields = {k: f"toJSONString({v})" if k in _CSV_JSON else v for k, v in fields.items()}
    return fields


def build_export(request: ExportRequest, ctx: QueryContext) -> Query:
    """The export query (without its ``FORMAT``, which the stream call adds)."""
    params = Params()
    window = resolve_window(request, ctx.zone, ctx.current_time())
    where = event_conditions(ctx, params, window, request.filters, names=request.events or None)
    select = ", ".join(f"{expr} AS {name}" for name, expr in _columns(request).items())
    sql = (
        f"SELECT {select} FROM events WHERE {' AND '.join(where)}"
        " ORDER BY project_id, toDate(created_at), created_at" + _SETTINGS
    )
    return params.query(sql)


class ExportStream:
    """An open export: iterate it for byte chunks; always :meth:`close` it (or exhaust it).

    Attributes:
        media_type: ``text/csv; charset=utf-8`` or ``application/x-ndjson``.
        columns: The exported field names, in order.
    """

    def __init__(
        self,
        stream: RawStream,
        header: bytes,
        media_type: str,
        columns: list[str],
        chunk_size: int,
        on_close: Callable[[], None] | None,
    ) -> None:
        self._stream = stream
        self._header = header
        self._chunk = chunk_size
        self._on_close = on_close
        self._closed = False
        self.media_type = media_type
        self.columns = columns

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._header:
                yield self._header
            while True:
                chunk = self._stream.read(self._chunk)
                if not chunk:
                    break
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Stop the query and release its connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stream.close()
        finally:
            if self._on_close is not None:
                self._on_close()


def open_export(
    client: AnalyticsClient,
    request: ExportRequest,
    ctx: QueryContext,
    *,
    chunk_size: int = 1 << 16,
    on_close: Callable[[], None] | None = None,
) -> ExportStream:
    """Validate the request, start the query and return the stream of its output.

    Validation (the range, cohorts, the regex probe) happens here, before any byte is sent,
    so an API can still answer 400. With embedded chDB, pass a client of its own (the stream
    holds its connection until closed; see ``openpanel_server._store.stream_client``).

    Args:
        client: Runs the query.
        request: What to export.
        ctx: The project context.
        chunk_size: Bytes per chunk read from the engine.
        on_close: Called once when the stream closes (e.g. to close a dedicated client).

    Raises:
        pydantic.ValidationError: A bad range, cohort or regex.
    """
    try:
        query = build_export(request, ctx)
        check_regexes(client, query.regexes)
        columns = list(_columns(request))
        fmt = "CSV" if request.format == "csv" else "JSONEachRow"
        stream = client.raw_stream(query.sql, parameters=dict(query.parameters), fmt=fmt)
    except BaseException:
        if on_close is not None:
            on_close()
        raise
    if request.format == "csv":
        header = (",".join(f'"{c}"' for c in columns) + "\n").encode()
        media = "text/csv; charset=utf-8"
    else:
        header, media = b"", "application/x-ndjson"
    return ExportStream(stream, header, media, columns, chunk_size, on_close)
