"""A reviewer's keyring: what their password (or, before enrolment, their enrolment code)
unlocks.

A keyring holds the account's TOTP secret and, unless it is an auditor's, the inspectorate's
identity. It is stored only as an age file encrypted with scrypt under the password or code, so
the identity is never stored in the clear.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from portal import crypto
from portal.crypto.keys import AnyIdentity

_KEYRING_VERSION = 1


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
