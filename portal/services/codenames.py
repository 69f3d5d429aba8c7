"""Codenames: the submitter's only way back to their report.

A codename is eight words from the EFF long list (about 103 bits), shown once and never stored.
The list's four hyphenated words ("drop-down", "t-shirt" ...) are left out: a person may type
hyphens between words, so a hyphen must only ever separate them. 7,772 words remain, so eight
still give 8 x log2(7772) = 103.4 bits.
One slow, salted hash (Argon2id) of it gives two independent values: a lookup token, stored to
find the report, and the seed of the submitter's reply identity, never stored. Inspectors'
replies are encrypted to that identity's recipient, so only the codename's holder can read them.
The salt is per deployment, not per report: with a salt per report, finding a report would mean
hashing the codename once for every report there is.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from portal import crypto
from portal.costs import HashCost
from portal.crypto.format import hkdf_sha256
from portal.crypto.keys import AnyIdentity
from portal.crypto.pq import SEED_SIZE
from portal.wordlist import eff_long_words

CODENAME_WORDS = 8
_LOOKUP_LABEL = b"portal/v1/codename/lookup"
_REPLY_KEY_LABEL = b"portal/v1/codename/reply-identity"
_SEPARATORS = re.compile(r"[\s\-_.,]+")


class InvalidCodename(Exception):
    """The text cannot be a codename (wrong number of words, or a word not on the list)."""


@dataclass(frozen=True)
class CodenameKeys:
    """What a codename unlocks: the report's lookup token and the submitter's reply identity."""

    lookup: bytes
    reply_identity: AnyIdentity

    def __repr__(self) -> str:  # never show the secrets in a log or traceback
        return "<CodenameKeys>"


def codename_words() -> tuple[str, ...]:
    """The words codenames are made of: the EFF long list without its hyphenated words."""
    return _codename_words()


@cache
def _codename_words() -> tuple[str, ...]:
    return tuple(word for word in eff_long_words() if word.isalpha())


def new_codename() -> str:
    words = codename_words()
    return " ".join(secrets.choice(words) for _ in range(CODENAME_WORDS))


def normalise(text: str) -> str:
    """The canonical form of a typed codename: lower case, single spaces, every word checked.

    Raises InvalidCodename for text that cannot be one, before any slow hashing is done.
    """
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    words = [word for word in _SEPARATORS.split(folded) if word]
    if len(words) != CODENAME_WORDS:
        raise InvalidCodename(f"a codename has {CODENAME_WORDS} words")
    known = frozenset(codename_words())
    if not all(word in known for word in words):
        raise InvalidCodename("a word of the codename is not on the word list")
    return " ".join(words)


@dataclass(frozen=True)
class CodenameHasher:
    """Derives a codename's keys with this deployment's salt and cost.

    `reply_kind` follows the inspectorate's recipients ("pq" or "x25519"), because replies are
    encrypted to the submitter and the inspectorate together, and age refuses to mix the two.
    """

    salt: bytes
    cost: HashCost
    reply_kind: str = "pq"

    def derive(self, codename: str) -> CodenameKeys:
        master = Argon2id(
            salt=self.salt,
            length=32,
            iterations=self.cost.iterations,
            lanes=self.cost.lanes,
            memory_cost=self.cost.memory_kib,
        ).derive(normalise(codename).encode("utf-8"))
        lookup = hkdf_sha256(master, b"", _LOOKUP_LABEL)
        seed = hkdf_sha256(master, b"", _REPLY_KEY_LABEL, length=SEED_SIZE)
        return CodenameKeys(
            lookup=lookup, reply_identity=_identity_from_seed(seed, self.reply_kind)
        )


def _identity_from_seed(seed: bytes, kind: str) -> AnyIdentity:
    if kind == "pq":
        return crypto.HybridIdentity(seed)
    if kind == "x25519":
        return crypto.X25519Identity(X25519PrivateKey.from_private_bytes(seed))
    raise ValueError(f"unknown reply identity kind {kind!r}")
