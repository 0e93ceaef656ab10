"""The extension object: init_app, config keys, idempotence, app factories, public API."""

from __future__ import annotations

import logging
import warnings

import pytest
from flask import Flask
from flask_helpers import CLIENT_ID, build_app, recording_client, tracks

import openpanel_flask
from openpanel_core import ConfigurationError
from openpanel_flask import OpenPanel, OpenPanelState, current_client

OTHER_ID = "0e6e4b4c-1111-4222-8333-944455556666"


def test_public_api_is_exactly_all() -> None:
    public = {
        name
        for name in vars(openpanel_flask)
        if not name.startswith("_") and name != "annotations"  # from __future__
    }
    assert set(openpanel_flask.__all__) - {"__version__"} == public
    assert openpanel_flask.__all__ == sorted(openpanel_flask.__all__)


def test_state_lives_in_app_extensions_never_on_the_extension() -> None:
    client, _ = recording_client()
    app = Flask("one")
    app.config["OPENPANEL_CLIENT_ID"] = CLIENT_ID
    ext = OpenPanel(app, client=client)
    state = app.extensions["openpanel"]
    assert isinstance(state, OpenPanelState)
    assert state is ext.state(app)
    assert state.client is client and not state.owns_client
    assert not hasattr(ext, "app")
    with app.app_context():
        assert ext.client is client
        assert current_client() is client


def test_a_client_is_built_from_the_config_keys() -> None:
    app = Flask("built")
    app.config.from_mapping(
        OPENPANEL_CLIENT_ID=CLIENT_ID,
        OPENPANEL_CLIENT_SECRET="sec_abc",
        OPENPANEL_API_URL="http://127.0.0.1:9/",
        OPENPANEL_CLIENT_OPTIONS={"flush_interval": 0.25, "max_retries": 0},
    )
    ext = OpenPanel(app)
    state = ext.state(app)
    try:
        assert state.owns_client
        assert state.client.client_id == CLIENT_ID
        assert state.client.api_url == "http://127.0.0.1:9"
        assert state.client.flush_interval == 0.25
        assert state.config.client_secret == "sec_abc"
        assert "sec_abc" not in repr(state)
    finally:
        ext.shutdown(app, timeout=0.1)


def test_unknown_and_bad_keys_raise_naming_the_key() -> None:
    app = Flask("bad")
    app.config.from_mapping(OPENPANEL_CLIENT_ID=CLIENT_ID, OPENPANEL_TRACK_REQUEST=True)
    with pytest.raises(ConfigurationError, match=r"app\.config\['OPENPANEL_TRACK_REQUEST'\]"):
        OpenPanel(app)
    assert "openpanel" not in app.extensions

    app = Flask("bad_url")
    app.config.from_mapping(OPENPANEL_CLIENT_ID=CLIENT_ID, OPENPANEL_API_URL="ftp://x")
    with pytest.raises(ConfigurationError, match=r"OPENPANEL_API_URL"):
        OpenPanel(app)

    app = Flask("no_id")
    with pytest.raises(ConfigurationError, match="client_id"):
        OpenPanel(app)

    app = Flask("bad_options")
    app.config.from_mapping(OPENPANEL_CLIENT_ID=CLIENT_ID, OPENPANEL_CLIENT_OPTIONS=["x"])
    with pytest.raises(ConfigurationError, match="OPENPANEL_CLIENT_OPTIONS"):
        OpenPanel(app)


def test_warnings_of_the_config_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = recording_client()
    app = Flask("warn")
    app.config.from_mapping(OPENPANEL_CLIENT_ID="not-a-uuid")
    with caplog.at_level(logging.WARNING, logger="openpanel_flask"):
        OpenPanel(app, client=client)
    assert "openpanel.W001" in caplog.text


def test_disabled_installs_no_hooks_and_no_blueprint() -> None:
    app = Flask("off")
    app.config.from_mapping(OPENPANEL_DISABLED=True)
    ext = OpenPanel(app)
    assert app.before_request_funcs == {}
    assert "openpanel" not in app.blueprints
    assert ext.state(app).client.disabled


def test_init_app_twice_warns_once_and_records_once() -> None:
    client, transport = recording_client()
    app = build_app({"OPENPANEL_TRACK_REQUESTS": True}, client=client)
    ext = OpenPanel(client=client)
    hooks = list(app.before_request_funcs[None])
    with pytest.warns(RuntimeWarning, match="already installed") as caught:
        ext.init_app(app)
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        OpenPanel(app)  # another instance: same answer
    assert app.before_request_funcs[None] == hooks
    app.test_client().get("/")
    assert len(tracks(transport, "server_request")) == 1


def test_app_factory_with_two_apps() -> None:
    client_a, transport_a = recording_client()
    client_b, transport_b = recording_client()
    openpanel = OpenPanel()

    def create_app(client_id: str, prefix: str, client: object) -> Flask:
        app = Flask(f"factory_{prefix.strip('/')}")
        app.config.from_mapping(
            OPENPANEL_CLIENT_ID=client_id, OPENPANEL_PREFIX=prefix, OPENPANEL_TRACK_REQUESTS=True
        )
        openpanel.init_app(app, client=client)  # type: ignore[arg-type]

        @app.get("/")
        def home() -> str:
            openpanel.client.track("home_seen")
            return "ok"

        return app

    a = create_app(CLIENT_ID, "/a", client_a)
    b = create_app(OTHER_ID, "/b", client_b)
    assert a.test_client().get("/").status_code == 200
    assert b.test_client().get("/").status_code == 200
    assert b.test_client().get("/").status_code == 200
    assert [e.name for e in tracks(transport_a)] == ["home_seen", "server_request"]
    assert len(tracks(transport_b, "home_seen")) == 2
    assert a.test_client().get("/a/op.js").status_code == 200
    assert a.test_client().get("/b/op.js").status_code == 404
    assert b.test_client().get("/b/op.js").status_code == 200
    assert openpanel.state(a).config.client_id == CLIENT_ID
    assert openpanel.state(b).config.client_id == OTHER_ID


def test_state_of_an_app_without_the_extension() -> None:
    with pytest.raises(RuntimeError, match="not installed"):
        OpenPanel().state(Flask("bare"))
    with pytest.raises(RuntimeError):
        current_client()  # no app context


def test_shutdown_keeps_a_client_that_was_passed_in() -> None:
    client, transport = recording_client()
    app = build_app(client=client)
    ext = OpenPanel()
    ext.shutdown(app)
    client.track("still_works")
    assert tracks(transport, "still_works")
