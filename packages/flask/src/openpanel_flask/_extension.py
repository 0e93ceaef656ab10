"""The ``OpenPanel`` Flask extension: ``OpenPanel(app)`` or ``OpenPanel()`` + ``init_app(app)``."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Any

from flask import Flask, current_app, has_app_context

from openpanel_core import OpenPanel as OpenPanelClient
from openpanel_flask._blueprint import make_blueprint
from openpanel_flask._config import read_config
from openpanel_flask._hooks import install_hooks
from openpanel_flask._identity import IdentifyFunc
from openpanel_flask._state import EXTENSION_KEY, OpenPanelState
from openpanel_flask._template import make_script_global
from openpanel_web_bridge import IdentifyOnce, excluded_paths

__all__ = ["OpenPanel", "current_client"]

logger = logging.getLogger("openpanel_flask")


class OpenPanel:
    """OpenPanel analytics for a Flask app (or several, with an app factory).

    ``init_app`` reads the ``OPENPANEL_*`` config keys (one per field of
    :class:`openpanel_web_bridge.BridgeConfig`, e.g. ``OPENPANEL_CLIENT_ID``,
    ``OPENPANEL_CLIENT_SECRET``, ``OPENPANEL_API_URL``, ``OPENPANEL_TRACK_REQUESTS``), then:

    * opens the end user's context (IP, user agent, device, logged-in profile) around every
      request, so any ``track`` during the request carries it, and identifies the logged-in
      user once per session;
    * optionally tracks one ``server_request`` event per request (``OPENPANEL_TRACK_REQUESTS``);
    * adds the Jinja global ``openpanel_script()``;
    * registers a blueprint at ``OPENPANEL_PREFIX`` (``/_op``) serving ``op.js`` and the
      proxy to the ingestion server (``OPENPANEL_REGISTER_BLUEPRINT = False`` to skip).

    State lives in ``app.extensions["openpanel"]`` (an :class:`OpenPanelState`), never on this
    object, so one instance serves any number of apps. Installing twice on one app warns and
    changes nothing.

    Args:
        app: The app to install on now; or call :meth:`init_app` later.
        client: A core client to use instead of building one per app from the config.
        identify: ``() -> profile id | ProfileDict | None`` for the logged-in user; default
            Flask-Login's ``current_user`` when the app uses Flask-Login.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        client: OpenPanelClient | None = None,
        identify: IdentifyFunc | None = None,
    ) -> None:
        self._client = client
        self._identify = identify
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        *,
        client: OpenPanelClient | None = None,
        identify: IdentifyFunc | None = None,
    ) -> None:
        """Install on ``app`` (idempotent: a second call warns and does nothing).

        Args:
            app: The Flask app.
            client: Overrides the client given to the constructor, for this app.
            identify: Overrides the ``identify`` given to the constructor, for this app.

        Raises:
            openpanel_core.ConfigurationError: An ``OPENPANEL_*`` key is unknown or invalid.
        """
        if EXTENSION_KEY in app.extensions:
            warnings.warn(
                f"OpenPanel is already installed on the Flask app {app.name!r}; "
                "this init_app() call is ignored",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        config, options, register_blueprint = read_config(app.config)
        chosen = client or self._client
        owns = chosen is None
        if chosen is None:
            chosen = config.make_client(**options)
        patterns: tuple[str, ...] = tuple(config.exclude_paths)
        if app.has_static_folder and app.static_url_path:
            patterns = (*patterns, app.static_url_path.rstrip("/") + "/*")
        state = OpenPanelState(
            config=config,
            client=chosen,
            owns_client=owns,
            excluded=excluded_paths(dataclasses.replace(config, exclude_paths=patterns)),
            identify_once=IdentifyOnce(),
            identify_func=identify or self._identify,
        )
        app.extensions[EXTENSION_KEY] = state
        if not config.disabled:
            install_hooks(app, state)
        app.add_template_global(make_script_global(state), "openpanel_script")
        if register_blueprint and not config.disabled and (config.script or config.proxy):
            state.blueprint = make_blueprint(state)
            app.register_blueprint(state.blueprint)

    def state(self, app: Flask | None = None) -> OpenPanelState:
        """The state of ``app`` (default: the current app).

        Args:
            app: A Flask app; None for the app of the current app context.

        Returns:
            The app's :class:`OpenPanelState` (config, client, proxy).

        Raises:
            RuntimeError: The extension is not installed on that app.
        """
        target: Any = app if app is not None else (current_app if has_app_context() else None)
        state = None if target is None else target.extensions.get(EXTENSION_KEY)
        if not isinstance(state, OpenPanelState):
            raise RuntimeError("OpenPanel is not installed on this Flask app (call init_app)")
        return state

    @property
    def client(self) -> OpenPanelClient:
        """The core client of the current app, for ``track``, ``identify``, ``revenue``..."""
        return self.state().client

    def shutdown(self, app: Flask | None = None, timeout: float | None = 2.0) -> None:
        """Send what is queued (within ``timeout``) and release the app's client and proxy.

        A client passed in by you is flushed but not shut down.

        Args:
            app: A Flask app; None for the app of the current app context.
            timeout: Seconds the final flush may take (None: until everything is sent).

        Raises:
            RuntimeError: The extension is not installed on that app (or no app context).
        """
        state = self.state(app)
        if not state.owns_client:
            state.client.flush(timeout)
        state.close(timeout)


def current_client() -> OpenPanelClient:
    """The core client of the current Flask app (``app.extensions["openpanel"].client``).

    Returns:
        The app's :class:`openpanel_core.OpenPanel` client.

    Raises:
        RuntimeError: Outside an app context, or the extension is not installed.
    """
    return OpenPanel().state().client
