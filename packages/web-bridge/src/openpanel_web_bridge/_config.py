"""The bridge's configuration: one frozen object read from a framework's settings.

``BridgeConfig(...)`` never raises, so a framework can always build one and report what is
wrong through :meth:`BridgeConfig.problems` (Django system checks do). ``from_mapping`` is the
strict way in: unknown keys, wrong types and bad values raise ``ConfigurationError`` naming the
key and where it came from.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from openpanel_core import AsyncOpenPanel, ConfigurationError, OpenPanel

__all__ = ["BridgeConfig", "Problem"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# RFC 9110 token: header names and cookie names.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# A path prefix: "/" then path characters, no query, fragment, spaces or "//".
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
_DOMAIN = re.compile(r"^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_RESERVED_NAMES = frozenset({"session_start", "session_end"})


@dataclass(frozen=True, slots=True)
class Problem:
    """A misconfiguration found by :meth:`BridgeConfig.problems`.

    Attributes:
        id: A stable identifier, such as ``"openpanel.E001"``.
        level: ``"error"`` (the integration cannot work as configured) or ``"warning"``.
        message: What is wrong.
        hint: How to fix it.
    """

    id: str
    level: Literal["error", "warning"]
    message: str
    hint: str


def _read_only(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Everything the web integrations need, framework-neutral.

    Attributes:
        client_id: The project's client id (a UUID).
        client_secret: For server-side events. Never sent to browsers, never logged.
        api_url: The ingestion server (a trailing slash is removed).
        prefix: Where the app serves the script and the proxy (``prefix + "/op.js"``,
            ``prefix + "/track"``); a trailing slash is removed.
        proxy: Browser events go through the app's proxy (the snippet's ``apiUrl`` is the
            prefix); False: the browser talks to ``api_url`` directly.
        script: Serve the browser script first-party from ``prefix + "/op.js"``.
        disabled: No client, no events; the snippet renders ``""``.
        track_requests: Send one server-side event per handled request.
        request_event_name: The name of that event.
        exclude_paths: Paths never tracked (see :class:`PathMatcher`); the prefix always is.
        identify_users: Identify the logged-in user once per session.
        ip_header: A trusted forwarding header with the end user's IP (``"x-forwarded-for"``,
            ``"forwarded"``, ``"x-real-ip"``, ``"cf-connecting-ip"``...); None: the socket peer.
        trusted_hops: For ``x-forwarded-for`` and ``forwarded``: how many proxies you run.
        device_cookie: Opt in to a first-party device id cookie shared by browser (through
            the proxy) and backend events.
        cookie_name: Its name.
        cookie_max_age: Its lifetime in seconds.
        cookie_secure: Secure flag; None: set when the request is https.
        cookie_samesite: ``"Lax"``, ``"Strict"`` or ``"None"``.
        cookie_domain: Its Domain attribute (None: host-only).
        browser: Extra ``init`` options for the browser script (``trackOutgoingLinks``...).
        webhook_secrets: ``"whsec_..."`` secrets; several during a rotation.
        webhook_tolerance: Seconds a webhook timestamp may differ from now.
        max_proxy_body_bytes: Largest body the proxy forwards.
        proxy_timeout: Seconds the proxy waits for the ingestion server.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    api_url: str = "https://api.openpanel.dev"
    prefix: str = "/_op"
    proxy: bool = True
    script: bool = True
    disabled: bool = False
    track_requests: bool = False
    request_event_name: str = "server_request"
    exclude_paths: tuple[str, ...] = ()
    identify_users: bool = True
    ip_header: str | None = None
    trusted_hops: int = 1
    device_cookie: bool = False
    cookie_name: str = "op_did"
    cookie_max_age: int = 63072000
    cookie_secure: bool | None = None
    cookie_samesite: str = "Lax"
    cookie_domain: str | None = None
    browser: Mapping[str, Any] = field(default_factory=lambda: _read_only({}), hash=False)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    webhook_tolerance: int = 300
    max_proxy_body_bytes: int = 1_048_576
    proxy_timeout: float = 5.0

    def __post_init__(self) -> None:
        # Normalise without raising: problems() reports what is still wrong.
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        if isinstance(self.api_url, str):
            put("api_url", self.api_url.strip().rstrip("/"))
        if isinstance(self.prefix, str) and len(self.prefix) > 1:
            put("prefix", self.prefix.strip().rstrip("/") or "/")
        if isinstance(self.ip_header, str):
            put("ip_header", self.ip_header.strip().lower() or None)
        if isinstance(self.cookie_samesite, str):
            put(
                "cookie_samesite", _SAMESITE.get(self.cookie_samesite.lower(), self.cookie_samesite)
            )
        for name in ("exclude_paths", "webhook_secrets"):
            value = getattr(self, name)
            if isinstance(value, str):
                put(name, (value,))
            elif isinstance(value, (list, set, frozenset)):
                put(name, tuple(value))  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(self.browser, Mapping):
            put("browser", _read_only(self.browser))  # a private, read-only copy

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name not in ("client_secret", "webhook_secrets", "browser")
        )
        secret = ", client_secret=<hidden>" if self.client_secret else ""
        return f"BridgeConfig({shown}{secret})"

    # ------------------------------------------------------------------ strict construction

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "settings") -> BridgeConfig:
        """Build a config from a settings mapping, strictly.

        Keys are the field names in any case (``"client_id"``, ``"CLIENT_ID"``). Lists are
        accepted for tuples, and a single string for ``exclude_paths`` and
        ``webhook_secrets``. A missing ``client_id`` is not an error here (it is reported by
        :meth:`problems`), so that framework checks can say what to add.

        Args:
            values: The settings.
            source: How the settings are called in messages (``"OPENPANEL"``).

        Returns:
            The config; defaults for the keys not given.

        Raises:
            ConfigurationError: An unknown key, a wrong type or a bad value; the message
                names the key, as in ``OPENPANEL['api_url'] must be an http(s) URL``.
        """
        if not isinstance(values, Mapping):
            raise ConfigurationError(f"{source} must be a mapping, got {type(values).__name__}")
        kwargs: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = str(raw_key).lower()
            if key not in _FIELDS:
                known = ", ".join(sorted(_FIELDS))
                raise ConfigurationError(
                    f"{source}[{raw_key!r}] is not a known setting (known: {known})"
                )
            if key in kwargs:
                raise ConfigurationError(f"{source}[{raw_key!r}] is given twice (in two cases)")
            kwargs[key] = _coerce(key, value, f"{source}[{str(raw_key)!r}]")
        kwargs.setdefault("client_id", "")
        config = cls(**kwargs)
        for key, _problem_id, message in config._checks():
            if key == "client_id" and not config.client_id:
                continue
            given = next(
                (str(k) for k in values if str(k).lower() == key),
                key,
            )
            raise ConfigurationError(f"{source}[{given!r}] {message}")
        return config

    # ------------------------------------------------------------------ checks

    def _checks(self) -> list[tuple[str, str, str]]:
        """Value errors as (key, problem id, message) without the key name in front."""
        out: list[tuple[str, str, str]] = []
        if not self.disabled and not self.client_id:
            out.append(("client_id", "openpanel.E001", "is required"))
        url = urlsplit(self.api_url) if isinstance(self.api_url, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.hostname:
            out.append(("api_url", "openpanel.E002", "must be an http(s) URL"))
        elif url.query or url.fragment or url.username or url.password:
            out.append(
                (
                    "api_url",
                    "openpanel.E002",
                    "must be an http(s) URL without credentials, query or fragment",
                )
            )
        if not isinstance(self.prefix, str) or not _PREFIX.match(self.prefix):
            out.append(
                (
                    "prefix",
                    "openpanel.E003",
                    'must start with "/" and be a plain path such as "/_op" (not "/" alone)',
                )
            )
        if self.cookie_samesite not in ("Lax", "Strict", "None"):
            out.append(("cookie_samesite", "openpanel.E005", 'must be "Lax", "Strict" or "None"'))
        if not isinstance(self.cookie_name, str) or not _TOKEN.match(self.cookie_name):
            out.append(("cookie_name", "openpanel.E006", "must be a valid cookie name"))
        if self.cookie_domain is not None and not _DOMAIN.match(self.cookie_domain):
            out.append(("cookie_domain", "openpanel.E006", "must be a domain name"))
        if self.ip_header is not None and not _TOKEN.match(self.ip_header):
            out.append(("ip_header", "openpanel.E007", "must be an HTTP header name"))
        for key, value, minimum in (
            ("trusted_hops", self.trusted_hops, 1),
            ("cookie_max_age", self.cookie_max_age, 1),
            ("max_proxy_body_bytes", self.max_proxy_body_bytes, 1),
            ("webhook_tolerance", self.webhook_tolerance, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                out.append((key, "openpanel.E008", f"must be an integer of at least {minimum}"))
        if not isinstance(self.proxy_timeout, (int, float)) or not self.proxy_timeout > 0:
            out.append(("proxy_timeout", "openpanel.E008", "must be a positive number of seconds"))
        name = self.request_event_name
        if not isinstance(name, str) or not 0 < len(name) <= 80 or name in _RESERVED_NAMES:
            out.append(
                (
                    "request_event_name",
                    "openpanel.E009",
                    "must be 1-80 characters and not session_start/session_end",
                )
            )
        out.extend(self._browser_checks())
        out.extend(self._path_checks())
        out.extend(self._webhook_checks())
        return out

    def _browser_checks(self) -> list[tuple[str, str, str]]:
        if not isinstance(self.browser, Mapping):
            return [("browser", "openpanel.E010", "must be a mapping of init options")]
        if any("secret" in str(k).lower() for k in self.browser):
            return [
                ("browser", "openpanel.E010", "must not contain a secret (it goes to browsers)")
            ]
        try:
            json.dumps(dict(self.browser))
        except (TypeError, ValueError):
            return [("browser", "openpanel.E010", "must contain only JSON values")]
        return []

    def _path_checks(self) -> list[tuple[str, str, str]]:
        from openpanel_web_bridge._paths import PathMatcher

        try:
            PathMatcher(self.exclude_paths)
        except ConfigurationError as exc:
            return [("exclude_paths", "openpanel.E011", str(exc))]
        return []

    def _webhook_checks(self) -> list[tuple[str, str, str]]:
        if not self.webhook_secrets:
            return []
        from openpanel_core.webhooks import Verifier

        try:
            Verifier(list(self.webhook_secrets), tolerance=self.webhook_tolerance)
        except (ValueError, TypeError) as exc:  # InvalidSecretError is a ValueError
            reason = getattr(exc, "reason", "invalid")
            return [("webhook_secrets", "openpanel.E012", f"holds an unusable secret ({reason})")]
        return []

    def problems(self) -> list[Problem]:
        """Misconfiguration found without raising (for Django system checks).

        Returns:
            The problems, errors first; empty when all is well.
        """
        found: list[Problem] = [
            Problem(pid, "error", f"OpenPanel setting {key!r} {msg}", _HINTS.get(pid, ""))
            for key, pid, msg in self._checks()
        ]
        if self.device_cookie and self.cookie_samesite == "None" and self.cookie_secure is False:
            found.append(
                Problem(
                    "openpanel.E004",
                    "error",
                    "The device cookie has SameSite=None without Secure; browsers refuse it.",
                    "Set cookie_secure to True (or None) or use cookie_samesite 'Lax'.",
                )
            )
        if self.client_id and not _UUID.match(self.client_id):
            found.append(
                Problem(
                    "openpanel.W001",
                    "warning",
                    "OpenPanel client_id is not a UUID; OpenPanel client ids are.",
                    "Copy the client id from the project's settings in OpenPanel.",
                )
            )
        url = urlsplit(self.api_url) if isinstance(self.api_url, str) else None
        if (
            url is not None
            and url.scheme == "http"
            and url.hostname not in (None, "localhost", "127.0.0.1", "::1")
            and self.client_secret
        ):
            found.append(
                Problem(
                    "openpanel.W002",
                    "warning",
                    "OpenPanel api_url is plain http: the client secret travels unencrypted.",
                    "Use an https api_url.",
                )
            )
        if self.device_cookie and not self.proxy:
            found.append(
                Problem(
                    "openpanel.W003",
                    "warning",
                    "device_cookie is on but proxy is off: browser events do not carry it.",
                    "Turn proxy on, or turn device_cookie off.",
                )
            )
        return sorted(found, key=lambda p: p.level != "error")

    # ------------------------------------------------------------------ clients

    def _client_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {"api_url": self.api_url, "disabled": self.disabled}
        merged.update(options)
        return merged

    def make_client(self, **options: Any) -> OpenPanel:
        """A threaded client for server-side events (Django, Flask).

        Args:
            **options: Any :class:`openpanel_core.OpenPanel` option; overrides the config.

        Returns:
            A new client with the config's ``client_id``, ``client_secret``, ``api_url`` and
            ``disabled``; the caller owns it (shut it down at exit).

        Raises:
            ConfigurationError: An option is invalid, or no ``client_id`` while enabled.
        """
        return OpenPanel(
            self.client_id or None, self.client_secret, **self._client_options(options)
        )

    def make_async_client(self, **options: Any) -> AsyncOpenPanel:
        """An asyncio client for server-side events (ASGI apps).

        Args:
            **options: Any :class:`openpanel_core.AsyncOpenPanel` option; overrides the config.

        Returns:
            A new client with the config's ``client_id``, ``client_secret``, ``api_url`` and
            ``disabled``; the caller owns it (await its ``shutdown()`` at exit).

        Raises:
            ConfigurationError: An option is invalid, or no ``client_id`` while enabled.
        """
        return AsyncOpenPanel(
            self.client_id or None, self.client_secret, **self._client_options(options)
        )


_HINTS = {
    "openpanel.E001": "Add the client id of your OpenPanel project (or set disabled).",
    "openpanel.E002": 'Use the ingestion URL, e.g. "https://api.openpanel.dev".',
    "openpanel.E003": 'Use a path such as "/_op".',
    "openpanel.E005": 'Use "Lax" unless you know you need another value.',
    "openpanel.E006": 'Use letters, digits, "_" or "-", e.g. "op_did".',
    "openpanel.E007": 'Use the header your proxy sets, e.g. "x-forwarded-for".',
    "openpanel.E008": "Use a number in range.",
    "openpanel.E009": 'Use a name such as "server_request".',
    "openpanel.E010": "Pass only browser init options with JSON values.",
    "openpanel.E011": 'Use "/exact", "/glob/*" or "re:<regex>" patterns.',
    "openpanel.E012": 'Copy the "whsec_..." secret from the webhook settings.',
}


# ---------------------------------------------------------------------- from_mapping types


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string, got {type(value).__name__}")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where} must be True or False, got {value!r}")
    return value


def _opt_bool(value: Any, where: str) -> bool | None:
    return None if value is None else _bool(value, where)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{where} must be an integer, got {value!r}")
    return value


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{where} must be a number, got {value!r}")
    return float(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    items: list[object] = (
        list(cast("list[object]", value)) if isinstance(value, (list, tuple)) else []
    )
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise ConfigurationError(f"{where} must be a list of strings")
    return tuple(cast("list[str]", items))


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str)
        for k in value  # pyright: ignore[reportUnknownVariableType]
    ):
        raise ConfigurationError(f"{where} must be a mapping with string keys")
    return _read_only(value)  # pyright: ignore[reportUnknownArgumentType]


_COERCE: dict[str, Callable[[Any, str], Any]] = {
    "client_id": _str,
    "client_secret": _opt_str,
    "api_url": _str,
    "prefix": _str,
    "proxy": _bool,
    "script": _bool,
    "disabled": _bool,
    "track_requests": _bool,
    "request_event_name": _str,
    "exclude_paths": _strings,
    "identify_users": _bool,
    "ip_header": _opt_str,
    "trusted_hops": _int,
    "device_cookie": _bool,
    "cookie_name": _str,
    "cookie_max_age": _int,
    "cookie_secure": _opt_bool,
    "cookie_samesite": _str,
    "cookie_domain": _opt_str,
    "browser": _mapping,
    "webhook_secrets": _strings,
    "webhook_tolerance": _int,
    "max_proxy_body_bytes": _int,
    "proxy_timeout": _float,
}
_FIELDS = frozenset(f.name for f in dataclasses.fields(BridgeConfig))
assert set(_COERCE) == _FIELDS, "every field needs a coercion"


def _coerce(key: str, value: Any, where: str) -> Any:
    return _COERCE[key](value, where)
