"""JSON Schema of the OpenPanel wire protocol, exported from the pydantic models.

Run ``python -m openpanel_core.schema`` to print it (``--output FILE`` to write it). The browser
package generates its TypeScript types from this document, and the server validates with the
same models, so the three cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from openpanel_core import _constants as c
from openpanel_core._models import (
    BatchRequest,
    BatchResponse,
    TrackRequest,
    TrackResponse,
)

__all__ = ["main", "protocol_constants", "protocol_schema"]


def protocol_constants() -> dict[str, Any]:
    """The constants a client of the protocol needs (header names, paths, limits).

    Returns:
        A JSON-serialisable mapping of constant names to values.
    """
    return {
        "sdkVersion": c.SDK_VERSION,
        "trackPath": c.TRACK_PATH,
        "batchPath": c.BATCH_PATH,
        "deviceIdPath": c.DEVICE_ID_PATH,
        "headers": {
            "clientId": c.HEADER_CLIENT_ID,
            "clientSecret": c.HEADER_CLIENT_SECRET,
            "sdkName": c.HEADER_SDK_NAME,
            "sdkVersion": c.HEADER_SDK_VERSION,
            "clientIp": c.HEADER_CLIENT_IP,
            "eventId": c.HEADER_EVENT_ID,
        },
        "reservedEventNames": sorted(c.RESERVED_EVENT_NAMES),
        "maxEventNameLength": c.MAX_EVENT_NAME_LENGTH,
        "maxBatchItems": c.MAX_BATCH_ITEMS,
        "sessionTimeoutSeconds": c.SESSION_TIMEOUT_SECONDS,
    }


def _drop_null_defaults(node: Any) -> Any:
    # Optional fields are omitted on the wire; a `"default": null` would invite sending null.
    if isinstance(node, dict):
        return {
            k: _drop_null_defaults(v)
            for k, v in node.items()  # pyright: ignore[reportUnknownVariableType]
            if not (k == "default" and v is None)
        }
    if isinstance(node, list):
        return [_drop_null_defaults(v) for v in node]  # pyright: ignore[reportUnknownVariableType]
    return node


def protocol_schema() -> dict[str, Any]:
    """One JSON Schema document with every request and response of the protocol in ``$defs``.

    Returns:
        The schema (JSON Schema 2020-12), with the protocol constants under ``x-openpanel``.
    """
    roots: dict[str, Any] = {
        "TrackRequest": TrackRequest,
        "TrackResponse": TrackResponse,
        "BatchRequest": BatchRequest,
        "BatchResponse": BatchResponse,
    }
    defs: dict[str, Any] = {}
    for name, tp in roots.items():
        schema = TypeAdapter(tp).json_schema(ref_template="#/$defs/{model}", mode="validation")
        defs.update(schema.pop("$defs", {}))
        defs[name] = schema
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OpenPanel wire protocol",
        "x-openpanel": protocol_constants(),
        "$defs": dict(sorted(defs.items())),
    }
    return _drop_null_defaults(document)


def main(argv: list[str] | None = None) -> int:
    """Print or write the schema.

    Args:
        argv: Command-line arguments (``--output FILE``); defaults to ``sys.argv[1:]``.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(prog="python -m openpanel_core.schema", description=__doc__)
    parser.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    text = json.dumps(protocol_schema(), indent=2, sort_keys=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
