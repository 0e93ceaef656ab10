"""Webhook endpoint secrets encrypted at rest under a key kept beside the database.

The server must sign with an endpoint's secret, so it cannot store a hash of it. A copy of
``meta.db`` (a backup, a support bundle) must still not give the secrets away: each secret is
encrypted with a key read from ``<data dir>/webhook-secrets.key`` (32 random bytes, created on
first use with mode 0600).

The construction uses the standard library only (the server has no crypto dependency):
encrypt-then-MAC with keys derived from the main key by HMAC-SHA256. The key stream is
HMAC-SHA256(enc_key, nonce || counter) (HMAC as a PRF in counter mode) and the tag is
HMAC-SHA256(mac_key, version || nonce || ciphertext), checked in constant time before anything
is decrypted. Nonces are 16 random bytes per encryption. Swapping this for an AEAD from the
``cryptography`` package would change only this module (the ``v1:`` prefix versions the format).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from openpanel_core.webhooks import constant_time_equal

__all__ = ["SecretBox", "SecretBoxError", "load_or_create_key"]

_VERSION = b"v1"
_NONCE_BYTES = 16
_TAG_BYTES = 32
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

    __slots__ = ("_enc", "_mac")

    def __init__(self, key: bytes) -> None:
        """Derive the encryption and MAC keys from ``key`` (32 bytes)."""
        if len(key) != _KEY_BYTES:
            raise ValueError(f"the key must be {_KEY_BYTES} bytes")
        self._enc = hmac.digest(key, b"openpanel webhook secrets: encryption", hashlib.sha256)
        self._mac = hmac.digest(key, b"openpanel webhook secrets: authentication", hashlib.sha256)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def _stream(self, nonce: bytes, length: int) -> bytes:
        blocks = (length + 31) // 32
        return b"".join(
            hmac.digest(self._enc, nonce + i.to_bytes(4, "big"), hashlib.sha256)
            for i in range(blocks)
        )[:length]

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; returns ``v1:<base64 of nonce, ciphertext, tag>``."""
        data = plaintext.encode("utf-8")
        nonce = secrets.token_bytes(_NONCE_BYTES)
        stream = self._stream(nonce, len(data))
        cipher = bytes(a ^ b for a, b in zip(data, stream, strict=True))
        tag = hmac.digest(self._mac, _VERSION + nonce + cipher, hashlib.sha256)
        return "v1:" + base64.b64encode(nonce + cipher + tag).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a value made by `encrypt`.

        Raises:
            SecretBoxError: The value is malformed, was altered, or another key made it.
        """
        prefix, _, encoded = token.partition(":")
        if prefix != "v1":
            raise SecretBoxError("unknown secret format")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise SecretBoxError("malformed secret") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretBoxError("malformed secret")
        nonce, cipher, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
        expected = hmac.digest(self._mac, _VERSION + nonce + cipher, hashlib.sha256)
        if not constant_time_equal(expected, tag):
            raise SecretBoxError("the secret does not match the key file")
        stream = self._stream(nonce, len(cipher))
        try:
            return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - authenticated, so never
            raise SecretBoxError("malformed secret") from None
