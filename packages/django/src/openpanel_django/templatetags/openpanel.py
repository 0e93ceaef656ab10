"""``{% load openpanel %}`` and ``{% openpanel_script %}`` in the page's ``<head>``."""

from __future__ import annotations

from typing import Any

from django import template

from openpanel_django._snippet import script_tag

register = template.Library()


def openpanel_script(context: Any, **options: Any) -> str:
    """The OpenPanel browser snippet (see :func:`openpanel_django.script_tag`).

    Keyword arguments are extra browser ``init`` options for this page, e.g.
    ``{% openpanel_script trackOutgoingLinks=True %}``.
    """
    request = getattr(context, "request", None) or context.get("request")
    nonce = context.get("csp_nonce")
    return script_tag(request, options=options or None, nonce=nonce)


register.simple_tag(openpanel_script, takes_context=True)
