"""Building the :class:`BridgeConfig` from a config object, a mapping, keyword options and env."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from openpanel_core import AsyncOpenPanel, OpenPanel
from openpanel_web_bridge import BridgeConfig

__all__ = ["resolve_config"]

# Environment fallbacks, read once when the middleware or routes are built (never per request).
_ENV = {
    "client_id": "OPENPANEL_CLIENT_ID",
    "client_secret": "OPENPANEL_CLIENT_SECRET",
    "api_url": "OPENPANEL_API_URL",
}


def resolve_config(
    config: BridgeConfig | Mapping[str, Any] | None,
    options: Mapping[str, Any],
    *,
    client: OpenPanel | AsyncOpenPanel | None = None,
    source: str,
) -> BridgeConfig:
    """The effective configuration.

    ``options`` override ``config``; ``client_id``, ``client_secret`` and ``api_url`` that are
    still missing come from an explicit ``client`` (id and url only) or from the
    ``OPENPANEL_CLIENT_ID``, ``OPENPANEL_CLIENT_SECRET`` and ``OPENPANEL_API_URL`` environment
    variables.

    Raises:
        openpanel_core.ConfigurationError: A key is unknown or a value is invalid (naming the
            key and ``source``).
    """
    if isinstance(config, BridgeConfig) and not options:
        return config
    values: dict[str, Any] = {}
    if isinstance(config, BridgeConfig):
        values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    elif config is not None:
        values = {str(k).lower(): v for k, v in config.items()}
    values.update({str(k).lower(): v for k, v in options.items()})
    if client is not None:
        if not values.get("client_id") and client.client_id:
            values["client_id"] = client.client_id
        values.setdefault("api_url", client.api_url)
    for key, env_name in _ENV.items():
        if values.get(key) is None and (env_value := os.environ.get(env_name)):
            values[key] = env_value
    return BridgeConfig.from_mapping(values, source=source)
