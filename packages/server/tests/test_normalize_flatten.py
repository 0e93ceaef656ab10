from __future__ import annotations

import json

import pytest

from openpanel_server._normalize import to_dots
from openpanel_server._normalize._flatten import js_string


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({}, {}),
        ({"a": "x"}, {"a": "x"}),
        ({"a": {"b": {"c": "d"}}}, {"a.b.c": "d"}),
        ({"a": [1, "two", {"three": 3}]}, {"a.0": "1", "a.1": "two", "a.2.three": "3"}),
        ({"a": (1, 2)}, {"a.0": "1", "a.1": "2"}),
        ({"a": None, "b": "", "c": "   ", "d": "\u00a0\ufeff\u3000"}, {}),
        ({"a": {}, "b": []}, {}),
        ({"a": "  padded\n"}, {"a": "padded"}),
        ({"t": True, "f": False}, {"t": "true", "f": "false"}),
        ({"n": 0, "m": -5, "big": 10**20}, {"n": "0", "m": "-5", "big": "100000000000000000000"}),
        ({"x": 1.0, "y": 1.5, "z": -0.0}, {"x": "1", "y": "1.5", "z": "0"}),
        ({"e": 1e21, "s": 1e-7, "u": 0.000001}, {"e": "1e+21", "s": "1e-7", "u": "0.000001"}),
        ({"nan": float("nan"), "inf": float("inf")}, {"nan": "NaN", "inf": "Infinity"}),
        # JSON-looking strings are parsed and flattened.
        ({"j": '{"k": [1, 2], "m": null, "e": ""}'}, {"j.k.0": "1", "j.k.1": "2"}),
        ({"j": '[true, 1.0, {"x": "y"}]'}, {"j.0": "true", "j.1": "1", "j.2.x": "y"}),
        ({"j": ' {"a": 1} '}, {"j.a": "1"}),
        ({"j": "{}"}, {}),
        ({"j": '{"a": "{\\"b\\": 1}"}'}, {"j.a.b": "1"}),
        # Malformed JSON-looking strings are dropped.
        ({"bad": "{oops}", "obj": "[object Object]", "nan": "[NaN]", "ok": "x"}, {"ok": "x"}),
        # Strings merely containing braces are kept.
        (
            {"a": "{not json", "b": "x}", "c": "[1] and more"},
            {"a": "{not json", "b": "x}", "c": "[1] and more"},
        ),
        # Lone surrogates go, valid pairs are joined.
        ({"s": "a\ud800b\udc00c"}, {"s": "abc"}),
        ({"s": "\ud83d\ude00"}, {"s": "😀"}),
        ({"s": "\ud800"}, {}),
        # Keys are kept as given, including dots; non-string keys become strings.
        ({"a.b": {"c": 1}}, {"a.b.c": "1"}),
        ({"m": {1: "one"}}, {"m.1": "one"}),
    ],
)
def test_to_dots(properties: dict[str, object], expected: dict[str, str]) -> None:
    assert to_dots(properties) == expected


def test_to_dots_keeps_depth_first_order() -> None:
    flat = to_dots({"b": 1, "a": {"z": 1, "y": [1, 2]}, "c": 3})
    assert list(flat) == ["b", "a.z", "a.y.0", "a.y.1", "c"]


def test_to_dots_survives_deep_nesting() -> None:
    deep: dict[str, object] = {"leaf": "x"}
    for _ in range(5000):
        deep = {"n": deep}
    flat = to_dots(deep)
    assert list(flat.values()) == ["x"]
    too_deep = "[" * 100_000 + "]" * 100_000
    assert to_dots({"j": too_deep}) == {}


def test_to_dots_does_not_mutate_input() -> None:
    props: dict[str, object] = {"a": {"b": [1, {"c": " x "}]}}
    snapshot = json.dumps(props)
    to_dots(props)
    assert json.dumps(props) == snapshot


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (123.456, "123.456"),
        (0.1, "0.1"),
        (100.0, "100"),
        (-2.5, "-2.5"),
        (1.5e-7, "1.5e-7"),
        (1.234e-6, "0.000001234"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.2345e21, "1.2345e+21"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (float("-inf"), "-Infinity"),
        (7, "7"),
        (True, "true"),
        (None, "null"),
    ],
)
def test_js_string(value: object, expected: str) -> None:
    assert js_string(value) == expected


def test_the_flat_fast_path_agrees_with_the_general_walk() -> None:
    import random

    from openpanel_server._normalize._flatten import _walk  # pyright: ignore[reportPrivateUsage]

    rng = random.Random(11)
    scalars: list[object] = [
        "plain",
        " padded",
        "padded ",
        "\ttab",
        "{}",
        '{"a":1}',
        "[1,2]",
        "[x",
        "é",
        "",
        "a\u00a0",
        "\ud83d",
        0,
        -5,
        10**22,
        True,
        False,
        None,
        1.5,
        1e21,
        float("nan"),
        {"n": 1},
        [1, "a"],
        (),
        "x}",
        "]",
    ]
    for _ in range(3000):
        props = {f"k{i}": rng.choice(scalars) for i in range(rng.randrange(0, 6))}
        if rng.random() < 0.1:
            props[1] = "int key"  # type: ignore[index]
        assert to_dots(props) == _walk(props), props
