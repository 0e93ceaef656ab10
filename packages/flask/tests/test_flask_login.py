"""Flask-Login's ``current_user`` is the profile when the app uses Flask-Login.

Flask-Login is optional for the package (it never imports it); the workspace's dev group
installs it, so these tests run there.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask_helpers import BROWSER_UA, CLIENT_ID, recording_client, tracks

from openpanel_flask import OpenPanel, current_client

flask_login: Any = pytest.importorskip("flask_login")


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def _app(*, openpanel_first: bool) -> tuple[Flask, Any]:
    client, transport = recording_client()
    app = Flask("login_app")
    app.config.from_mapping(TESTING=True, SECRET_KEY="k", OPENPANEL_CLIENT_ID=CLIENT_ID)
    manager = flask_login.LoginManager()
    if openpanel_first:  # the extension finds Flask-Login at the first request either way
        OpenPanel(app, client=client)
        manager.init_app(app)
    else:
        manager.init_app(app)
        OpenPanel(app, client=client)

    @manager.user_loader
    def load(user_id: str) -> User:
        return User(user_id)

    @app.post("/login")
    def login() -> str:
        flask_login.login_user(User("u-7"))
        return "ok"

    @app.post("/buy")
    def buy() -> str:
        current_client().track("purchase")
        return "ok"

    assert load  # registered
    return app, transport


@pytest.mark.parametrize("openpanel_first", [True, False])
def test_current_user_is_the_profile(openpanel_first: bool) -> None:
    app, transport = _app(openpanel_first=openpanel_first)
    web = app.test_client()
    env = {"REMOTE_ADDR": "203.0.113.1", "HTTP_USER_AGENT": BROWSER_UA}
    web.post("/buy", environ_base=env)
    web.post("/login", environ_base=env)
    web.post("/buy", environ_base=env)
    anonymous, logged_in = tracks(transport, "purchase")
    assert "profileId" not in anonymous.payload
    assert logged_in.payload["profileId"] == "u-7"
    identifies = [e for e in transport.events if e.type == "identify"]
    assert [e.payload["profileId"] for e in identifies] == ["u-7"]
