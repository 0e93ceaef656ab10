"""Streaming exports: CSV and NDJSON content, constant memory, early close, concurrency."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from analytics_helpers import NOW, RANGE, context, load_dataset

from openpanel_server._analytics import Analytics, ExportRequest, OverviewRequest, QueryContext
from openpanel_server._store import EventRow, Store, open_store

UTC = timezone.utc
BULK = 200_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(None, tmp_path_factory.mktemp("analytics-export"))
    try:
        load_dataset(s)
        base = datetime(2026, 2, 1, tzinfo=UTC)
        step = 20_000
        for start in range(0, BULK, step):
            s.insert_events(
                [
                    EventRow(
                        id=f"b{i:07d}",
                        project_id="bulk",
                        name="screen_view",
                        # Inserted out of order within a batch: the export must sort.
                        created_at=base + timedelta(seconds=(i * 7919) % BULK),
                        device_id=f"d{i % 5000}",
                        profile_id=f"d{i % 5000}",
                        session_id=f"s{i % 20000}",
                        path=f"/page/{i % 300}",
                        properties={"i": str(i), "note": 'quote " and, comma'},
                    )
                    for i in range(start, start + step)
                ]
            )
        yield s
    finally:
        s.close()


def test_ndjson_rows(store: Store) -> None:
    request = ExportRequest.model_validate(
        {**RANGE, "includes": ["properties", "revenue", "referrerName"], "events": ["purchase"]}
    )
    stream = Analytics(store).export(request, context())
    assert stream.media_type == "application/x-ndjson"
    rows = [json.loads(line) for line in b"".join(stream).splitlines()]
    assert rows == [
        {
            "id": "s1-05",
            "name": "purchase",
            "deviceId": "d1",
            "profileId": "u1",
            "sessionId": "s1",
            "projectId": "proj",
            "createdAt": "2026-03-02T10:04:00.000Z",
            "path": "/checkout",
            "duration": 0,
            "city": "Berlin",
            "country": "DE",
            "os": "Windows",
            "browser": "Chrome",
            "properties": {"price": "10", "product.id": "p-1"},
            "revenue": 1000,
            "referrerName": "Google",
        },
        {
            "id": "s4-03",
            "name": "purchase",
            "deviceId": "d1",
            "profileId": "u1",
            "sessionId": "s4",
            "projectId": "proj",
            "createdAt": "2026-03-04T09:06:00.000Z",
            "path": "/checkout",
            "duration": 0,
            "city": "Berlin",
            "country": "DE",
            "os": "Windows",
            "browser": "Chrome",
            "properties": {"price": "25", "product.id": "p-2"},
            "revenue": 2500,
            "referrerName": "Google",
        },
    ]


def test_csv_rows(store: Store) -> None:
    request = ExportRequest.model_validate(
        {
            **RANGE,
            "format": "csv",
            "includes": ["properties", "groups", "longitude"],
            "filters": [{"name": "revenue", "operator": "gt", "value": [0]}],
        }
    )
    stream = Analytics(store).export(request, context())
    assert stream.media_type == "text/csv; charset=utf-8"
    body = b"".join(stream).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["id"] for r in rows] == ["s1-05", "s4-03", "srv-01"]
    assert list(rows[0]) == stream.columns
    assert rows[0]["createdAt"] == "2026-03-02T10:04:00.000Z"
    assert json.loads(rows[0]["properties"]) == {"price": "10", "product.id": "p-1"}
    assert rows[0]["longitude"] == "13.4"
    assert rows[1]["longitude"] == ""  # NULL
    assert json.loads(rows[2]["groups"]) == ["acme"]
    assert rows[2]["country"] == ""


def test_all_events_in_sort_key_order_in_constant_memory(store: Store) -> None:
    ctx = QueryContext(project_id="bulk", now=NOW)
    request = ExportRequest.model_validate(
        {
            "range": "custom",
            "startDate": "2026-02-01",
            "endDate": "2026-02-28",
            "includes": ["properties"],
        }
    )
    stream = Analytics(store).export(request, ctx, chunk_size=1 << 16)
    tracemalloc.start()
    try:
        total = lines = 0
        last = ""
        ordered = True
        tail = b""
        for chunk in stream:
            total += len(chunk)
            data = tail + chunk
            *complete, tail = data.split(b"\n")
            for line in complete:
                created = json.loads(line)["createdAt"]
                ordered &= created >= last
                last = created
                lines += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tail == b""
    assert lines == BULK
    assert ordered
    assert total > 30_000_000  # about 190 bytes a row
    assert peak < 8_000_000, f"peak Python memory {peak} B while streaming {total} B"


def test_early_close_releases_the_connection(store: Store) -> None:
    analytics = Analytics(store)
    ctx = QueryContext(project_id="bulk", now=NOW)
    request = ExportRequest.model_validate(
        {"range": "custom", "startDate": "2026-02-01", "endDate": "2026-02-28"}
    )
    for _ in range(3):  # each export opens and releases its own engine handle
        stream = analytics.export(request, ctx, chunk_size=4096)
        first = next(iter(stream))
        assert first.startswith(b'{"id":')
        # The dashboard's read connection answers while the export is open.
        summary = analytics.overview(OverviewRequest.model_validate(RANGE), context())
        assert summary.metrics.events == 27
        stream.close()
        stream.close()  # idempotent
    csv_stream = analytics.export(request.model_copy(update={"format": "csv"}), ctx)
    header = next(iter(csv_stream))
    assert header.startswith(b'"id","name","deviceId"')
    csv_stream.close()
