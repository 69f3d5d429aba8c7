"""A reviewer's keyring: what their password (or, before enrolment, their enrolment code)
unlocks.

A keyring holds the account's TOTP secret and, unless it is an auditor's, the inspectorate's
identity. It is stored only as an age file encrypted with scrypt under the password or code, so
the identity is never stored in the clear. From custody version 2 (DESIGN decision 3) the
wrapped keyring is also sealed under the review-host key (`wrap_keyring`), and the TOTP secret
is kept beside it sealed under that key alone (`seal_totp_secret`), so sign-in can check a code
before it tries a password.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import uuid
from dataclasses import dataclass

from portal import crypto
from portal.crypto.keys import AnyIdentity
from portal.custody.host_key import HostKey

_KEYRING_VERSION = 1
_KEYRING_PURPOSE = "keyring"
_TOTP_PURPOSE = "totp-secret"


@dataclass(frozen=True)
class Keyring:
    """What a reviewer's password unlocks. Handle as secret: it may hold the identity."""

    totp_secret: bytes
    identity: AnyIdentity | None

    def __repr__(self) -> str:
        return f"<Keyring identity={'yes' if self.identity else 'no'}>"

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "version": _KEYRING_VERSION,
                "totp_secret": base64.b64encode(self.totp_secret).decode("ascii"),
                "identity": str(self.identity) if self.identity else None,
            }
        ).encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> Keyring:
        document = json.loads(data)
        identity = document["identity"]
        return cls(
            totp_secret=base64.b64decode(document["totp_secret"]),
            identity=crypto.parse_identity(identity) if identity else None,
        )

    def wrapped(self, secret: str, work_factor: int) -> bytes:
        return crypto.encrypt(self.to_bytes(), [crypto.ScryptRecipient(secret, work_factor)])

    @classmethod
    def unwrapped(cls, ciphertext: bytes, secret: str) -> Keyring | None:
        """The keyring, or None if `secret` does not open it."""
        try:
            return cls.from_bytes(crypto.decrypt(ciphertext, [crypto.ScryptIdentity(secret)]))
        except crypto.NoIdentityMatch:
            return None


def wrap_keyring(
    keyring: Keyring, secret: str, *, work_factor: int, host_key: HostKey, reviewer_id: uuid.UUID
) -> bytes:
    """`keyring` under `secret` (scrypt), then sealed under the review-host key for its row.

    Both are needed to open it: the secret (password or enrolment code) and the host key, which
    is never in the database. So a copy of the database, with any password, opens nothing.
    """
    return host_key.seal(
        _KEYRING_PURPOSE, keyring.wrapped(secret, work_factor), bound_to=reviewer_id.bytes
    )


def unwrap_keyring(
    wrapped: bytes, secret: str, *, host_key: HostKey, reviewer_id: uuid.UUID
) -> Keyring | None:
    """The keyring `wrap_keyring` made, or None if `secret` does not open it.

    Raises SealBroken if the host key's seal does not open (another host key, or a keyring
    moved from another row).
    """
    return Keyring.unwrapped(
        sealed_keyring_file(wrapped, host_key=host_key, reviewer_id=reviewer_id), secret
    )


def sealed_keyring_file(wrapped: bytes, *, host_key: HostKey, reviewer_id: uuid.UUID) -> bytes:
    """The age file (scrypt, under the password) inside a keyring `wrap_keyring` sealed, for
    checking its form; SealBroken if the host key's seal does not open."""
    return host_key.open(_KEYRING_PURPOSE, wrapped, bound_to=reviewer_id.bytes)


def fail_to_unwrap(secret: str, *, work_factor: int) -> None:
    """Spend what unwrapping a keyring at `work_factor` costs, and open nothing.

    For a sign-in that must fail: it takes as long as one whose password is tried for real, so
    the time of an answer does not tell a right password from a wrong one.
    """
    Keyring.unwrapped(_decoy(work_factor), secret)


@functools.cache
def _decoy(work_factor: int) -> bytes:
    """A keyring no secret anyone types will open (its secret is random and forgotten)."""
    return Keyring(totp_secret=b"", identity=None).wrapped(secrets.token_hex(32), work_factor)


def seal_totp_secret(totp_secret: bytes, *, host_key: HostKey, reviewer_id: uuid.UUID) -> bytes:
    """The TOTP secret sealed under the review-host key, so sign-in can check a code first."""
    return host_key.seal(_TOTP_PURPOSE, totp_secret, bound_to=reviewer_id.bytes)


def open_totp_secret(sealed: bytes, *, host_key: HostKey, reviewer_id: uuid.UUID) -> bytes:
    return host_key.open(_TOTP_PURPOSE, sealed, bound_to=reviewer_id.bytes)
