"""Reading ``OPENPANEL_*`` keys from ``app.config`` into a :class:`BridgeConfig`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from openpanel_core import ConfigurationError
from openpanel_web_bridge import BridgeConfig

__all__ = ["CONFIG_PREFIX", "EXTRA_KEYS", "read_config"]

logger = logging.getLogger("openpanel_flask")

CONFIG_PREFIX = "OPENPANEL_"

#: Keys of the Flask integration itself (not fields of BridgeConfig).
EXTRA_KEYS = frozenset({"OPENPANEL_CLIENT_OPTIONS", "OPENPANEL_REGISTER_BLUEPRINT"})

_SOURCE = "app.config"
_KEY_IN_MESSAGE = re.compile(r"app\.config\['([^']*)'\]")


def _full_keys(message: str) -> str:
    """``app.config['CLIENT_ID']`` -> ``app.config['OPENPANEL_CLIENT_ID']`` in a message."""
    return _KEY_IN_MESSAGE.sub(lambda m: f"{_SOURCE}['{CONFIG_PREFIX}{m.group(1)}']", message)


def read_config(config: Mapping[str, Any]) -> tuple[BridgeConfig, dict[str, Any], bool]:
    """Build the bridge configuration from a Flask config, strictly.

    Returns:
        The bridge configuration, the extra client options (``OPENPANEL_CLIENT_OPTIONS``) and
        whether to register the blueprint (``OPENPANEL_REGISTER_BLUEPRINT``, default True).

    Raises:
        ConfigurationError: A key is unknown or has a bad value, or the client id is missing
            (unless ``OPENPANEL_DISABLED``).
    """
    values = {
        key[len(CONFIG_PREFIX) :]: value
        for key, value in config.items()
        if key.startswith(CONFIG_PREFIX) and key not in EXTRA_KEYS
    }
    try:
        bridge = BridgeConfig.from_mapping(values, source=_SOURCE)
    except ConfigurationError as exc:
        raise ConfigurationError(_full_keys(str(exc))) from None
    for problem in bridge.problems():
        if problem.level == "error":
            raise ConfigurationError(f"{problem.message} ({problem.id}). {problem.hint}")
        logger.warning("openpanel: %s (%s) %s", problem.message, problem.id, problem.hint)
    options: Any = config.get("OPENPANEL_CLIENT_OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"{_SOURCE}['OPENPANEL_CLIENT_OPTIONS'] must be a mapping")
    register: Any = config.get("OPENPANEL_REGISTER_BLUEPRINT", True)
    if not isinstance(register, bool):
        raise ConfigurationError(f"{_SOURCE}['OPENPANEL_REGISTER_BLUEPRINT'] must be a bool")
    pairs: Mapping[Any, Any] = options  # pyright: ignore[reportUnknownVariableType]
    client_options = {str(k): v for k, v in pairs.items()}
    return bridge, client_options, register
