"""Reviewers' passwords: Argon2id hashes in the PHC string format, and the policy for new ones.

A hash is stored as `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`, the format of
the reference implementation, made and checked by cryptography (`derive_phc_encoded`,
`verify_phc_encoded`, which compares in constant time). The cost travels with each hash: raising
the cost later leaves old hashes verifiable, and `needs_rehash` tells the sign-in code to replace
a hash the next time its password is typed. Before cryptography reads a stored hash, this module
checks that it has exactly the form made here and a cost within ceilings (see `_STORED_HASH`).

Passwords are normalised to Unicode NFKC before hashing (NIST SP 800-63B 5.1.1.2), so the same
password typed on another keyboard or system (a composed or decomposed "é") still verifies.

The policy follows NCSC and NIST SP 800-63B: length rather than composition rules (required
digits or symbols make passwords harder to remember and no harder to guess), up to 256
characters so a passphrase always fits, and refusal of what an attacker tries first: the
username, one character or a short pattern repeated, key sequences, and the most common
passwords' base words.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from portal.costs import PasswordCost
from portal.wordlist import random_words

SALT_BYTES = 16
HASH_BYTES = 32

MIN_LENGTH = 12
GENERATED_WORDS = 6  # about 77 bits
MAX_DRAWS = 100
MAX_LENGTH = 256
# A username shorter than this is not looked for inside a password: "jo" would refuse "enjoy".
MIN_USERNAME_CHECKED = 3
# "abcabcabcabc" and "hahahahahaha" are refused; a pattern of 5 or more characters repeated is
# long enough to be left to the other checks.
MAX_REPEATED_UNIT = 4

# The one form of stored hash that is handed to cryptography. Its parser is not strict enough
# alone: it derives at whatever cost and hash length the string names (a tampered row could ask
# a sign-in for terabytes, or compare a 4-byte hash), accepts leading zeros and salts of any
# length, and answers a malformed string with the same InvalidKey as a wrong password. So only
# what `hash_password` makes passes: Argon2 version 19 (0x13), the cost in decimal without
# leading zeros, a 16-byte salt (22 characters) and a 32-byte hash (43) in unpadded standard
# base64, each in its one canonical spelling. A last character carries 2 bits of a 16-byte value
# and 4 bits of a 32-byte one, so its unused low bits are zero only in every 16th or 4th
# character of the alphabet (A-Z a-z 0-9 + /): "AQgw" and "AEIMQUYcgkosw048".
_STORED_HASH = re.compile(
    r"\$argon2id\$v=19"
    r"\$m=(?P<m>[1-9][0-9]{0,9}),t=(?P<t>[1-9][0-9]{0,9}),p=(?P<p>[1-9][0-9]{0,9})"
    r"\$[A-Za-z0-9+/]{21}[AQgw]"
    r"\$[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]"
)
# Hashed by dummy_verify: any fixed value will do, since its result is thrown away.
_DUMMY_PASSWORD = b"portal/v1/dummy-password"

# Base words of the passwords found most often in breaches once digits and symbols are taken off
# the ends ("Password123!", "liverpool1"): the top of NCSC's analysis of the 100,000 most common
# breached passwords (2019) and other published lists, and the words of this service, which
# NIST SP 800-63B names as context-specific words to refuse.
_COMMON_WORDS = frozenset(
    {
        "password", "passw0rd", "p@ssw0rd", "p@ssword", "qwerty", "qwertyuiop", "letmein",
        "welcome", "iloveyou", "admin", "administrator", "monkey", "dragon", "football",
        "baseball", "sunshine", "princess", "shadow", "master", "secret", "changeme", "abc",
        "superman", "batman", "pokemon", "naruto", "tigger", "liverpool", "chelsea", "arsenal",
        "manutd", "everton", "blink", "metallica", "slipknot", "eminem", "ashley", "michael",
        "daniel", "jessica", "charlie",
        "probation", "inspector", "inspectorate", "inspection", "reviewer", "portal", "hmip",
        "hmipp",
    }
)  # fmt: skip
# Runs of keys and characters people type as "random": a password that is a stretch of one of
# these, forwards or backwards, is refused.
_SEQUENCES = (
    "0123456789" * 5,
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "qwertyuiopasdfghjklzxcvbnm" * 2,
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "1q2w3e4r5t6y7u8i9o0p" * 2,
)
_END_PADDING = string.digits + string.punctuation + string.whitespace


class PasswordHashError(Exception):
    """A stored password hash is not an Argon2id PHC string within this module's limits.

    Never treated as a failed sign-in and never as a successful one: a malformed hash means the
    database is damaged or was tampered with, and someone should look.
    """


class WeakPassword(Exception):
    """A new password breaks the policy; the message says why, in plain English, for the form."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def hash_password(password: str, cost: PasswordCost, *, pepper: bytes | None = None) -> str:
    """A PHC string of `password` under a fresh 16-byte random salt, at `cost`.

    `pepper` is Argon2's secret input, kept outside the database (the review-host key's
    subkey): without it a stolen hash cannot be tested against guesses at all. It is not in the
    PHC string, so verifying needs the same pepper. (None: hashes made before custody v2.)
    """
    return _argon2id(cost, pepper).derive_phc_encoded(_key_material(password))


