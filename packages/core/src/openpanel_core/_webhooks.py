"""Webhook signing and verification: Standard Webhooks v1 and the legacy X-OpenPanel scheme.

The algorithm follows ``reference/webhooks.md`` §4.4: the size cap comes before any hashing,
timestamps are strict integers checked in both directions, the HMAC runs over the raw body bytes
without copying them, malformed signature entries are skipped rather than raised, comparison is
constant-time on bytes, and the JSON body is parsed only after the signature has been verified.
Every malformed input raises a `WebhookError` subclass; only wrong argument *types* (a programmer
error, such as a ``str`` body) raise `TypeError`, and bad options raise `ValueError`.

Nothing here logs: secrets, bodies and header values never reach a logger or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from secrets import token_bytes
from typing import Any, Literal, TypeAlias, cast

from openpanel_core._webhook_errors import (
    InvalidPayloadError,
    InvalidSecretError,
    InvalidTimestampError,
    MalformedHeaderError,
    MissingHeaderError,
    NoSupportedSignatureError,
    PayloadTooLargeError,
    ReplayedMessageError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    WebhookError,
    WebhookVerificationError,
)

__all__ = [
    "InvalidPayloadError",
    "InvalidSecretError",
    "InvalidTimestampError",
    "MalformedHeaderError",
    "MissingHeaderError",
    "NoSupportedSignatureError",
    "PayloadTooLargeError",
    "ReplayedMessageError",
    "SignatureMismatchError",
    "TimestampOutOfToleranceError",
    "Verifier",
    "WebhookError",
    "WebhookMessage",
    "WebhookVerificationError",
    "constant_time_equal",
    "generate_secret",
    "sign",
    "verify",
]

Scheme: TypeAlias = Literal["standard", "openpanel"]
Secrets: TypeAlias = "str | bytes | Sequence[str | bytes]"
Headers: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"

DEFAULT_TOLERANCE = 300
DEFAULT_MAX_BODY_BYTES = 1_048_576

_SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
_LEGACY_PREFIX = "sha256="
_MAX_TIMESTAMP_DIGITS = 12
_STANDARD_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")
_SVIX_NAMES = ("svix-id", "svix-timestamp", "svix-signature")
_LEGACY_NAMES = ("x-openpanel-signature", "x-openpanel-event", "x-openpanel-delivery")


# -------------------------------------------------------------------------------------- message


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """A verified webhook.

    Attributes:
        id: The ``webhook-id`` (signed). With ``scheme="openpanel"`` it is the *unsigned*
            ``X-OpenPanel-Delivery`` header, or None when that header is absent.
        timestamp: The signed ``webhook-timestamp`` in Unix seconds; None for the legacy scheme.
        type: The event type: the body's ``"type"`` string when the body was parsed. Only with
            ``scheme="openpanel"`` does it fall back to the *unsigned* ``X-OpenPanel-Event``
            header; with the standard scheme every field comes from signed content.
        data: The parsed JSON object, or None when ``parse=False``.
        body: The exact bytes that were verified.
    """

    id: str | None
    timestamp: int | None
    type: str | None
    data: dict[str, Any] | None = field(repr=False, hash=False)
    body: bytes = field(repr=False)


_SET_FIELDS = tuple(
    WebhookMessage.__dict__[name].__set__ for name in ("id", "timestamp", "type", "data", "body")
)


def _new_message(
    msg_id: str | None, timestamp: int | None, event: str | None, data: Any, body: bytes
) -> WebhookMessage:
    """A `WebhookMessage` built through its slot descriptors.

    The same object as the constructor makes (frozen afterwards, equal, hashable), without the
    frozen dataclass's per-field ``object.__setattr__`` calls, which are a measurable share of
    a 1 KiB verification.
    """
    message = object.__new__(WebhookMessage)
    set_id, set_timestamp, set_type, set_data, set_body = _SET_FIELDS
    set_id(message, msg_id)
    set_timestamp(message, timestamp)
    set_type(message, event)
    set_data(message, data)
    set_body(message, body)
    return message


# ------------------------------------------------------------------------------------- helpers


# Standard base64 with the alphabet enforced (ValueError otherwise). binascii's strict mode
# (Python 3.11+) does it without base64's wrapper: a few hundred ns per verification.
if sys.version_info >= (3, 11):

    def _b64decode_strict(text: str) -> bytes:
        return binascii.a2b_base64(text, strict_mode=True)

else:

    def _b64decode_strict(text: str) -> bytes:
        return base64.b64decode(text, validate=True)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time independent of their contents.

    The only place in the project that calls `hmac.compare_digest`; always pass bytes (never
    ``str``, which raises `TypeError` on non-ASCII input).

    Args:
        a: The first value.
        b: The second value.

    Returns:
        True when both are equal.
    """
    return hmac.compare_digest(a, b)  # noqa: TID251


