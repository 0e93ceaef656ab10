"""JSON encoding for the sender: orjson when available (CPython), the standard library otherwise.

Both produce the same bytes for the same input: compact UTF-8; datetimes, dates and times in
ISO 8601; UUIDs, Decimals as strings; enums as their value; sets, tuples and dataclasses as
lists and objects; non-string keys as strings; NaN and infinities as ``null`` (JSON has no
such numbers, and one odd value should not cost the whole event). Anything else raises
``TypeError``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["BACKEND", "dumps", "std_dumps"]


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        return items
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


_std_encode = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
).encode


def std_dumps(obj: Any) -> bytes:
    """Encode with the standard library."""
    try:
        return _std_encode(obj).encode()
    except ValueError:  # NaN or infinity somewhere: the slow path, for odd events only
        return _std_encode(_finite(obj)).encode()


def _orjson_dumps() -> Callable[[Any], bytes] | None:
    try:
        import orjson
    except ImportError:
        return None
    fast = orjson.dumps
    option = orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any) -> bytes:
        try:
            out = fast(obj, default=_default, option=option)
        except TypeError:  # orjson.JSONEncodeError: e.g. an int beyond 64 bits
            return std_dumps(obj)
        # orjson's result keeps its whole write buffer (about 4 KiB) alive: copy to the exact
        # size, or every queued event would hold 4 KiB.
        return memoryview(out).tobytes()

    return dumps


_fast = _orjson_dumps()
#: Which encoder :func:`dumps` uses: ``"orjson"`` or ``"json"``.
BACKEND = "orjson" if _fast is not None else "json"
#: Encode to compact UTF-8 JSON bytes.
dumps: Callable[[Any], bytes] = _fast or std_dumps
