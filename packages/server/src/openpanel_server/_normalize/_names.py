"""Event-name rules (OpenPanel ``RESERVED_EVENT_NAMES`` and ``event-blocklist.ts``).

A name is refused when it is reserved, longer than 80 characters (UTF-16 code units, as
JavaScript counts), contains a line break, contains one of the attack substrings below
(case-insensitive), or looks like a path a vulnerability scanner requests. Every blocklist
message starts with upstream's ``Event name contains blocked content``.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "BLOCKED_SUBSTRINGS",
    "MAX_EVENT_NAME_LENGTH",
    "RESERVED_EVENT_NAMES",
    "event_name_problem",
]

RESERVED_EVENT_NAMES = frozenset({"session_start", "session_end"})
"""Names only the server may emit."""
MAX_EVENT_NAME_LENGTH = 80
"""Longest accepted name, in UTF-16 code units."""

BLOCKED_SUBSTRINGS: tuple[str, ...] = (
    # Path traversal and sensitive files.
    "../",
    "..\\",
    "..%2f",
    "%2e%2e",
    "/etc/passwd",
    "/etc/shadow",
    "/proc/self",
    "c:\\windows",
    "win.ini",
    "boot.ini",
    "wp-config.php",
    "/cgi-bin/",
    "cmd.exe",
    "/bin/sh",
    "/bin/bash",
    # Template, expression and log4shell-style injection.
    "${",
    "%{",
    "#{",
    "{{",
    "<%",
    "jndi:",
    # SQL injection.
    "' or '",
    '" or "',
    "' or 1=1",
    " or 1=1",
    "' and '",
    "union select",
    "union all select",
    "select * from",
    "information_schema",
    "pg_sleep",
    "sleep(",
    "benchmark(",
    "waitfor delay",
    "xp_cmdshell",
    "drop table",
    "load_file(",
    "into outfile",
    "@@version",
    "extractvalue(",
    "updatexml(",
    "dbms_pipe",
    "';--",
    "'--",
    # Markup and script injection.
    "<script",
    "</script",
    "<!doctype",
    "<?php",
    "<iframe",
    "<svg",
    "<img",
    "javascript:",
    "vbscript:",
    "onerror=",
    "onload=",
    "alert(",
    "document.cookie",
    # Command injection.
    "$(",
    "`id`",
    ";wget ",
    "|wget ",
    "; curl ",
    "|curl ",
    "/dev/tcp/",
    # Out-of-band interaction hosts used by scanners.
    "oastify.com",
    "burpcollaborator",
    "interact.sh",
    "oast.fun",
    "oast.pro",
    "dnslog.cn",
    "canarytokens",
)
"""Case-insensitive attack substrings (checked against the lower-cased name)."""

_BLOCKED = re.compile("|".join(re.escape(s) for s in BLOCKED_SUBSTRINGS))
# Paths scanners probe: PHP scripts, dotfiles (.env, .git, ...), WordPress and
# admin tools. Only names that start with "/" are checked.
_SCANNED_PATH = re.compile(
    r"""
    \.(?:php\d?|phtml)(?:[?\#].*)?$
    | ^/\.(?!well-known(?:/|$))
    | /\.(?:env|git|svn|hg|aws|ssh|htaccess|htpasswd|ds_store|docker)
    | ^/(?:wp-|wordpress/|phpmyadmin|pma/|myadmin|adminer|xmlrpc|vendor/phpunit|actuator
          |solr/|boaform|hnap1|owa/|autodiscover/|server-status|telescope/)
    """,
    re.VERBOSE,
)
_BLOCKED_MESSAGE = "Event name contains blocked content"


def _utf16_length(name: str) -> int:
    if name.isascii():
        return len(name)
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


@functools.lru_cache(maxsize=4096)  # a few names make up most events
def event_name_problem(name: str) -> str | None:
    """Return why an event name is refused, or ``None`` when it is acceptable.

    Args:
        name: The event name as sent.

    Returns:
        A message suitable for a 400 response, or ``None``.
    """
    if not name:
        return "Event name must not be empty"
    if name in RESERVED_EVENT_NAMES:
        return f"Event name {name!r} is reserved"
    if len(name) > MAX_EVENT_NAME_LENGTH // 2 and _utf16_length(name) > MAX_EVENT_NAME_LENGTH:
        return f"{_BLOCKED_MESSAGE}: longer than {MAX_EVENT_NAME_LENGTH} characters"
    if "\n" in name or "\r" in name:
        return f"{_BLOCKED_MESSAGE}: line break"
    lowered = name.lower()
    match = _BLOCKED.search(lowered)
    if match is not None:
        return f"{_BLOCKED_MESSAGE}: {match.group(0)!r}"
    if lowered.startswith("/") and _SCANNED_PATH.search(lowered):
        return f"{_BLOCKED_MESSAGE}: looks like a scanned path"
    return None