def generate_secret() -> str:
    """Generate a new endpoint secret: ``whsec_`` + base64 of 32 random bytes.

    Returns:
        The secret, usable for both schemes.
    """
    return _SECRET_PREFIX + base64.b64encode(token_bytes(32)).decode("ascii")


def _secret_list(secrets: object) -> tuple[object, ...]:
    if isinstance(secrets, (str, bytes, bytearray)):
        return (secrets,)
    if not isinstance(secrets, Sequence):
        raise TypeError("secrets must be a str, bytes, or a sequence of them")
    items = tuple(cast("Sequence[object]", secrets))
    if not items:
        raise InvalidSecretError("no webhook secret was given")
    return items


def _decode_key(secret: object, index: int, scheme: Scheme) -> bytes:
    if isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    elif not isinstance(secret, str):
        raise TypeError(f"webhook secret [{index}] must be str or bytes")
    elif scheme == "openpanel":
        try:
            key = secret.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidSecretError(f"webhook secret [{index}] is not valid text") from None
    else:
        text = secret[len(_SECRET_PREFIX) :] if secret.startswith(_SECRET_PREFIX) else secret
        try:
            key = base64.b64decode(text, validate=True)
        except ValueError:
            raise InvalidSecretError(
                f"webhook secret [{index}] is not strict base64 after the optional 'whsec_' prefix"
            ) from None
    if not key:
        raise InvalidSecretError(f"webhook secret [{index}] is empty")
    return key


def _decode_keys(secrets: Secrets, scheme: Scheme) -> tuple[bytes, ...]:
    if scheme != "standard" and scheme != "openpanel":
        raise ValueError(f"scheme must be 'standard' or 'openpanel', not {scheme!r}")
    if isinstance(secrets, str):  # the common case, kept cheap for the module-level verify()
        return (_decode_key(secrets, 0, scheme),)
    return tuple(_decode_key(s, i, scheme) for i, s in enumerate(_secret_list(secrets)))


def _check_options(tolerance: object, max_body_bytes: object) -> None:
    if not isinstance(tolerance, int) or not isinstance(max_body_bytes, int):
        raise TypeError("tolerance and max_body_bytes must be int")
    if tolerance < 0:
        raise ValueError("tolerance must be a non-negative number of seconds")
    if max_body_bytes < 0:
        raise ValueError("max_body_bytes must be non-negative")


def _raw_body(body: object, max_body_bytes: int | None) -> bytes:
    """Apply the size cap, then return immutable bytes (a snapshot of mutable buffers)."""
    if isinstance(body, bytes):
        size = len(body)
    elif isinstance(body, (bytearray, memoryview)):
        size = body.nbytes if isinstance(body, memoryview) else len(body)
    else:
        kind = type(body).__name__
        raise TypeError(f"body must be the raw request body as bytes, not {kind}")
    if max_body_bytes is not None and size > max_body_bytes:
        raise PayloadTooLargeError(
            f"webhook body is {size} bytes, over the {max_body_bytes}-byte limit",
            size=size,
            max_body_bytes=max_body_bytes,
        )
    return body if isinstance(body, bytes) else bytes(cast("bytearray | memoryview[int]", body))


