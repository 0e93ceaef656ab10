"""Per-app state, kept in ``app.extensions["openpanel"]`` (never on the extension object)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, has_app_context

from openpanel_core import OpenPanel as OpenPanelClient
from openpanel_core.webhooks import Verifier
from openpanel_flask._identity import IdentifyFunc, default_identify
from openpanel_web_bridge import BridgeConfig, IdentifyOnce, PathMatcher, Proxy

__all__ = ["EXTENSION_KEY", "OpenPanelState", "current_state"]

EXTENSION_KEY = "openpanel"


@dataclass(eq=False)
class OpenPanelState:
    """What the extension keeps for one Flask app (``app.extensions["openpanel"]``).

    Attributes:
        config: The bridge configuration read from ``OPENPANEL_*`` keys.
        client: The core client used for server-side events of this app.
        owns_client: True when the extension built ``client`` (and shuts it down).
        excluded: Paths without context or request event (``exclude_paths``, the bridge
            prefix and the app's static files).
        identify_once: Memory of the profiles identified recently.
        identify_func: The ``identify`` callable given to the extension, if any.
        blueprint: The blueprint serving ``op.js`` and the proxy, when one is registered.
        identify: The ``identify`` callable in use: ``identify_func``, else Flask-Login's
            when the app uses it (set at the first request, see :meth:`prepare`).
        prepared: Whether :meth:`prepare` has run.
    """

    config: BridgeConfig
    client: OpenPanelClient
    owns_client: bool
    excluded: PathMatcher
    identify_once: IdentifyOnce
    identify_func: IdentifyFunc | None = None
    blueprint: Blueprint | None = None
    # Set after construction, so not constructor arguments.
    identify: IdentifyFunc | None = field(default=None, init=False, repr=False)
    prepared: bool = field(default=False, init=False, repr=False)
    _proxy: Proxy | None = field(default=None, init=False, repr=False)
    _verifiers: dict[tuple[Any, ...], Verifier] = field(
        default_factory=dict[tuple[Any, ...], Verifier], init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def prepare(self, app: Flask) -> None:
        """At the first request: adapt to extensions set up after ``init_app``.

        The ``identify`` callable is the one given, else Flask-Login's when the app uses it
        (``LoginManager.init_app`` may run after ours); the proxy blueprint is exempted from
        Flask-WTF's CSRF protection (browsers post events to it without a token).

        Args:
            app: The app this state belongs to.
        """
        self.identify = self.identify_func or default_identify(app)
        if self.blueprint is not None:
            csrf: Any = app.extensions.get("csrf")
            exempt = getattr(csrf, "exempt", None)
            if callable(exempt):
                exempt(self.blueprint)
        self.prepared = True

    @property
    def proxy(self) -> Proxy:
        """The first-party proxy to the ingestion server (created at first use)."""
        proxy = self._proxy
        if proxy is None:
            with self._lock:
                proxy = self._proxy
                if proxy is None:
                    proxy = self._proxy = Proxy(self.config)
        return proxy

    def verifier(self, key: tuple[Any, ...], build: Any) -> Verifier:
        """A cached webhook verifier for ``key``, built by ``build()`` the first time.

        Args:
            key: What identifies the verifier's settings (secrets, tolerance).
            build: A callable without arguments returning a new :class:`Verifier`.

        Returns:
            The verifier cached for ``key``.
        """
        found = self._verifiers.get(key)
        if found is None:
            with self._lock:
                found = self._verifiers.get(key)
                if found is None:
                    found = self._verifiers[key] = build()
        return found

    def close(self, timeout: float | None = 2.0) -> None:
        """Close the proxy and, when the extension built it, shut the client down.

        Args:
            timeout: Seconds the client's final flush may take (None: until done).
        """
        with self._lock:
            proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.close()
        if self.owns_client:
            self.client.shutdown(timeout)


def current_state() -> OpenPanelState | None:
    """The state of the current app, or None outside an app context or without the extension."""
    if not has_app_context():
        return None
    state = current_app.extensions.get(EXTENSION_KEY)
    return state if isinstance(state, OpenPanelState) else None
