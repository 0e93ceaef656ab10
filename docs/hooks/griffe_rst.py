"""Griffe extension: the suite's docstrings use a few reStructuredText habits; show them well.

The docstrings are Google style, read by IDEs and ``help()`` as plain text, with Sphinx-style
roles (``:class:`OpenPanel```) and ``::`` before literal blocks. mkdocstrings renders Markdown,
so this extension rewrites, in the rendered copy only: a role to inline code of its target's
last name (a link could point at a private object, which would be a broken link), ``::`` at
the end of a paragraph to ``:`` (the indented block after it is already a code block), and a
line that is only ``::`` is dropped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`~?([^`]+)`")
_LONE = re.compile(r"^[ \t]*::[ \t]*\n", re.MULTILINE)
_TRAILING = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)


def _short(match: re.Match[str]) -> str:
    target = match.group(1)
    if match.group(0).split("`", 1)[1].startswith("~"):
        target = target.rsplit(".", 1)[-1]
    return f"``{target}``"


def convert(text: str) -> str:
    """Docstring text with the reStructuredText habits above rewritten."""
    text = _ROLE.sub(_short, text)
    text = _LONE.sub("", text)
    return _TRAILING.sub(r"\1:", text)


def _rewrite(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = convert(obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            _rewrite(member)  # pyright: ignore[reportArgumentType]


class RestructuredTextHabits(griffe.Extension):
    """Rewrite every docstring of each loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Called by griffe once a package is loaded."""
        _rewrite(pkg)
