"""The X25519 recipient type (`age1...` / `AGE-SECRET-KEY-1...`), for interoperating with age
before version 1.3. New deployments use the post-quantum type in `pq.py`."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from portal.crypto import bech32
from portal.crypto.errors import HeaderError, KeyFormatError
from portal.crypto.format import (
    FILE_KEY_SIZE,
    RecipientKind,
    Stanza,
    decode_base64,
    encode_base64,
    hkdf_sha256,
)
from portal.crypto.stream import TAG_SIZE

STANZA_TYPE = "X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
KEY_SIZE = 32
_LABEL = b"age-encryption.org/v1/X25519"
# Each wrapping key encrypts exactly one file key, so a fixed all-zero nonce never repeats a key.
ZERO_NONCE = bytes(12)


def wrap_file_key(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(ZERO_NONCE, file_key, None)


def unwrap_file_key(key: bytes, body: bytes) -> bytes | None:
    """The file key, or None when `body` was not wrapped with `key`."""
    try:
        return ChaCha20Poly1305(key).decrypt(ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def check_wrapped_file_key(body: bytes) -> None:
    # Checked before decrypting: a longer body would release a longer "file key".
    if len(body) != FILE_KEY_SIZE + TAG_SIZE:
        raise HeaderError("wrapped file key has the wrong length")


def _shared_secret(private_key: X25519PrivateKey, share: bytes) -> bytes:
    try:
        return private_key.exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:
        # cryptography refuses an all-zero result (a low-order share), as the spec requires.
        raise HeaderError("X25519 share is a low-order point") from None


class X25519Recipient:
    kind: RecipientKind = "classic"

    def __init__(self, public_key: X25519PublicKey) -> None:
        self._public_key = public_key
        self._public_bytes = public_key.public_bytes_raw()

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error:
            raise KeyFormatError("malformed X25519 recipient") from None
        if hrp != RECIPIENT_HRP or len(data) != KEY_SIZE:
            raise KeyFormatError("malformed X25519 recipient")
        return cls(X25519PublicKey.from_public_bytes(data))

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public_bytes)

    def __repr__(self) -> str:
        return f"<X25519Recipient {self}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._public_bytes == self._public_bytes

    def __hash__(self) -> int:
        return hash(self._public_bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        secret = ephemeral.exchange(self._public_key)
        key = hkdf_sha256(secret, share + self._public_bytes, _LABEL)
        return [Stanza(STANZA_TYPE, (encode_base64(share),), wrap_file_key(key, file_key))]


class X25519Identity:
    """An X25519 private key. `str()` gives its secret encoding: handle it as the key itself."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private_key = private_key
        self._recipient = X25519Recipient(private_key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.from_private_bytes(os.urandom(KEY_SIZE)))

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error:
            raise KeyFormatError("malformed X25519 identity") from None
        if hrp != IDENTITY_HRP or len(data) != KEY_SIZE:
            raise KeyFormatError("malformed X25519 identity")
        return cls(X25519PrivateKey.from_private_bytes(data))

    def __str__(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._private_key.private_bytes_raw()).upper()

    def __repr__(self) -> str:
        return f"<X25519Identity for {self._recipient}>"

    def recipient(self) -> X25519Recipient:
        return self._recipient

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        own_public = self._recipient._public_bytes
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise HeaderError("X25519 stanza must have one argument")
            share = decode_base64(stanza.args[0])
            if len(share) != KEY_SIZE:
                raise HeaderError("X25519 share has the wrong length")
            check_wrapped_file_key(stanza.body)
            secret = _shared_secret(self._private_key, share)
            key = hkdf_sha256(secret, share + own_public, _LABEL)
            file_key = unwrap_file_key(key, stanza.body)
            if file_key is not None:
                return file_key
        return None
