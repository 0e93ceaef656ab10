"""Webhook endpoint secrets encrypted at rest under a key kept beside the database.

The server must sign with an endpoint's secret, so it cannot store a hash of it. A copy of
``meta.db`` (a backup, a support bundle) must still not give the secrets away: each secret is
encrypted with a key read from ``<data dir>/webhook-secrets.key`` (32 random bytes, created on
first use with mode 0600).

AES-256-GCM from the ``cryptography`` package (an AEAD: encryption and authentication in one
audited primitive), a fresh 96-bit random nonce per encryption, and a fixed associated-data
label so a value encrypted for another purpose under the same key is refused. Stored values
are ``v2:<base64 of nonce, ciphertext and tag>``; the prefix versions the format.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SecretBox", "SecretBoxError", "load_or_create_key"]

_PREFIX = "v2"
_AAD = b"openpanel webhook endpoint secret"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_BYTES = 32


class SecretBoxError(Exception):
    """A stored secret cannot be decrypted (wrong key file, or the value was altered)."""


def load_or_create_key(path: Path) -> bytes:
    """The main key in ``path``; a new random one (file mode 0600) when the file is missing.

    Raises:
        SecretBoxError: The file exists but does not hold a 32-byte hex key.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = secrets.token_bytes(_KEY_BYTES)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key.hex().encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process created meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return load_or_create_key(path)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        raise SecretBoxError(f"{path} does not hold a {_KEY_BYTES}-byte hex key")
    return key


class SecretBox:
    """Encrypt and decrypt short strings (endpoint secrets) under one main key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        """Use ``key`` (32 bytes) for AES-256-GCM."""
        if len(key) != _KEY_BYTES:
            raise ValueError(f"the key must be {_KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; returns ``v2:<base64 of nonce, ciphertext and tag>``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _AAD)
        return f"{_PREFIX}:" + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a value made by `encrypt`.

        Raises:
            SecretBoxError: The value is malformed, was altered, or another key made it.
        """
        prefix, _, encoded = token.partition(":")
        if prefix != _PREFIX:
            raise SecretBoxError("unknown secret format")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise SecretBoxError("malformed secret") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretBoxError("malformed secret")
        try:
            data = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD)
        except InvalidTag:
            raise SecretBoxError("the secret does not match the key file") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - authenticated, so never
            raise SecretBoxError("malformed secret") from None
