"""The Django app: ``INSTALLED_APPS = [..., "openpanel_django"]`` (label ``openpanel``)."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["OpenPanelConfig"]


class OpenPanelConfig(AppConfig):
    """Registers the system checks and the ``{% load openpanel %}`` template library.

    Nothing happens at import time: settings are read on first use.
    """

    name = "openpanel_django"
    label = "openpanel"
    verbose_name = "OpenPanel"
    default = True

    def ready(self) -> None:
        """Register the ``openpanel`` system checks."""
        from openpanel_django._checks import register_checks

        register_checks()
