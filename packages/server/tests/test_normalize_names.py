from __future__ import annotations

import pytest

from openpanel_server._normalize import RESERVED_EVENT_NAMES, event_name_problem
from openpanel_server._normalize._names import BLOCKED_SUBSTRINGS

ACCEPTED = [
    "screen_view",
    "signup",
    "add to cart",
    "delete from cart",
    "button:click",
    "checkout.completed",
    "Purchase (EUR)",
    "a" * 80,
    "😀" * 40,  # 80 UTF-16 code units
    "/pricing",
    "/docs/getting-started",
    "/.well-known/security.txt",
    "revenue",
    "session",
    "SESSION_START",
    "50% off",
    "café ordered",
]

BLOCKED = [
    ("a" * 81, "longer than 80"),
    ("😀" * 41, "longer than 80"),
    ("x\ny", "line break"),
    ("x\ry", "line break"),
    ("../../etc", "'../'"),
    ("..\\windows", "'..\\\\'"),
    ("${jndi:ldap://x}", "'${'"),
    ("%{7*7}", "'%{'"),
    ("1 UNION SELECT password", "'union select'"),
    ("1 union all select 1", "'union all select'"),
    ("pg_sleep(10)", "'pg_sleep'"),
    ("sleep(5)#", "'sleep('"),
    ("BENCHMARK(1000000,MD5(1))", "'benchmark('"),
    ("x' OR 'a'='a", "' or '"),
    ("xp_cmdshell 'dir'", "'xp_cmdshell'"),
    ("information_schema.tables", "'information_schema'"),
    ("/etc/passwd", "'/etc/passwd'"),
    ("cmd.exe /c dir", "'cmd.exe'"),
    ("abc.oastify.com", "'oastify.com'"),
    ("<!DOCTYPE html>", "'<!doctype'"),
    ("<script>alert(1)</script>", "'<script'"),
    ("javascript:alert(1)", "'javascript:'"),
    ("/cgi-bin/test", "'/cgi-bin/'"),
    ("wp-config.php.bak", "'wp-config.php'"),
    ("{{7*7}}", "'{{'"),
    ("$(id)", "'$('"),
    ("/wp-login.php", "scanned path"),
    ("/x.php", "scanned path"),
    ("/admin/index.php?x=1", "scanned path"),
    ("/.env", "scanned path"),
    ("/.git/config", "scanned path"),
    ("/app/.env.production", "scanned path"),
    ("/wp-admin", "scanned path"),
    ("/wp-content/uploads", "scanned path"),
    ("/phpmyadmin", "scanned path"),
    ("/PHPMyAdmin/", "scanned path"),
    ("/xmlrpc", "scanned path"),
    ("/vendor/phpunit/x", "scanned path"),
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_names(name: str) -> None:
    assert event_name_problem(name) is None


@pytest.mark.parametrize(("name", "detail"), BLOCKED)
def test_blocked_names(name: str, detail: str) -> None:
    problem = event_name_problem(name)
    assert problem is not None
    assert problem.startswith("Event name contains blocked content")
    assert detail in problem


@pytest.mark.parametrize("name", sorted(RESERVED_EVENT_NAMES))
def test_reserved_names(name: str) -> None:
    assert event_name_problem(name) == f"Event name {name!r} is reserved"


def test_empty_name() -> None:
    assert event_name_problem("") == "Event name must not be empty"


def test_blocklist_is_lower_case_and_complete() -> None:
    assert len(BLOCKED_SUBSTRINGS) >= 60
    assert len(set(BLOCKED_SUBSTRINGS)) == len(BLOCKED_SUBSTRINGS)
    for needle in BLOCKED_SUBSTRINGS:
        assert needle == needle.lower()
        assert event_name_problem(f"x{needle.upper()}y") is not None, needle
