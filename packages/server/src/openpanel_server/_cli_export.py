"""``openpanel-server export``: stream a running server's events to a file.

The events come from ``POST /api/analytics/export`` (a read or root client), written as they
arrive (constant memory) to a temporary file beside the target, renamed over it only once the
whole export arrived: an interrupted export leaves no partial file under the target's name.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any, cast

import httpx

from openpanel_server._cli_errors import CliError
from openpanel_server._cli_progress import Progress, human_bytes, human_count

__all__ = ["EXPORT_FIELDS", "export_body", "run_export", "server_error"]

#: Every optional field, so an NDJSON export can be imported again without losing any.
EXPORT_FIELDS = (
    "properties",
    "region",
    "longitude",
    "latitude",
    "osVersion",
    "browserVersion",
    "device",
    "brand",
    "model",
    "origin",
    "referrer",
    "referrerName",
    "referrerType",
    "revenue",
    "importedAt",
    "sdkName",
    "sdkVersion",
    "groups",
)

#: The first day a ``--start`` may default to: before any event this server can hold.
_EPOCH = "2000-01-01"


def _when(value: str, option: str) -> str:
    """A date (``2026-01-31``) or time (``2026-01-31T12:00:00Z``) as the API takes it."""
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise CliError(
            option,
            f"not a date or time: {value!r}",
            "use YYYY-MM-DD or an ISO 8601 time such as 2026-01-31T12:00:00Z",
            code=2,
        ) from None


def export_body(args: argparse.Namespace) -> dict[str, Any]:
    """The ``/api/analytics/export`` body for the command's options."""
    start = _when(args.start, "--start") if args.start else _EPOCH
    tomorrow = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    end = _when(args.end, "--end") if args.end else tomorrow.isoformat()
    body: dict[str, Any] = {
        "format": args.format,
        "range": "custom",
        "startDate": start,
        "endDate": end,
        "includes": list(EXPORT_FIELDS),
    }
    if args.event:
        body["events"] = list(args.event)
    return body


def server_error(response: httpx.Response, what: str, client_kind: str) -> CliError:
    """A one-line error for a refused request (the body read already)."""
    status = response.status_code
    message = ""
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        answer = cast("dict[str, Any]", data)
        fields: list[Any] = answer.get("fields") or []
        if isinstance(fields, list) and fields and isinstance(fields[0], dict):
            first = cast("dict[str, Any]", fields[0])
            message = f"{first.get('field')}: {first.get('message')}"
        message = message or str(answer.get("message") or answer.get("error") or "")
    if not message:
        message = response.text.strip().splitlines()[0] if response.text.strip() else ""
    why = f"the server answered {status}" + (f": {message}" if message else "")
    if status in (401, 403):
        hint = f"check --client-id and --client-secret ({client_kind})"
    elif status == 404:
        hint = "is --url an openpanel-server of this version?"
    elif status == 429:
        hint = "the server's rate limit refused it; retry later or raise --rate-limit on serve"
    elif status >= 500:
        hint = "see the server's log"
    else:
        hint = "check the options (see --help)"
    return CliError(what, why, hint)


def _count_rows(chunk: bytes) -> int:
    return chunk.count(b"\n")


def run_export(args: argparse.Namespace) -> int:
    """The ``export`` command."""
    target = Path(args.output)
    parent = target.parent if str(target.parent) else Path()
    if not parent.is_dir():
        raise CliError(
            "export",
            f"no folder {parent} for {target}",
            "create the folder first or choose another -o",
        )
    body = export_body(args)
    progress = Progress("export", quiet=args.quiet, interval=args.progress_interval)
    url = args.url.rstrip("/") + "/api/analytics/export"
    headers = {
        "openpanel-client-id": args.client_id,
        "openpanel-client-secret": args.client_secret,
    }
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=parent)
    tmp = Path(tmp_name)
    rows = size = 0
    header_lines = 1 if args.format == "csv" else 0
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.Client(timeout=httpx.Timeout(args.timeout, connect=10.0)) as client,
            client.stream("POST", url, json=body, headers=headers) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise server_error(response, "export", "a read or root client")
            for chunk in response.iter_bytes(1 << 16):
                out.write(chunk)
                size += len(chunk)
                rows += _count_rows(chunk)
                shown = max(rows - header_lines, 0)
                progress.update(
                    f"{human_count(shown)} rows, {human_bytes(size)} "
                    f"({human_count(progress.rate(shown))} rows/s)"
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    rows = max(rows - header_lines, 0)
    progress.done(
        f"{human_count(rows)} rows, {human_bytes(size)} in {progress.elapsed:.1f} s -> {target}"
    )
    if args.format == "ndjson" and args.quiet is False and rows == 0:
        progress.message("no events matched (check --start, --end and --event)")
    return 0
