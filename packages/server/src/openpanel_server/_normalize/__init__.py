"""Pure, I/O-free normalisation steps the ingestion pipeline runs per event.

Each function mirrors one piece of OpenPanel's server-side processing: client IP from proxy
headers, ``__timestamp`` handling, ``__path`` parsing, referrer and UTM classification, user-agent
parsing and bot detection, device and session ids, event-name rules and property flattening.
"""

from __future__ import annotations

from ._bots import Bot, detect_bot
from ._flatten import to_dots
from ._ids import DEFAULT_SESSION_WINDOW_MS, device_id, new_salt, session_bucket, session_id
from ._ip import DEFAULT_IP_HEADERS, client_ip, is_public_ip, normalize_ip
from ._names import RESERVED_EVENT_NAMES, event_name_problem
from ._referrer import Referrer, classify_referrer
from ._time import parse_client_time, resolve_timestamp
from ._ua import SERVER_USER_AGENT, UserAgentInfo, parse_user_agent
from ._url import ParsedPath, parse_path, parse_query


def preload() -> None:
    """Load the lazily built tables now (about 0.1 s) instead of on the first event.

    Loads the referrer table, compiles the bot patterns and the ua-parser regexes. Call it once
    at server start-up; calling it again is cheap.
    """
    from ._referrer import referrer_table

    referrer_table()
    detect_bot("Mozilla/5.0 (compatible; preload)")
    parse_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0")


__all__ = [
    "DEFAULT_IP_HEADERS",
    "DEFAULT_SESSION_WINDOW_MS",
    "RESERVED_EVENT_NAMES",
    "SERVER_USER_AGENT",
    "Bot",
    "ParsedPath",
    "Referrer",
    "UserAgentInfo",
    "classify_referrer",
    "client_ip",
    "detect_bot",
    "device_id",
    "event_name_problem",
    "is_public_ip",
    "new_salt",
    "normalize_ip",
    "parse_client_time",
    "parse_path",
    "parse_query",
    "parse_user_agent",
    "preload",
    "resolve_timestamp",
    "session_bucket",
    "session_id",
    "to_dots",
]
