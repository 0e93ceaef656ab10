"""``openpanel-server import``: send exported events to a running server's ``/track/batch``.

Input is NDJSON, one event per line, as ``openpanel-server export --format ndjson`` writes it
and as OpenPanel's ``GET /export/events`` returns its items (camelCase fields; a line holding a
whole ``{"meta": ..., "data": [...]}`` page works too). Each event becomes a ``track`` batch
item whose idempotency id is the source event's id (a hash of the line when it has none), so
running the same import again stores nothing twice; ``__timestamp`` carries the original time,
``__deviceId``, ``__path``, ``__referrer`` and the user-agent fields (``__os``, ``__browser``...)
the rest. ``session_start`` and ``session_end`` are skipped: the server writes those itself.

Batches of 1000 items go gzip'd, one at a time; a 429 or 5xx (for the whole request or for
single items) is retried with exponential backoff (``Retry-After`` is honoured), a 413 splits
the batch. The file is read line by line, so memory stays flat whatever its size.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import httpx

from openpanel_core import __version__
from openpanel_core._constants import MAX_BATCH_ITEMS, RESERVED_EVENT_NAMES
from openpanel_server._cli_errors import CliError
from openpanel_server._cli_export import server_error
from openpanel_server._cli_progress import Progress, human_bytes, human_count

__all__ = [
    "BATCH_SIZE",
    "CLIENT_UA",
    "MAX_BATCH_ITEMS",
    "ImportStats",
    "event_to_item",
    "run_import",
]

BATCH_SIZE = 1000
_MAX_ID = 128
_UA_FIELDS = (
    ("os", "__os"),
    ("osVersion", "__osVersion"),
    ("browser", "__browser"),
    ("browserVersion", "__browserVersion"),
    ("device", "__device"),
    ("brand", "__brand"),
    ("model", "__model"),
)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The user agent of items from a browser or app: parsed as a client (so the ``__os``-style
#: overrides apply, and the event gets its device and session) with no field of its own but
#: ``os`` (``Linux``) and ``device`` (``desktop``), both overridden by the source's values.
CLIENT_UA = "Mozilla/5.0 (Linux)"


@dataclass
class ImportStats:
    """What an import did.

    Attributes:
        lines: Input lines read (blank ones not counted).
        sent: Items sent to the server (each once, retries not counted).
        accepted: Items the server answered 200 (stored now, or stored by an earlier run).
        skipped: Events not sent (``session_start``/``session_end``: the server writes them).
        refused: Refusal reason -> count (the server's, or the line's own problem).
        retries: Requests or items sent again after a 429/5xx.
    """

    lines: int = 0
    sent: int = 0
    accepted: int = 0
    skipped: int = 0
    refused: Counter[str] = field(default_factory=Counter[str])
    retries: int = 0

    @property
    def refused_total(self) -> int:
        """How many items were refused."""
        return sum(self.refused.values())


def _stable_id(event: dict[str, Any]) -> str:
    """The source event's id, or a hash of its content when it has none (or a long one)."""
    source = event.get("id")
    if isinstance(source, str) and 0 < len(source) <= _MAX_ID:
        return source
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "import-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _from_client(event: dict[str, Any]) -> bool:
    """Whether the source event came from a browser or app (not a backend)."""
    device = event.get("device")
    if isinstance(device, str):
        return device not in ("", "server")
    return bool(_text(event.get("os")) or _text(event.get("browser")))


