"""pytest fixtures for apps that use openpanel_core (opt in from your ``conftest.py``).

``pytest_plugins = ["openpanel_core.pytest_plugin"]``, then::

    def test_signup(openpanel_client, openpanel_transport):
        openpanel_client.track("signup")
        assert [e.name for e in openpanel_transport.events] == ["signup"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openpanel_core._client import OpenPanel
from openpanel_core.testing import RecordingTransport

__all__ = ["openpanel_client", "openpanel_transport"]


@pytest.fixture
def openpanel_transport() -> RecordingTransport:
    """A fresh :class:`~openpanel_core.testing.RecordingTransport`.

    Returns:
        A transport that answers like a server and records every event.
    """
    return RecordingTransport()


@pytest.fixture
def openpanel_client(openpanel_transport: RecordingTransport) -> Iterator[OpenPanel]:
    """An :class:`~openpanel_core.OpenPanel` in ``sync_mode`` recording the transport.

    Args:
        openpanel_transport: The test's recording transport (the fixture above).

    Yields:
        A client that sends on the calling thread; shut down after the test.
    """
    client = OpenPanel(
        "00000000-0000-4000-8000-000000000000",
        api_url="http://openpanel.test",
        transport=openpanel_transport,
        sync_mode=True,
    )
    yield client
    client.shutdown(1.0)