def verify_password(password: str, encoded: str, *, pepper: bytes | None = None) -> bool:
    """Whether `password` is the one `encoded` was made from (with `pepper`), recomputed at the
    stored cost.

    Raises PasswordHashError if `encoded` is malformed or outside this module's limits, before
    any key is derived.
    """
    _stored_cost(encoded)
    try:
        Argon2id.verify_phc_encoded(_key_material(password), encoded, secret=pepper)
    except InvalidKey:
        # Only a wrong password is left: `_stored_cost` admits nothing cryptography would refuse.
        return False
    return True


def needs_rehash(encoded: str, cost: PasswordCost) -> bool:
    """Whether `encoded` was made at another cost than `cost`, and should be replaced the next
    time its password is verified. Raises PasswordHashError if `encoded` is malformed."""
    return _stored_cost(encoded) != cost


def dummy_verify(cost: PasswordCost, *, pepper: bytes | None = None) -> None:
    """Spend the time of one verification at `cost`, and decide nothing.

    For a username with no account: answering at once would tell an attacker which usernames
    exist. A verification is one derivation at the stored cost with a 16-byte salt and a 32-byte
    output; this is the same derivation, its result thrown away. (A hash made at an older cost
    takes that cost's time; `needs_rehash` moves it on.)
    """
    _argon2id(cost, pepper).derive(_DUMMY_PASSWORD)


def check_new_password(password: str, *, username: str) -> None:
    """Raise WeakPassword, with the reason for the reviewer, if `password` breaks the policy."""
    normalised = _normalise(password)
    folded = normalised.casefold()
    if len(normalised) < MIN_LENGTH:
        raise WeakPassword(
            f"Your password must be at least {MIN_LENGTH} characters long. Three or more random "
            "words make a long password that is easy to remember."
        )
    if len(normalised) > MAX_LENGTH:
        raise WeakPassword(f"Your password must be no longer than {MAX_LENGTH} characters.")
    if len(_repeated_unit(folded)) <= MAX_REPEATED_UNIT:
        raise WeakPassword("Your password must not be one character, or a short pattern, repeated.")
    name = _normalise(username).strip().casefold()
    if len(name) >= MIN_USERNAME_CHECKED and name in folded:
        raise WeakPassword("Your password must not contain your username.")
    if _is_common(folded):
        raise WeakPassword(
            "Your password is too easy to guess: it is based on a common password or is a "
            "sequence of keys. Choose another."
        )


def generate_passphrase(*, username: str, words: int = GENERATED_WORDS) -> str:
    """Random words from the EFF long list (about 12.9 bits each) that the policy accepts.

    A draw is refused only when a word happens to contain the username (about one draw in 250
    for a three-letter name); another is then drawn. Raises WeakPassword if no draw of
    MAX_DRAWS is accepted, which only a username the policy cannot work with would cause.
    """
    for _ in range(MAX_DRAWS):
        candidate = " ".join(random_words(words))
        try:
            check_new_password(candidate, username=username)
        except WeakPassword:
            continue
        return candidate
    raise WeakPassword("no generated passphrase suits this username: choose a password")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _key_material(password: str) -> bytes:
    return _normalise(password).encode("utf-8")


def _argon2id(cost: PasswordCost, pepper: bytes | None) -> Argon2id:
    """Argon2id at `cost` under a fresh random salt (an instance derives once, so one a use)."""
    return Argon2id(
        salt=secrets.token_bytes(SALT_BYTES),
        length=HASH_BYTES,
        iterations=cost.iterations,
        lanes=cost.lanes,
        memory_cost=cost.memory_kib,
        secret=pepper,
    )


def _stored_cost(encoded: str) -> PasswordCost:
    """The cost a stored hash names, once the whole string has the form `hash_password` makes
    and the cost is within the ceilings; PasswordHashError otherwise. Nothing is guessed."""
    match = _STORED_HASH.fullmatch(encoded) if isinstance(encoded, str) else None
    if match is None:
        raise PasswordHashError("not an Argon2id PHC string in the form this portal makes")
    try:
        return PasswordCost(
            memory_kib=int(match["m"]), iterations=int(match["t"]), lanes=int(match["p"])
        )
    except ValueError as error:
        raise PasswordHashError(f"Argon2id cost out of range: {error}") from None


def _repeated_unit(text: str) -> str:
    """The shortest string that `text` is a whole number of copies of ("ab" for "ababab")."""
    return text[: (text + text).find(text, 1)]


def _is_common(folded: str) -> bool:
    """Whether a (case-folded) password is a key sequence, or a common password's base word,
    possibly repeated, with only digits, symbols or spaces around it."""
    compact = "".join(folded.split())
    if any(compact in sequence or compact in sequence[::-1] for sequence in _SEQUENCES):
        return True
    core = folded.strip(_END_PADDING)
    return bool(core) and _repeated_unit(core) in _COMMON_WORDS
