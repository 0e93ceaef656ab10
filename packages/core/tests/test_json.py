"""The sender's JSON encoders: identical output, and no hidden memory per encoded event."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import subprocess
import sys
import uuid
from typing import Any

import pytest

from openpanel_core import _json


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: float


VALUES: list[Any] = [
    {"a": 1, "b": [1, 2.5, "x"], "c": None, "d": True},
    {"when": dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)},
    {
        "naive": dt.datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 - naive on purpose
        "day": dt.date(2026, 1, 2),
        "t": dt.time(1, 2),
    },
    {"id": uuid.UUID(int=7), "price": decimal.Decimal("1.10"), "color": Color.RED},
    {"tags": frozenset({"x"}), "raw": b"bytes", "tuple": (1, 2), "point": Point(1, 2.5)},
    {"nan": float("nan"), "inf": float("-inf"), "nested": {"deep": [float("inf")]}},
    {1: "int key", 2.5: "float key", False: "bool key"},
    {"big": 2**80, "unicode": "café ☕ \u2028", "quote": 'a"b\\c'},
]


@pytest.mark.skipif(_json.BACKEND != "orjson", reason="orjson is not installed")
@pytest.mark.parametrize("value", VALUES)
def test_orjson_and_stdlib_agree(value: Any) -> None:
    assert _json.dumps(value) == _json.std_dumps(value)


@pytest.mark.parametrize("encode", [_json.dumps, _json.std_dumps])
def test_unsupported_types_raise_type_error(encode: Any) -> None:
    with pytest.raises(TypeError):
        encode({"x": object()})


def test_encoded_events_do_not_hold_hidden_buffers() -> None:
    # orjson returns bytes that keep a ~4 KiB write buffer alive; the encoder copies them.
    code = """
import sys
from openpanel_core import _json
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) * 1024
wire = {'type': 'track', 'payload': {'name': 'e', 'properties': {'plan': 'pro', 'n': 5}}}
before = rss()
kept = [_json.dumps(wire) for _ in range(20000)]
print((rss() - before) / len(kept))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1024, out.stdout
