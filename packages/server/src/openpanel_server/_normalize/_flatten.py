"""Property flattening for ``Map(String, String)`` storage (OpenPanel ``toDots``).

* Nested mappings become ``a.b.c`` keys; lists and tuples become ``key.0``, ``key.1``.
* Strings that look like a JSON object or array (``{...}`` / ``[...]``) are parsed and flattened;
  malformed ones are dropped.
* ``None`` and empty strings are dropped (also strings that are empty after trimming).
* Strings are trimmed (JavaScript's white space set) and lose unpaired surrogates.
* Everything else goes through JavaScript's ``String(v)``: ``true``/``false``, ``1.0`` -> ``1``,
  ``1e21`` -> ``1e+21``, ``NaN``, ``Infinity``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import cast

__all__ = ["js_string", "to_dots"]

# ECMAScript WhiteSpace and LineTerminator code points (String.prototype.trim).
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_SURROGATES = re.compile("[\ud800-\udfff]")
_PAIR_OR_LONE = re.compile("[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]")


def _fix_surrogate(match: re.Match[str]) -> str:
    text = match.group(0)
    if len(text) == 2:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    return ""


def _clean_string(value: str) -> str:
    if _SURROGATES.search(value) is not None:
        value = _PAIR_OR_LONE.sub(_fix_surrogate, value)
    return value.strip(_JS_WHITESPACE)


def _js_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping digits, as ECMAScript's Number::toString does.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    point = len(digit_tuple) + exponent  # "n": digits * 10 ** (point - len(digits))
    k = len(digits)
    if k <= point <= 21:
        text = digits + "0" * (point - k)
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"
    return sign + text


def js_string(value: object) -> str:
    """Convert a scalar the way JavaScript's ``String(v)`` would.

    Args:
        value: A bool, int, float, or anything else (which goes through ``str``).

    Returns:
        The text.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _js_number(value)
    return str(value)


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def _parse_json(text: str) -> object:
    """Parse JSON the way ``JSON.parse`` does (no NaN/Infinity); raise ValueError if malformed."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _looks_like_json(text: str) -> bool:
    return (text[0] == "{" and text[-1] == "}") or (text[0] == "[" and text[-1] == "]")


def _is_container(value: object) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _children(node: object) -> Iterator[tuple[str, object]]:
    if isinstance(node, Mapping):
        mapping = cast("Mapping[object, object]", node)
        return ((str(key), value) for key, value in mapping.items())
    sequence = cast("list[object] | tuple[object, ...]", node)
    return ((str(index), value) for index, value in enumerate(sequence))


_ASCII_WHITESPACE = frozenset("\t\n\v\f\r ")
_NOT_FIRST = _ASCII_WHITESPACE | {"{", "["}


def to_dots(properties: Mapping[str, object]) -> dict[str, str]:
    """Flatten properties to dotted string keys and string values.

    Args:
        properties: The event or profile properties.

    Returns:
        A new flat dict, in depth-first input order; see the module docstring for the rules.
    """
    # Most properties are flat: plain ASCII strings that need no trimming, ints, bools. Those
    # are converted in one pass; anything else takes the general walk below from the start.
    out: dict[str, str] = {}
    for key, value in properties.items():
        kind = type(value)
        if type(key) is not str:
            break
        if kind is str:
            text = cast("str", value)
            if (
                text
                and text.isascii()
                and text[0] not in _NOT_FIRST
                and text[-1] not in _ASCII_WHITESPACE
            ):
                out[key] = text
                continue
            break
        if kind is int:
            out[key] = str(value)
        elif value is None:
            continue
        elif kind is bool:
            out[key] = "true" if value else "false"
        else:
            break
    else:
        return out
    return _walk(properties)


def _walk(properties: Mapping[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    # A stack of iterators rather than recursion: untrusted input may nest deeply.
    stack: list[tuple[str, Iterator[tuple[str, object]]]] = [("", _children(properties))]
    while stack:
        prefix, children = stack[-1]
        item = next(children, None)
        if item is None:
            stack.pop()
            continue
        key, value = item
        path = prefix + key
        if value is None:
            continue
        if _is_container(value):
            stack.append((path + ".", _children(value)))
        elif isinstance(value, str):
            text = _clean_string(value)
            if not text:
                continue
            if _looks_like_json(text):
                try:
                    parsed = _parse_json(text)
                except ValueError:
                    continue  # malformed JSON-looking strings are dropped
                stack.append((path + ".", _children(parsed)))
            else:
                out[path] = text
        else:
            out[path] = js_string(value)
    return out