def _now(now: object) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        return now.timestamp()
    if not isinstance(now, (int, float)):
        raise TypeError("now must be Unix seconds (int or float) or an aware datetime")
    if not math.isfinite(now):
        raise ValueError("now must be finite")
    return float(now)


def _lookup(headers: Headers, names: tuple[str, str, str]) -> list[str | None]:
    """Return the values of three lowercase ``names``, matched case-insensitively.

    Case-insensitive mappings (Django, Starlette, Werkzeug) and lowercase dicts answer through
    ``.get``; only a miss falls back to one scan over the pairs, where the first pair wins.
    """
    get: Callable[[str], object] | None
    if type(headers) is dict:  # the common case first: a plain dict skips the ABC check
        get = cast("dict[str, object]", headers).get
    elif isinstance(headers, Mapping):
        get = cast("Mapping[str, object]", headers).get
    elif isinstance(headers, (str, bytes, bytearray, memoryview)):
        raise TypeError("headers must be a mapping or an iterable of (name, value) pairs")
    else:  # Werkzeug's (Environ)Headers are no Mapping, but have a case-insensitive get().
        get = getattr(headers, "get", None)
    first, second, third = names
    found: list[object] = (
        [get(first), get(second), get(third)] if callable(get) else [None, None, None]
    )
    if None in found:
        pairs: Iterable[Any] = (
            cast("Mapping[str, object]", headers).items()
            if isinstance(headers, Mapping)
            else headers
        )
        try:
            for name, value in pairs:
                if not isinstance(name, str):
                    raise TypeError("header names must be str")
                lowered = name.lower()
                if lowered in names:
                    i = names.index(lowered)
                    if found[i] is None:
                        found[i] = value
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "headers must be a mapping or an iterable of (name, value) pairs of str"
            ) from exc
    for value in found:
        if value is not None and not isinstance(value, str):
            raise TypeError("header values must be str")
    return cast("list[str | None]", found)


# -------------------------------------------------------------------------------- verification


def _v1_digests(
    keys: Sequence[bytes], macs: Sequence[hmac.HMAC], prefix: bytes, body: bytes
) -> list[bytes]:
    """HMAC-SHA256 of ``prefix + body`` per key, fed incrementally so the body is never copied.

    ``macs`` (from a `Verifier`) are pre-keyed copies of ``keys``; copying one skips the key setup.
    """
    digests: list[bytes] = []
    if macs:
        for base in macs:
            mac = base.copy()
            mac.update(prefix)
            mac.update(body)
            digests.append(mac.digest())
    else:
        for key in keys:
            mac = hmac.new(key, prefix, hashlib.sha256)
            mac.update(body)
            digests.append(mac.digest())
    return digests


