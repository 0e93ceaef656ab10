"""A transport for applications standardised on ``requests`` (``openpanel-core[requests]``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from openpanel_core._errors import ConfigurationError, TransportError
from openpanel_core._transport.base import Request, Response

if TYPE_CHECKING:
    import requests

__all__ = ["RequestsTransport"]


class RequestsTransport:
    """Sync transport on ``requests``: one ``Session`` per sender thread, keep-alive pools.

    ``requests.Session`` is not documented as thread-safe, so each sender thread gets its own.

    Args:
        max_connections: Pool size per host.
        session_factory: Builds a configured ``requests.Session`` (auth, proxies, certificates).

    Raises:
        ConfigurationError: ``requests`` is not installed.
    """

    def __init__(
        self,
        *,
        max_connections: int = 8,
        session_factory: Any = None,
    ) -> None:
        try:
            import requests
            import requests.adapters
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "RequestsTransport needs requests: pip install 'openpanel-core[requests]'"
            ) from exc
        self._requests = requests
        self._max_connections = max_connections
        self._factory = session_factory
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        existing: requests.Session | None = getattr(self._local, "session", None)
        if existing is None:
            session: requests.Session = (
                self._factory() if self._factory else self._requests.Session()
            )
            adapter = self._requests.adapters.HTTPAdapter(
                pool_connections=1, pool_maxsize=self._max_connections
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
            return session
        return existing

    def send(self, request: Request) -> Response:
        """Send one request; network failures become :class:`TransportError`.

        Args:
            request: What to send.

        Returns:
            The server's answer, whatever its status (redirects are not followed).

        Raises:
            TransportError: No HTTP answer (connection refused or reset, DNS, timeout).
        """
        try:
            r = self._session().request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.content,
                timeout=request.timeout,
                allow_redirects=False,
            )
        except self._requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    def after_fork(self) -> None:
        """Forget sessions inherited from the parent process."""
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every session this transport opened."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
