"""Signed audit heads: an Ed25519 key derived from the review-host key (DESIGN decision 10).

The audit log's hash chain alone is unkeyed: whoever can write to the database can rewrite an
entry and recompute every hash after it. So each entry the review host appends also carries a
signature over its position and hash, made with a key that exists only where the review-host
key does. A database writer can still delete or rewrite entries, but cannot sign what they
write: an entry they change fails its signature, and entries they append are unsigned.

The signed message, so an auditor can check a signature without the portal
-------------------------------------------------------------------------
An entry (or an exported head) with sequence number `sequence` and entry hash `entry_hash`
(64 lowercase hex digits) is signed as these ASCII bytes, with no whitespace and no newline::

    ["portal-audit-head-v1",<sequence in decimal>,"<entry_hash>"]

for example `["portal-audit-head-v1",42,"9f86...0a08"]`. The signature is Ed25519 (RFC 8032),
stored and exported as 128 lowercase hex digits; the public key is the raw 32-byte Ed25519 key,
exported as 64 hex digits. `AUDIT.md` shows how to check one with `cryptography` or `openssl`.

The key: the 32-byte seed is HKDF-SHA256 of the review-host key with the label
`portal/review-host-key/v1/audit signing key` (`HostKey.subkey`), so it shares nothing with the
host key's other uses. A new review-host key therefore means a new signing key: heads exported
before it was replaced verify with the public key they carry, not with the new host's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from portal.custody.host_key import HostKey

SIGNING_PURPOSE = "audit signing key"
"""The review-host key's HKDF label (after its prefix) for this key and nothing else."""
HEAD_LABEL = "portal-audit-head-v1"
"""The first element of every signed message: a signature over anything else never matches."""

_HASH = re.compile(r"[0-9a-f]{64}")
_SIGNATURE = re.compile(r"[0-9a-f]{128}")
_HEAD_FIELDS = frozenset({"label", "sequence", "entry_hash", "signature", "public_key"})


class HeadFileError(ValueError):
    """An exported head that is not one: the message says which field is wrong."""


def head_message(sequence: int, entry_hash: str) -> bytes:
    """The bytes signed for the entry at `sequence` with hash `entry_hash` (module docstring)."""
    return json.dumps([HEAD_LABEL, sequence, entry_hash], separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class AuditPublicKey:
    """The public half of the audit signing key: anyone may hold it to check signatures."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")

    @classmethod
    def from_hex(cls, text: str) -> AuditPublicKey:
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise HeadFileError("the public key must be 64 hex digits") from None

    @property
    def hex(self) -> str:
        return self.raw.hex()

    def verifies(self, sequence: int, entry_hash: str, signature: str) -> bool:
        """Whether `signature` (hex, as stored) signs the entry at `sequence` with `entry_hash`.

        False for any malformed signature too: a stored value is only ever data to check."""
        if not _SIGNATURE.fullmatch(signature):
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(
                bytes.fromhex(signature), head_message(sequence, entry_hash)
            )
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class AuditSigner:
    """The audit signing key. Handle as secret: it exists only where the review-host key does."""

    _key: Ed25519PrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return "<AuditSigner>"

    @property
    def public_key(self) -> AuditPublicKey:
        return AuditPublicKey(self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, sequence: int, entry_hash: str) -> str:
        """The signature (128 hex digits) of the entry at `sequence` with `entry_hash`."""
        return self._key.sign(head_message(sequence, entry_hash)).hex()


def signer(host_key: HostKey) -> AuditSigner:
    """The audit signing key of the review host whose key is `host_key`."""
    return AuditSigner(Ed25519PrivateKey.from_private_bytes(host_key.subkey(SIGNING_PURPOSE)))


@dataclass(frozen=True)
class SignedHead:
    """An entry's position, hash and signature, exported to be kept off the review host.

    Given back to `portal audit verify --head`, it shows whether that entry is still in the log:
    entries cut from the log's end leave a valid, signed, shorter chain, which only a head kept
    elsewhere can reveal."""

    sequence: int
    entry_hash: str
    signature: str
    public_key: AuditPublicKey

    def is_genuine(self) -> bool:
        """Whether the head's signature matches it under the public key it carries."""
        return self.public_key.verifies(self.sequence, self.entry_hash, self.signature)

    def to_json(self) -> str:
        return json.dumps(
            {
                "label": HEAD_LABEL,
                "sequence": self.sequence,
                "entry_hash": self.entry_hash,
                "signature": self.signature,
                "public_key": self.public_key.hex,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> SignedHead:
        """The head in `text` (as `to_json` wrote it); HeadFileError if it is not one. Its
        signature is not checked here: see `is_genuine`."""
        try:
            fields = json.loads(text)
        except ValueError:
            raise HeadFileError("it is not JSON") from None
        if not isinstance(fields, dict) or set(fields) != _HEAD_FIELDS:
            raise HeadFileError(
                f"it must hold exactly the fields {', '.join(sorted(_HEAD_FIELDS))}"
            )
        if fields["label"] != HEAD_LABEL:
            raise HeadFileError(f"its label is not {HEAD_LABEL}")
        sequence, entry_hash, signature = (
            fields["sequence"],
            fields["entry_hash"],
            fields["signature"],
        )
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            raise HeadFileError("its sequence must be a positive whole number")
        if not isinstance(entry_hash, str) or not _HASH.fullmatch(entry_hash):
            raise HeadFileError("its entry hash must be 64 lowercase hex digits")
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            raise HeadFileError("its signature must be 128 lowercase hex digits")
        if not isinstance(fields["public_key"], str):
            raise HeadFileError("the public key must be 64 hex digits")
        return cls(
            sequence=sequence,
            entry_hash=entry_hash,
            signature=signature,
            public_key=AuditPublicKey.from_hex(fields["public_key"]),
        )