def _check_standard(
    body: bytes,
    headers: Headers,
    keys: Sequence[bytes],
    macs: Sequence[hmac.HMAC],
    tolerance: int,
    current: float,
    accept_svix_headers: bool,
) -> tuple[str, int]:
    names = _STANDARD_NAMES
    msg_id, ts_text, signature = _lookup(headers, names)
    if accept_svix_headers and msg_id is None and ts_text is None and signature is None:
        names = _SVIX_NAMES
        msg_id, ts_text, signature = _lookup(headers, names)
    if not msg_id:
        raise MissingHeaderError(f"missing {names[0]} header")
    if not ts_text:
        raise MissingHeaderError(f"missing {names[1]} header")
    if not signature:
        raise MissingHeaderError(f"missing {names[2]} header")
    if not msg_id.isascii() or "." in msg_id:
        raise MalformedHeaderError(f"{names[0]} must be ASCII without '.'")

    # 1 to 12 ASCII digits; isdigit() alone would accept other scripts' digits.
    if not (ts_text.isascii() and ts_text.isdigit() and len(ts_text) <= _MAX_TIMESTAMP_DIGITS):
        raise InvalidTimestampError(f"{names[1]} must be an integer of 1 to 12 digits")
    timestamp = int(ts_text)
    if current - timestamp > tolerance:
        raise TimestampOutOfToleranceError(
            "webhook timestamp is too old",
            reason="timestamp_too_old",
            timestamp=timestamp,
            now=current,
            tolerance=tolerance,
        )
    if timestamp - current > tolerance:
        raise TimestampOutOfToleranceError(
            "webhook timestamp is too far in the future",
            reason="timestamp_too_new",
            timestamp=timestamp,
            now=current,
            tolerance=tolerance,
        )

    expected: list[bytes] | None = None
    for token in signature.split():
        version, comma, encoded = token.partition(",")
        if not comma or version != "v1":
            continue
        if expected is None:  # computed once, and only if there is something to compare
            expected = _v1_digests(keys, macs, f"{msg_id}.{ts_text}.".encode("ascii"), body)
        try:
            candidate = _b64decode_strict(encoded)
        except ValueError:  # binascii.Error, or non-ASCII text: a non-match, not an error
            continue
        for digest in expected:
            if constant_time_equal(digest, candidate):
                return msg_id, timestamp
    if expected is None:
        raise NoSupportedSignatureError(f"{names[2]} holds no v1 signature")
    raise SignatureMismatchError("no webhook signature matches")


