"""The one exception family of `portal.crypto`.

Messages say which rule was broken, never which key or secret was involved: a detail that helps a
debugger can also help an attacker, so decryption failures stay deliberately terse.
"""

from __future__ import annotations


class AgeError(Exception):
    """Any failure to parse, encrypt or decrypt an age file or key."""


class HeaderError(AgeError):
    """The header is malformed, uses an unsupported version, or breaks a rule of the spec."""


class ArmorError(AgeError):
    """The ASCII armor around an age file is malformed."""


class MacMismatch(AgeError):
    """The header's MAC does not match: the header was modified after encryption."""


class NoIdentityMatch(AgeError):
    """None of the identities given can decrypt any of the file's recipient stanzas."""


class PayloadError(AgeError):
    """The payload is corrupt, truncated, reordered or followed by trailing data."""


class KeyFormatError(AgeError):
    """A recipient or identity string is not a valid encoding of its type."""


class RecipientMixError(AgeError):
    """The recipients cannot be combined in one file (scrypt with others, or PQ with classic)."""
