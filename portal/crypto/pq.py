"""The post-quantum hybrid recipient type, `mlkem768x25519` (`age1pq1...` /
`AGE-SECRET-KEY-PQ-1...`): the portal's default.

A whistleblower's identity must stay secret for decades, and ciphertext copied today could be
attacked by a quantum computer later. The hybrid KEM (ML-KEM-768 with X25519, as X-Wing) stays
secure as long as either half does. It is HPKE base mode with HKDF-SHA256 and ChaCha20-Poly1305.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from portal.crypto import bech32
from portal.crypto.errors import HeaderError, KeyFormatError
from portal.crypto.format import RecipientKind, Stanza, decode_base64, encode_base64
from portal.crypto.x25519 import check_wrapped_file_key

STANZA_TYPE = "mlkem768x25519"
RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
SEED_SIZE = 32
MLKEM_PUBLIC_SIZE = 1184
X25519_SIZE = 32
RECIPIENT_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE
ENC_SIZE = hpke.KEM.MLKEM768_X25519.enc_length()  # 1088 bytes of ML-KEM ciphertext, then X25519
_MLKEM_SEED_SIZE = 64
_INFO = b"age-encryption.org/mlkem768x25519"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


class HybridRecipient:
    kind: RecipientKind = "postquantum"

    def __init__(self, mlkem_key: mlkem.MLKEM768PublicKey, x25519_key: X25519PublicKey) -> None:
        self._encoded = mlkem_key.public_bytes_raw() + x25519_key.public_bytes_raw()
        self._public_key = hpke.MLKEM768X25519PublicKey(mlkem_key, x25519_key)

    @classmethod
    def parse(cls, text: str) -> HybridRecipient:
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error:
            raise KeyFormatError("malformed post-quantum recipient") from None
        if hrp != RECIPIENT_HRP or len(data) != RECIPIENT_SIZE:
            raise KeyFormatError("malformed post-quantum recipient")
        try:
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(data[:MLKEM_PUBLIC_SIZE])
        except ValueError:
            raise KeyFormatError("malformed post-quantum recipient") from None
        return cls(mlkem_key, X25519PublicKey.from_public_bytes(data[MLKEM_PUBLIC_SIZE:]))

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._encoded)

    def __repr__(self) -> str:
        return f"<HybridRecipient {str(self)[:24]}...>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other._encoded == self._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = _SUITE.encrypt(file_key, self._public_key, info=_INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (encode_base64(enc),), body)]


class HybridIdentity:
    """A 32-byte seed from which both private keys are expanded. `str()` gives its secret
    encoding: handle it as the key itself."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise KeyFormatError("post-quantum identity seed must be 32 bytes")
        self._seed = seed
        # The expansion the spec's reference implementation uses: SHAKE256(seed) gives the
        # ML-KEM-768 seed (64 bytes) and then the X25519 private key (32 bytes).
        expanded = hashlib.shake_256(seed).digest(_MLKEM_SEED_SIZE + X25519_SIZE)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:_MLKEM_SEED_SIZE])
        self._x25519_key = X25519PrivateKey.from_private_bytes(expanded[_MLKEM_SEED_SIZE:])
        self._private_key = hpke.MLKEM768X25519PrivateKey(mlkem_key, self._x25519_key)
        self._recipient = HybridRecipient(mlkem_key.public_key(), self._x25519_key.public_key())

    @classmethod
    def generate(cls) -> HybridIdentity:
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def parse(cls, text: str) -> HybridIdentity:
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error:
            raise KeyFormatError("malformed post-quantum identity") from None
        if hrp != IDENTITY_HRP or len(data) != SEED_SIZE:
            raise KeyFormatError("malformed post-quantum identity")
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._seed).upper()

    def __repr__(self) -> str:
        return f"<HybridIdentity for {self._recipient!r}>"

    def recipient(self) -> HybridRecipient:
        return self._recipient

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise HeaderError("mlkem768x25519 stanza must have one argument")
            enc = decode_base64(stanza.args[0])
            if len(enc) != ENC_SIZE:
                raise HeaderError("mlkem768x25519 enc has the wrong length")
            check_wrapped_file_key(stanza.body)
            self._refuse_low_order_share(enc[ENC_SIZE - X25519_SIZE :])
            try:
                return _SUITE.decrypt(enc + stanza.body, self._private_key, info=_INFO)
            except InvalidTag:
                continue
        return None

    def _refuse_low_order_share(self, share: bytes) -> None:
        # cryptography's HPKE lets an all-zero X25519 secret through and fails only later with
        # InvalidTag; the spec requires a header error, so the share is checked here first.
        try:
            self._x25519_key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:
            raise HeaderError("X25519 part of enc is a low-order point") from None
