"""Logging: one ``openpanel_core`` logger, no handlers unless ``debug=True`` asks for one."""

from __future__ import annotations

import logging
import sys

__all__ = ["enable_debug", "logger"]

logger = logging.getLogger("openpanel_core")

_debug_handler: logging.Handler | None = None


def enable_debug() -> None:
    """Attach one stderr handler (idempotent) and log at DEBUG."""
    global _debug_handler
    if _debug_handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[openpanel] %(levelname)s %(message)s"))
        _debug_handler = handler
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
