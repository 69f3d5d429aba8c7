"""Recipient and identity strings: parsing, identity files, and generating new identities."""

from __future__ import annotations

from typing import Literal

from portal.crypto.errors import KeyFormatError
from portal.crypto.pq import HybridIdentity, HybridRecipient
from portal.crypto.x25519 import X25519Identity, X25519Recipient

AnyRecipient = HybridRecipient | X25519Recipient
AnyIdentity = HybridIdentity | X25519Identity

_PQ_RECIPIENT_PREFIX = "age1pq1"
_X25519_RECIPIENT_PREFIX = "age1"
_PQ_IDENTITY_PREFIX = "AGE-SECRET-KEY-PQ-1"
_X25519_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


def parse_recipient(text: str) -> AnyRecipient:
    """Parse one recipient string: `age1pq1...` (post-quantum) or `age1...` (X25519)."""
    if text.startswith(_PQ_RECIPIENT_PREFIX):
        return HybridRecipient.parse(text)
    if text.startswith(_X25519_RECIPIENT_PREFIX):
        return X25519Recipient.parse(text)
    raise KeyFormatError("not an age recipient (expected age1pq1... or age1...)")


def parse_identity(text: str) -> AnyIdentity:
    """Parse one identity string. Error messages never quote it: it is a secret."""
    if text.startswith(_PQ_IDENTITY_PREFIX):
        return HybridIdentity.parse(text)
    if text.startswith(_X25519_IDENTITY_PREFIX):
        return X25519Identity.parse(text)
    raise KeyFormatError(
        "not an age identity (expected AGE-SECRET-KEY-PQ-1... or AGE-SECRET-KEY-1...)"
    )


def parse_identities(text: str) -> list[AnyIdentity]:
    """Parse an identity file: one identity per line; blank lines and `#` comments ignored."""
    identities = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        try:
            identities.append(parse_identity(entry))
        except KeyFormatError:
            raise KeyFormatError(f"line {number} is not a valid identity") from None
    if not identities:
        raise KeyFormatError("no identities found")
    return identities


def parse_recipients(text: str) -> list[AnyRecipient]:
    """Parse a recipients file: one recipient per line; blank lines and `#` comments ignored."""
    recipients = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        try:
            recipients.append(parse_recipient(entry))
        except KeyFormatError:
            raise KeyFormatError(f"line {number} is not a valid recipient") from None
    if not recipients:
        raise KeyFormatError("no recipients found")
    return recipients


def generate_identity(kind: Literal["pq", "x25519"] = "pq") -> AnyIdentity:
    """A new random identity: post-quantum hybrid by default, or X25519."""
    if kind == "pq":
        return HybridIdentity.generate()
    if kind == "x25519":
        return X25519Identity.generate()
    raise ValueError(f"unknown identity kind {kind!r} (expected 'pq' or 'x25519')")
