"""The scrypt recipient type: a file key wrapped under a passphrase.

The portal uses it for the recovery file and for wrapping the inspectorate's identity under each
reviewer's password. Decryption refuses work factors above a ceiling, so a hostile file cannot
make the server spend minutes and gigabytes on one request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from portal.crypto.errors import HeaderError
from portal.crypto.format import RecipientKind, Stanza, decode_base64, encode_base64
from portal.crypto.x25519 import check_wrapped_file_key, unwrap_file_key, wrap_file_key

STANZA_TYPE = "scrypt"
SALT_SIZE = 16
DEFAULT_WORK_FACTOR = 18
MAX_WORK_FACTOR = 22
_LABEL = b"age-encryption.org/v1/scrypt"
_WORK_FACTOR = re.compile(r"[1-9][0-9]*")


def _derive_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


def _as_bytes(passphrase: str | bytes) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase


class ScryptRecipient:
    """Wraps a file key under a passphrase. An scrypt stanza must be a file's only stanza."""

    kind: RecipientKind = "passphrase"

    def __init__(self, passphrase: str | bytes, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not 1 <= work_factor <= MAX_WORK_FACTOR:
            raise ValueError(f"work factor must be between 1 and {MAX_WORK_FACTOR}")
        self._passphrase = _as_bytes(passphrase)
        self._work_factor = work_factor

    def __repr__(self) -> str:
        return f"<ScryptRecipient work_factor={self._work_factor}>"

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(SALT_SIZE)
        key = _derive_key(self._passphrase, salt, self._work_factor)
        args = (encode_base64(salt), str(self._work_factor))
        return [Stanza(STANZA_TYPE, args, wrap_file_key(key, file_key))]


class ScryptIdentity:
    """Recovers a file key wrapped under a passphrase, refusing work factors above a ceiling."""

    def __init__(self, passphrase: str | bytes, max_work_factor: int = MAX_WORK_FACTOR) -> None:
        self._passphrase = _as_bytes(passphrase)
        self._max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"<ScryptIdentity max_work_factor={self._max_work_factor}>"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 2:
                raise HeaderError("scrypt stanza must have two arguments")
            salt = decode_base64(stanza.args[0])
            if len(salt) != SALT_SIZE:
                raise HeaderError("scrypt salt has the wrong length")
            if not _WORK_FACTOR.fullmatch(stanza.args[1]):
                raise HeaderError("scrypt work factor is not a plain decimal number")
            # Compare as text length first: a thousand-digit number is refused without parsing.
            if len(stanza.args[1]) > 2 or int(stanza.args[1]) > self._max_work_factor:
                raise HeaderError("scrypt work factor is above the accepted ceiling")
            check_wrapped_file_key(stanza.body)
            key = _derive_key(self._passphrase, salt, int(stanza.args[1]))
            file_key = unwrap_file_key(key, stanza.body)
            if file_key is not None:
                return file_key
        return None
