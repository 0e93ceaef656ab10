"""OpenPanel analytics for Flask: extension, Jinja snippet, first-party proxy blueprint, webhooks.

::

    from flask import Flask
    from openpanel_flask import OpenPanel

    app = Flask(__name__)
    app.config["OPENPANEL_CLIENT_ID"] = "..."
    app.config["OPENPANEL_CLIENT_SECRET"] = "..."
    openpanel = OpenPanel(app)


    @app.post("/buy")
    def buy():
        openpanel.client.track("purchase", {"sku": "A1"})  # carries the visitor's ip and ua
        ...

Templates call ``{{ openpanel_script() }}`` in ``<head>``; webhook receivers use
:func:`openpanel_webhook`.
"""

from __future__ import annotations

from openpanel_core import __version__
from openpanel_flask._extension import OpenPanel, current_client
from openpanel_flask._identity import IdentifyFunc, ProfileDict
from openpanel_flask._state import OpenPanelState
from openpanel_flask._webhooks import openpanel_webhook, webhook_message

__all__ = [
    "IdentifyFunc",
    "OpenPanel",
    "OpenPanelState",
    "ProfileDict",
    "__version__",
    "current_client",
    "openpanel_webhook",
    "webhook_message",
]
