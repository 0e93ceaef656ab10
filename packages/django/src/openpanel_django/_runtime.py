"""Per-process state built lazily from settings: the configuration, the client, the proxy.

Nothing here runs at import time. The first request (or the first :func:`get_client` call)
reads ``settings.OPENPANEL``; a ``setting_changed`` signal (``override_settings`` in tests)
drops the state so the next use reads the settings again. One :class:`OpenPanel` client per
process; the core makes it fork-safe (a forked worker starts its own sender).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from openpanel_core import ConfigurationError, OpenPanel
from openpanel_core._guard import suppress_internal_errors
from openpanel_django._settings import SETTING, DjangoOptions, read_settings
from openpanel_web_bridge import BridgeConfig, IdentifyOnce, PathMatcher, Proxy, excluded_paths

__all__ = ["Runtime", "current", "get_client", "get_config", "reset"]

logger = logging.getLogger("openpanel_django")


class Runtime:
    """What the middleware, views and template tag share in one process.

    Attributes:
        config: The bridge configuration.
        options: The Django-only options.
        active: False when ``disabled`` or without a client id: requests pass through
            untouched.
        excluded: Matches the paths the middleware leaves alone.
        identify_once: Remembers the profiles identified recently (and with which fields).
        checked: When each profile's identify fields were last computed (monotonic seconds).
        session_cookie: ``settings.SESSION_COOKIE_NAME``, looked for in the cookie header.
        ip_meta_key: The ``request.META`` key of ``config.ip_header`` (None: socket peer).
    """

    __slots__ = (
        "_client",
        "_lock",
        "_proxy",
        "_proxy_pid",
        "active",
        "checked",
        "config",
        "excluded",
        "identify_once",
        "ip_meta_key",
        "options",
        "session_cookie",
    )

    def __init__(self, config: BridgeConfig, options: DjangoOptions) -> None:
        self.config = config
        self.options = options
        self.active = not config.disabled and bool(config.client_id)
        self.excluded: PathMatcher = excluded_paths(config)
        self.identify_once = IdentifyOnce()
        self.checked: dict[str, float] = {}
        self.session_cookie: str = str(getattr(settings, "SESSION_COOKIE_NAME", "sessionid"))
        self.ip_meta_key = meta_key(config.ip_header) if config.ip_header else None
        self._client: OpenPanel | None = None
        self._proxy: Proxy | None = None
        self._proxy_pid = 0
        self._lock = threading.Lock()

    def client(self) -> OpenPanel:
        """The process's client, created on first use."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                try:
                    self._client = self.config.make_client(**self.options.client_options)
                except (ConfigurationError, TypeError) as exc:
                    logger.error(
                        "openpanel: cannot create the client (%s); events are not sent", exc
                    )
                    self._client = OpenPanel(disabled=True)
            return self._client

    def proxy(self) -> Proxy:
        """The first-party proxy to the ingestion server (recreated in a forked child)."""
        proxy = self._proxy
        if proxy is not None and self._proxy_pid == os.getpid():
            return proxy
        with self._lock:
            if self._proxy is None or self._proxy_pid != os.getpid():
                self._proxy = Proxy(self.config)
                self._proxy_pid = os.getpid()
            return self._proxy

    def close(self, timeout: float = 1.0) -> None:
        """Flush and stop the client, close the proxy (settings changed, or shutdown)."""
        client, self._client = self._client, None
        proxy, self._proxy = self._proxy, None
        if client is not None:
            client.shutdown(timeout)
        if proxy is not None and self._proxy_pid == os.getpid():
            with suppress_internal_errors("proxy close"):
                proxy.close()


def meta_key(header: str) -> str:
    """The ``request.META`` key of an HTTP header name (``x-real-ip`` -> ``HTTP_X_REAL_IP``)."""
    name = header.upper().replace("-", "_")
    if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return name
    return "HTTP_" + name


_runtime: Runtime | None = None
_loaded = False  # True once the settings were read, even when they were wrong
_state_lock = threading.Lock()
_disabled: OpenPanel | None = None


def current() -> Runtime | None:
    """The runtime built from the current settings; None when ``settings.OPENPANEL`` is wrong.

    A wrong setting is logged once (the system checks report it at start-up too) and leaves
    the app untouched: the middleware passes requests through, the template tag renders
    nothing.
    """
    if _loaded:
        return _runtime
    return _load()


def _load() -> Runtime | None:
    global _runtime, _loaded
    with _state_lock:
        if not _loaded:
            try:
                config, options = read_settings()
                _runtime = Runtime(config, options)
                if not config.disabled and not config.client_id:
                    logger.error("openpanel: %s['client_id'] is not set; OpenPanel is off", SETTING)
            except ConfigurationError as exc:
                logger.error("openpanel: %s; OpenPanel is off", exc)
                _runtime = None
            _loaded = True
        return _runtime


def reset() -> None:
    """Forget the state built from settings (the next use reads them again)."""
    global _runtime, _loaded
    with _state_lock:
        old, _runtime, _loaded = _runtime, None, False
    if old is not None:
        old.close()


def get_config() -> BridgeConfig:
    """The configuration read from ``settings.OPENPANEL``.

    Returns:
        The validated configuration.

    Raises:
        ConfigurationError: The setting is missing or wrong.
    """
    rt = current()
    if rt is not None:
        return rt.config
    return read_settings()[0]


def get_client() -> OpenPanel:
    """The process's :class:`openpanel_core.OpenPanel` client, built from settings on first use.

    Never raises: with ``settings.OPENPANEL`` missing or wrong it returns a disabled client
    (calls are accepted and nothing is sent) and the error is logged once.

    Returns:
        The shared client.
    """
    rt = current()
    if rt is not None:
        return rt.client()
    global _disabled
    if _disabled is None:
        _disabled = OpenPanel(disabled=True)
    return _disabled


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING, "SESSION_COOKIE_NAME"):
        reset()


# The stubs type the receiver as a bare ``Callable``, which strict mode reports as unknown.
setting_changed.connect(_on_setting_changed, dispatch_uid="openpanel_django.settings")  # pyright: ignore[reportUnknownMemberType]