def _check_openpanel(
    body: bytes, headers: Headers, keys: Sequence[bytes]
) -> tuple[str | None, str | None]:
    signature, event, delivery = _lookup(headers, _LEGACY_NAMES)
    if not signature:
        raise MissingHeaderError("missing X-OpenPanel-Signature header")
    if signature.startswith(_LEGACY_PREFIX):
        signature = signature[len(_LEGACY_PREFIX) :]
    # fromhex() skips whitespace, so 64 characters decode to 32 bytes only if all are hex.
    try:
        candidate = bytes.fromhex(signature) if len(signature) == 64 else b""
    except ValueError:
        candidate = b""
    if len(candidate) != 32:
        raise MalformedHeaderError("X-OpenPanel-Signature must be 64 hex characters")
    for key in keys:
        if constant_time_equal(hmac.digest(key, body, "sha256"), candidate):
            return delivery or None, event or None
    raise SignatureMismatchError("X-OpenPanel-Signature does not match")


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidPayloadError("webhook body is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise InvalidPayloadError("webhook body is not a JSON object")
    return cast("dict[str, Any]", data)


def _verify(
    body: bytes | bytearray | memoryview,
    headers: Headers,
    *,
    scheme: Scheme,
    keys: Sequence[bytes],
    macs: Sequence[hmac.HMAC],
    tolerance: int,
    now: float | datetime | None,
    max_body_bytes: int,
    parse: bool,
    accept_svix_headers: bool,
    seen: Callable[[str], bool] | None,
) -> WebhookMessage:
    current = _now(now)
    raw = _raw_body(body, max_body_bytes)
    timestamp: int | None = None
    event: str | None = None
    if scheme == "standard":
        msg_id, timestamp = _check_standard(
            raw, headers, keys, macs, tolerance, current, accept_svix_headers
        )
    else:
        msg_id, event = _check_openpanel(raw, headers, keys)
    if seen is not None and msg_id is not None and seen(msg_id):
        raise ReplayedMessageError("webhook message was already processed")
    data: dict[str, Any] | None = None
    if parse:
        data = _parse(raw)
        body_type = data.get("type")
        if isinstance(body_type, str):
            event = body_type
    return _new_message(msg_id, timestamp, event, data, raw)


def _keyed_macs(keys: Sequence[bytes]) -> tuple[hmac.HMAC, ...]:
    return tuple(hmac.new(key, digestmod=hashlib.sha256) for key in keys)


def verify(
    body: bytes | bytearray | memoryview,
    headers: Headers,
    secrets: Secrets,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    scheme: Scheme = "standard",
    now: float | int | datetime | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    parse: bool = True,
    accept_svix_headers: bool = False,
) -> WebhookMessage:
    """Verify a webhook request and return the message.

    The default scheme is Standard Webhooks v1. ``scheme="openpanel"`` verifies the legacy
    ``X-OpenPanel-Signature`` (hex HMAC-SHA256 of the body, keyed with the UTF-8 bytes of the
    whole secret). It must be chosen explicitly and is never picked from the headers.

    Warning:
        The legacy scheme signs no timestamp and no id, so it has **no replay protection**: a
        captured request verifies forever. Prefer the standard scheme.

    Args:
        body: The raw request body, exactly as received (never re-serialised JSON).
        headers: The request headers: any mapping (case-insensitive ones such as Django's
            ``request.headers`` or Starlette's ``Headers``, or a plain dict in any case) or an
            iterable of ``(name, value)`` pairs. Names match case-insensitively.
        secrets: The endpoint secret (``whsec_...``), or several during a rotation; a message
            signed with any of them passes. ``bytes`` are used as the raw HMAC key.
        tolerance: Allowed clock distance in seconds, in both directions, inclusive.
        scheme: ``"standard"`` (default) or ``"openpanel"`` (legacy, see the warning).
        now: The current time (Unix seconds or an aware datetime); defaults to the clock.
        max_body_bytes: Larger bodies are refused before any hashing.
        parse: Parse the verified body as a JSON object into `WebhookMessage.data`.
        accept_svix_headers: Also accept ``svix-id``/``svix-timestamp``/``svix-signature``,
            used only when no ``webhook-*`` header is present.

    Returns:
        The verified message.

    Raises:
        WebhookVerificationError: The request is not authentic or is malformed; the subclass
            and its ``reason`` say why.
        PayloadTooLargeError: The body is over ``max_body_bytes``.
        InvalidSecretError: A secret is empty or not valid base64.
        TypeError: An argument has the wrong type (for example a ``str`` body).
        ValueError: An option is out of range (a negative tolerance, a naive datetime).
    """
    _check_options(tolerance, max_body_bytes)
    keys = _decode_keys(secrets, scheme)
    return _verify(
        body,
        headers,
        scheme=scheme,
        keys=keys,
        macs=(),
        tolerance=tolerance,
        now=now,
        max_body_bytes=max_body_bytes,
        parse=parse,
        accept_svix_headers=accept_svix_headers,
        seen=None,
    )


class Verifier:
    """A reusable verifier: secrets are decoded once, and an optional replay store is consulted.

    Instances are immutable after construction and safe to share between threads and tasks.

    Example::

        verifier = Verifier(os.environ["WEBHOOK_SECRET"], seen=redis_seen_once)
        message = verifier.verify(request.body, request.headers)
    """

    __slots__ = (
        "_accept_svix_headers",
        "_keys",
        "_macs",
        "_max_body_bytes",
        "_scheme",
        "_seen",
        "_tolerance",
    )

    def __init__(
        self,
        secrets: Secrets,
        *,
        tolerance: int = DEFAULT_TOLERANCE,
        scheme: Scheme = "standard",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        seen: Callable[[str], bool] | None = None,
        accept_svix_headers: bool = False,
    ) -> None:
        """Decode the secrets and store the options.

        Args:
            secrets: As for `verify`.
            tolerance: As for `verify`.
            scheme: As for `verify`; the legacy scheme has no replay protection.
            max_body_bytes: As for `verify`.
            seen: A replay store: called with the message id after the signature has been
                verified, it returns True when the id was already processed, which raises
                `ReplayedMessageError`. Keep ids for at least twice the tolerance. With the
                legacy scheme it receives the unsigned ``X-OpenPanel-Delivery`` id (when sent),
                which dedupes honest retries but is no protection against an attacker.
            accept_svix_headers: As for `verify`.

        Raises:
            InvalidSecretError: A secret is empty or not valid base64.
            ValueError: An option is out of range.
        """
        _check_options(tolerance, max_body_bytes)
        self._keys = _decode_keys(secrets, scheme)
        self._macs = _keyed_macs(self._keys) if scheme == "standard" else ()
        self._scheme: Scheme = scheme
        self._tolerance = tolerance
        self._max_body_bytes = max_body_bytes
        self._seen = seen
        self._accept_svix_headers = accept_svix_headers

    def __repr__(self) -> str:
        return f"Verifier(scheme={self._scheme!r}, tolerance={self._tolerance}, secrets=<hidden>)"

    @property
    def scheme(self) -> Scheme:
        """The scheme this verifier checks."""
        return self._scheme

    @property
    def tolerance(self) -> int:
        """Seconds a timestamp may be away from now (replay stores keep ids twice as long)."""
        return self._tolerance

    def verify(
        self,
        body: bytes | bytearray | memoryview,
        headers: Headers,
        *,
        now: float | int | datetime | None = None,
        parse: bool = True,
    ) -> WebhookMessage:
        """Verify a webhook request; see the module-level `verify` for the details.

        Args:
            body: The raw request body.
            headers: The request headers.
            now: The current time; defaults to the clock.
            parse: Parse the verified body as a JSON object.

        Returns:
            The verified message.

        Raises:
            WebhookVerificationError: The request is not authentic, is malformed, or (with a
                replay store) was already processed.
            PayloadTooLargeError: The body is over the size limit.
            TypeError: An argument has the wrong type.
        """
        return _verify(
            body,
            headers,
            scheme=self._scheme,
            keys=self._keys,
            macs=self._macs,
            tolerance=self._tolerance,
            now=now,
            max_body_bytes=self._max_body_bytes,
            parse=parse,
            accept_svix_headers=self._accept_svix_headers,
            seen=self._seen,
        )


# ------------------------------------------------------------------------------------- signing


def _signed_fields(msg_id: object, timestamp: object) -> tuple[str, int]:
    if not isinstance(msg_id, str) or isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("msg_id must be a str and timestamp an int")
    if not msg_id or not msg_id.isascii() or "." in msg_id:
        raise ValueError("msg_id must be non-empty ASCII without '.'")
    if not 0 <= timestamp < 10**_MAX_TIMESTAMP_DIGITS:
        raise ValueError("timestamp must be a non-negative integer of at most 12 digits")
    return msg_id, timestamp


def sign(
    body: bytes | bytearray | memoryview,
    secret: Secrets,
    *,
    msg_id: str,
    timestamp: int | None = None,
    scheme: Scheme = "standard",
) -> dict[str, str]:
    """Sign a body and return the headers to send with it.

    Send exactly the bytes that were signed.

    Args:
        body: The serialised body.
        secret: The endpoint secret, or several during a rotation (current one first). The
            standard scheme emits one ``v1`` entry per secret; the legacy scheme signs with the
            first only.
        msg_id: The message id, stable across retries; must not contain ``"."``. Not used by
            the legacy scheme, which signs the body alone.
        timestamp: Unix seconds of this attempt; defaults to now.
        scheme: ``"standard"`` or ``"openpanel"``.

    Returns:
        ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``; or, for the legacy
        scheme, ``X-OpenPanel-Signature`` (lowercase hex).

    Raises:
        InvalidSecretError: A secret is empty or not valid base64.
        TypeError: An argument has the wrong type.
        ValueError: ``msg_id`` is empty, not ASCII or contains ``"."``, or ``timestamp`` is
            not an integer of 1 to 12 digits.
    """
    raw = _raw_body(body, None)
    keys = _decode_keys(secret, scheme)
    if scheme == "openpanel":
        return {"X-OpenPanel-Signature": hmac.digest(keys[0], raw, "sha256").hex()}
    msg_id, timestamp = _signed_fields(msg_id, int(time.time()) if timestamp is None else timestamp)
    digests = _v1_digests(keys, (), f"{msg_id}.{timestamp}.".encode("ascii"), raw)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            "v1," + base64.b64encode(digest).decode("ascii") for digest in digests
        ),
    }