def event_to_item(event: dict[str, Any]) -> dict[str, Any] | None:
    """The ``track`` batch item for an exported event; None for a server-written event.

    Raises:
        ValueError: The object is not an event (no ``name``).
    """
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("no event name")
    if name in RESERVED_EVENT_NAMES:
        return None
    raw_props = event.get("properties")
    props: dict[str, Any] = (
        dict(cast("dict[str, Any]", raw_props)) if isinstance(raw_props, dict) else {}
    )
    created = event.get("createdAt")
    if isinstance(created, (str, int, float)) and created:
        props["__timestamp"] = created
    device = _text(event.get("deviceId"))
    if device and len(device) <= 64:
        props["__deviceId"] = device
    path = _text(event.get("path"))
    if path:
        props["__path"] = _text(event.get("origin")) + path
    referrer = _text(event.get("referrer"))
    if referrer:
        props["__referrer"] = referrer
    for source, target in _UA_FIELDS:
        value = _text(event.get(source))
        if value:
            props[target] = value
    revenue = event.get("revenue")
    if name == "revenue" and isinstance(revenue, int) and not isinstance(revenue, bool):
        props["__revenue"] = revenue
    payload: dict[str, Any] = {"name": name, "properties": props}
    profile = event.get("profileId")
    if isinstance(profile, (str, int)) and profile != "" and str(profile) != device:
        payload["profileId"] = profile  # an anonymous event's profile id is its device id
    groups = event.get("groups")
    if isinstance(groups, list) and groups:
        payload["groups"] = [str(g) for g in cast("list[object]", groups) if str(g)]
    item: dict[str, Any] = {"type": "track", "id": _stable_id(event), "payload": payload}
    if _from_client(event):
        item["userAgent"] = CLIENT_UA
    return item


def _events(stream: IO[bytes], stats: ImportStats) -> Iterator[dict[str, Any]]:
    """The event objects of an NDJSON stream; bad lines are counted as refused."""
    for line in stream:
        if not line.strip():
            continue
        stats.lines += 1
        try:
            data: Any = json.loads(line)
        except ValueError:
            stats.refused["a line is not JSON"] += 1
            continue
        if not isinstance(data, dict):
            stats.refused["a line is not a JSON object"] += 1
            continue
        obj = cast("dict[str, Any]", data)
        page = obj.get("data")
        if isinstance(page, list) and "name" not in obj:  # a whole /export/events page
            for entry in cast("list[Any]", page):
                if isinstance(entry, dict):
                    yield cast("dict[str, Any]", entry)
                else:
                    stats.refused["a page entry is not a JSON object"] += 1
        else:
            yield obj


class _Sender:
    """Posts batches, retrying what may succeed later."""

    def __init__(self, args: argparse.Namespace, stats: ImportStats, progress: Progress) -> None:
        self.url = args.url.rstrip("/") + "/track/batch"
        self.headers = {
            "openpanel-client-id": args.client_id,
            "openpanel-client-secret": args.client_secret,
            "content-type": "application/json",
            "content-encoding": "gzip",
            "user-agent": f"openpanel-server-import/{__version__}",
            "openpanel-sdk-name": "openpanel-server-import",
        }
        self.client = httpx.Client(timeout=httpx.Timeout(args.timeout, connect=10.0))
        self.retries = args.retries
        self.stats = stats
        self.progress = progress

    def close(self) -> None:
        self.client.close()

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        delay = min(0.5 * 2**attempt, 30.0)
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.replace(".", "", 1).isdigit():
                delay = min(max(float(after), 0.1), 60.0)
        self.stats.retries += 1
        self.progress.update(f"server busy, retrying in {delay:.1f} s", force=True)
        time.sleep(delay)

    def send(self, items: Sequence[dict[str, Any]]) -> None:
        """Send items until each is accepted or refused for good."""
        todo = list(items)
        attempt = 0
        while todo:
            body = gzip.compress(json.dumps(todo, separators=(",", ":")).encode(), 5)
            try:
                response = self.client.post(self.url, content=body, headers=self.headers)
            except httpx.TransportError:
                if attempt >= self.retries:
                    raise
                self._wait(attempt, None)
                attempt += 1
                continue
            status = response.status_code
            if status == 413 and len(todo) > 1:
                half = len(todo) // 2
                self.send(todo[:half])
                self.send(todo[half:])
                return
            if status in _RETRY_STATUSES and attempt < self.retries:
                self._wait(attempt, response)
                attempt += 1
                continue
            if status != 200:
                raise server_error(response, "import", "a write or root client")
            todo = self._results(todo, response, final=attempt >= self.retries)
            if todo:
                self._wait(attempt, None)
                attempt += 1

    def _results(
        self, todo: list[dict[str, Any]], response: httpx.Response, *, final: bool
    ) -> list[dict[str, Any]]:
        """Count the answers; return the items to send again."""
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        results: Any = (
            cast("dict[str, Any]", answer).get("results") if isinstance(answer, dict) else None
        )
        if not isinstance(results, list) or len(cast("list[Any]", results)) != len(todo):
            raise CliError(
                "import",
                "the server's answer is not a list of one result per item",
                "is --url an openpanel-server with /track/batch?",
            )
        again: list[dict[str, Any]] = []
        for item, result in zip(todo, cast("list[dict[str, Any]]", results), strict=True):
            status = int(result.get("status") or 0) if isinstance(result, dict) else 0
            if status == 200:
                self.stats.accepted += 1
            elif status in _RETRY_STATUSES and not final:
                again.append(item)
            else:
                reason = f"{status} {result.get('error') or ''}: {result.get('message') or ''}"
                self.stats.refused[reason.strip()] += 1
        return again


