from __future__ import annotations

import json
from typing import Any

import pytest

from openpanel_server import _fastjson as fastjson


@pytest.mark.parametrize(
    "text",
    [
        '{"name":"a","properties":{"x":1.5,"y":[1,2,{"z":null}]}}',
        '"\\ud800 lone surrogate, as JavaScript allows"',
        "[NaN, Infinity]",
        '{"big": 123456789012345678901234567890}',
        '"caf\\u00e9 \\u2028"',
    ],
)
def test_loads_accepts_what_the_standard_library_accepts(text: str) -> None:
    got: Any = fastjson.loads(text.encode())
    want: Any = json.loads(text)
    if "big" in text:  # orjson reads integers over 64 bits as floats, as JavaScript does
        assert float(got["big"]) == float(want["big"])
    else:
        assert json.dumps(got) == json.dumps(want)


@pytest.mark.parametrize("text", ["{", "[1,]", "nope", '{"a" 1}'])
def test_loads_refuses_invalid_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        fastjson.loads(text.encode())


@pytest.mark.parametrize(
    "value",
    [
        {"id": "e1", "properties": {"k": "v"}, "created_at": "2026-11-29T10:00:00.000Z"},
        {"s": "\ud800"},  # orjson refuses lone surrogates: the standard library writes them
        {"n": 2**70},  # orjson refuses integers over 64 bits
    ],
)
def test_dumps_round_trips(value: dict[str, object]) -> None:
    assert json.loads(fastjson.dumps(value)) == value
