r"""JSON for the hot paths (request bodies, write-ahead log records): orjson, with a fallback.

orjson is about five times faster than the standard library both ways. It refuses a few inputs
the standard library takes (lone UTF-16 surrogates such as ``"\ud800"``, which JavaScript
produces and accepts); those fall back to the standard library, so nothing is refused that was
accepted before. Without orjson (it is a CPython-only dependency) the standard library is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads"]


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _std_loads(data: bytes | str) -> Any:
    return json.loads(data)


def _build() -> tuple[Callable[[Any], bytes], Callable[[bytes | str], Any]]:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is installed on CPython
        return _std_dumps, _std_loads
    fast_dumps, fast_loads, error = orjson.dumps, orjson.loads, orjson.JSONDecodeError

    def dumps(value: Any) -> bytes:
        try:
            return fast_dumps(value)
        except TypeError:  # lone surrogates, integers over 64 bits
            return _std_dumps(value)

    def loads(data: bytes | str) -> Any:
        try:
            return fast_loads(data)
        except error:  # lone surrogates and the like; the standard library decides
            return json.loads(data)

    return dumps, loads


dumps, loads = _build()