def _summary(stats: ImportStats, elapsed: float) -> str:
    text = (
        f"sent {human_count(stats.sent)} events, accepted {human_count(stats.accepted)} "
        f"(new or stored before), refused {human_count(stats.refused_total)}"
    )
    if stats.skipped:
        text += f", skipped {human_count(stats.skipped)} session_start/session_end"
    if stats.retries:
        text += f", {stats.retries} retries"
    return text + f" in {elapsed:.1f} s"


def run_import(args: argparse.Namespace) -> int:
    """The ``import`` command."""
    source = Path(args.file)
    if not source.is_file():
        raise CliError("import", f"no file {source}", "pass the NDJSON file export wrote")
    total_bytes = source.stat().st_size
    stats = ImportStats()
    progress = Progress("import", quiet=args.quiet, interval=args.progress_interval)
    sender = _Sender(args, stats, progress)
    batch: list[dict[str, Any]] = []
    # Ids in the batch being built: a repeated id goes in the next request (where the server
    # answers it as stored), never twice in one body.
    batch_ids: set[str] = set()
    try:
        with source.open("rb") as stream:

            def flush() -> None:
                sender.send(batch)
                stats.sent += len(batch)
                batch.clear()
                batch_ids.clear()
                done = stream.tell() / total_bytes * 100 if total_bytes else 100.0
                progress.update(
                    f"{human_count(stats.sent)} events sent ({done:.0f}% of "
                    f"{human_bytes(total_bytes)}, {human_count(progress.rate(stats.sent))}/s)"
                )

            for event in _events(stream, stats):
                try:
                    item = event_to_item(event)
                except ValueError as exc:
                    stats.refused[f"not an event: {exc}"] += 1
                    continue
                if item is None:
                    stats.skipped += 1
                    continue
                if item["id"] in batch_ids:
                    flush()
                batch.append(item)
                batch_ids.add(item["id"])
                if len(batch) >= args.batch_size:
                    flush()
            if batch:
                flush()
    finally:
        sender.close()
    if not args.quiet:
        progress.done(_summary(stats, progress.elapsed))
        for reason, count in stats.refused.most_common(10):
            progress.message(f"  refused {human_count(count)}: {reason}")
    if stats.refused_total:
        where = "rerun without --quiet for the reasons" if args.quiet else "see the reasons above"
        raise CliError(
            "import",
            f"{human_count(stats.refused_total)} events were refused",
            f"{where}; fix them and run the import again (accepted events are not stored twice)",
        )
    return 0
