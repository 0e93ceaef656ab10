"""Which request paths are never tracked: exact paths, globs and regexes in one compiled regex."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from openpanel_core import ConfigurationError

if TYPE_CHECKING:
    from openpanel_web_bridge._config import BridgeConfig

__all__ = ["PathMatcher", "excluded_paths"]

# A regex that starts with global inline flags, such as "(?i)^/admin": scoped when combined.
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


class PathMatcher:
    r"""Match request paths against patterns, compiled once.

    Patterns:

    - ``"/health"``: exactly this path;
    - ``"/static/*"``: a glob, where ``*`` matches any characters, ``/`` included (so
      ``"/static/*"`` matches everything under ``/static/``);
    - ``"re:^/api/v\d+/health$"``: a regular expression, searched in the path.

    Args:
        patterns: The patterns; empty strings are ignored.

    Raises:
        ConfigurationError: A ``re:`` pattern is not a valid regular expression.
    """

    __slots__ = ("_patterns", "_regex")

    def __init__(self, patterns: Iterable[str]) -> None:
        literal: list[str] = []
        regexes: list[str] = []
        kept: list[str] = []
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise ConfigurationError(f"path pattern {pattern!r} is not a string")
            if not pattern:
                continue
            kept.append(pattern)
            if pattern.startswith("re:"):
                source = pattern[3:]
                try:
                    re.compile(source)
                except re.error as exc:
                    raise ConfigurationError(
                        f"path pattern {pattern!r} is not a regex: {exc}"
                    ) from None
                flags = _GLOBAL_FLAGS.match(source)
                if flags:
                    source = f"(?{flags.group(1)}:{source[flags.end() :]})"
                regexes.append(f"(?:{source})")
            else:
                literal.append(".*".join(re.escape(part) for part in pattern.split("*")))
        parts = [f"^(?:{'|'.join(literal)})\\Z"] if literal else []
        parts.extend(regexes)
        self._patterns = tuple(kept)
        self._regex: re.Pattern[str] | None
        if not parts:
            self._regex = None
            return
        try:
            self._regex = re.compile("|".join(parts))
        except re.error as exc:  # e.g. the same group name in two regexes
            raise ConfigurationError(f"path patterns cannot be combined: {exc}") from None

    def __call__(self, path: str) -> bool:
        """Whether ``path`` (without the query string) matches one of the patterns."""
        regex = self._regex
        return regex is not None and regex.search(path) is not None

    def __repr__(self) -> str:
        return f"PathMatcher({list(self._patterns)!r})"


def excluded_paths(config: BridgeConfig) -> PathMatcher:
    """The paths the integrations never track: ``config.exclude_paths`` and the bridge's prefix.

    Args:
        config: The bridge config.

    Returns:
        A matcher of those paths (the prefix and everything under it included).
    """
    return PathMatcher((*config.exclude_paths, config.prefix, config.prefix + "/*"))
