"""Flask quick start: the whole app in one file.

Run it with ``flask --app flask_quickstart run`` after setting ``OPENPANEL_CLIENT_ID`` and
``OPENPANEL_CLIENT_SECRET`` (and ``OPENPANEL_API_URL`` for your own server).
"""

from __future__ import annotations

import os

from flask import Flask, render_template_string

from openpanel_flask import OpenPanel

# --8<-- [start:setup]
app = Flask(__name__)
app.config["OPENPANEL_CLIENT_ID"] = os.environ["OPENPANEL_CLIENT_ID"]
app.config["OPENPANEL_CLIENT_SECRET"] = os.environ["OPENPANEL_CLIENT_SECRET"]  # server-side only
app.config["OPENPANEL_API_URL"] = os.environ.get("OPENPANEL_API_URL", "https://api.openpanel.dev")
# The browser script ignores pages on localhost unless asked: on while you try this locally.
app.config["OPENPANEL_BROWSER"] = {"trackLocalhost": True}
openpanel = OpenPanel(app)
# --8<-- [end:setup]

# --8<-- [start:views]
PAGE = """<!doctype html>
<html>
  <head>
    <title>Shop</title>
    {{ openpanel_script() }}
  </head>
  <body>
    <form method="post" action="/signup"><button>Sign up</button></form>
  </body>
</html>"""


@app.get("/")
def home() -> str:
    return render_template_string(PAGE)


@app.post("/signup")
def signup() -> tuple[str, int]:
    # Carries the visitor's IP and user agent: same device and session as their page views.
    openpanel.client.track("signup", {"plan": "free"})
    return "Welcome!", 201


# --8<-- [end:views]
