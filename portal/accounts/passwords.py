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
characters so a passphrase always fits, no username inside, and refusal of what an attacker
tries first, judged by zxcvbn, Dropbox's strength estimator. A hand-kept list of base words and
a few pattern checks let through what cracking tools find in minutes: a season and a year with
punctuation ("Autumn2026!!!!", "Winter2025Winter"), keyboard walks ("1qaz2wsx3edc4rfv"),
look-alike swaps ("P@55w0rd123456"), names with years. zxcvbn counts the guesses such a tool
needs: it finds common passwords, English words, names, dates and years, keyboard patterns,
repeats and sequences, with capitals, look-alike swaps and reversal, in any combination, and
counts the rest at ten guesses a character. It is also given the username and this service's
own words (SERVICE_WORDS), the context-specific words NIST says to refuse.

The threshold: an estimate of at least 10**12 guesses (MIN_GUESSES). That is what zxcvbn gives
twelve characters in which it recognises nothing, so it refuses no password that is random at
the minimum length, and it is a hundred times the floor of zxcvbn's own top score (score 4 starts
at 10**10, which still admits "Summer2026!!Summer", "Sarah.Jones1979" and "Tr0ub4dor&3"). The
passwords found to fall in minutes are estimated at 10**4 to 10**10. In time: a stolen hash is
slow on purpose (a reviewer's keyring is under scrypt at 64 MiB, log2 N = 16; the password
verifier is Argon2id at 19 MiB), about 10**4 guesses a second for one graphics card; 10**12
guesses is then three years of one card, or a day of a thousand. Against a fast unsalted hash
(10**10 a second) it would be minutes: the threshold keeps out what falls first and what can be
searched on a small budget; the suggested passphrase (six EFF words, about 10**23) is the
password that is out of reach.

zxcvbn's time grows with the square of its input's length times the number of ways it reads
look-alike characters ("1" as i or l, "@" as a, up to 736 readings for a string holding every
one), and reaches seconds on a long random string. So it is given only a prefix: at most
ESTIMATED_PREFIX characters, fewer when the prefix is dense in look-alikes (`_estimated_part`),
never fewer than MIN_LENGTH. That is safe: whoever guesses the whole password knows its prefix,
so the whole takes at least as many guesses as the prefix, and a prefix's estimate can only err
towards refusing.
"""

from __future__ import annotations

import re
import secrets
import threading
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from zxcvbn import zxcvbn
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable

from portal.costs import PasswordCost
from portal.wordlist import random_words

SALT_BYTES = 16
HASH_BYTES = 32

MIN_LENGTH = 12
GENERATED_WORDS = 6  # about 77 bits, or 10**23
MAX_DRAWS = 100
MAX_LENGTH = 256
# A username shorter than this is not looked for inside a password: "jo" would refuse "enjoy".
MIN_USERNAME_CHECKED = 3
# The fewest guesses zxcvbn may estimate for a new password (see the module docstring).
MIN_GUESSES = 10**12
# The longest prefix of a password zxcvbn is given (see the module docstring). Over twice a
# typical six-word passphrase; zxcvbn's own default limit is 72.
ESTIMATED_PREFIX = 100
# A ceiling on zxcvbn's work, in characters squared times readings (`_estimator_work`): a full
# prefix with up to ten readings of its look-alikes. At it zxcvbn takes about a tenth of a second.
ESTIMATOR_WORK = 12 * ESTIMATED_PREFIX**2
# This service's own words, given to zxcvbn as words an attacker would try first (NIST SP
# 800-63B's context-specific words): the inspectorate, the review site's own name ("Probation
# concerns review") and what it is.
SERVICE_WORDS = (
    "probation", "inspectorate", "inspector", "inspectors", "inspection", "hmip", "hmipp",
    "hmiprobation", "portal", "review", "reviewer", "reviewers", "concerns", "whistleblowing",
    "whistleblower", "report", "reports",
)  # fmt: skip
# What zxcvbn found, in words for the refusal message: a fixed phrase for each kind of pattern,
# never the characters it matched. A dictionary match is named by its dictionary.
_FOUND = {
    "passwords": "a common password",
    "english_wikipedia": "common words",
    "us_tv_and_film": "common words",
    "surnames": "names",
    "male_names": "names",
    "female_names": "names",
    "user_inputs": "your username or words to do with this service",
    "l33t": "letters swapped for look-alike numbers or symbols",
    "reversed": "words spelled backwards",
    "spatial": "keys next to each other on the keyboard",
    "repeat": "repeated characters or words",
    "sequence": "a sequence such as abc or 9876",
    "regex": "a year",  # zxcvbn's only regex pattern is a recent year
    "date": "a date",
}
ADVICE = (
    "Six random words, like the example on this page, make a strong password that is easy to "
    "remember."
)
# zxcvbn keeps the words it was given (the username) in a module-level dictionary that each call
# overwrites: two threads estimating at once could each be checked against the other's words.
_ESTIMATOR_LOCK = threading.Lock()

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


class PasswordHashError(Exception):
    """A stored password hash is not an Argon2id PHC string within this module's limits.

    Never treated as a failed sign-in and never as a successful one: a malformed hash means the
    database is damaged or was tampered with, and someone should look.
    """


class WeakPassword(Exception):
    """A new password breaks the policy; the message says why, in plain English, for the form.

    The message never quotes the password, and suggests a passphrase of random words instead.
    """

    def __init__(self, message: str, *, advice: bool = True) -> None:
        if advice:
            message = f"{message} {ADVICE}"
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
    """Raise WeakPassword, with the reason for the reviewer, if `password` breaks the policy.

    Every refusal ends by suggesting a passphrase of random words, the pages' example.
    """
    normalised = _normalise(password)
    if len(normalised) < MIN_LENGTH:
        raise WeakPassword(f"Your password must be at least {MIN_LENGTH} characters long.")
    if len(normalised) > MAX_LENGTH:
        raise WeakPassword(f"Your password must be no longer than {MAX_LENGTH} characters.")
    name = _normalise(username).strip().casefold()
    if len(name) >= MIN_USERNAME_CHECKED and name in normalised.casefold():
        raise WeakPassword("Your password must not contain your username.")
    estimate = _estimate(normalised, name)
    if estimate["guesses"] < MIN_GUESSES:
        raise WeakPassword(_too_easy(estimate["sequence"]))


def generate_passphrase(*, username: str, words: int = GENERATED_WORDS) -> str:
    """Random words from the EFF long list (about 12.9 bits each) that the policy accepts.

    A draw is refused when a word happens to contain the username (about one draw in 250 for a
    three-letter name); another is then drawn. zxcvbn estimates six such words at 10**25
    guesses or more (the fewest in 3,000 draws), far above MIN_GUESSES. Raises WeakPassword if
    no draw of MAX_DRAWS is accepted, which only a username the policy cannot work with would
    cause.
    """
    for _ in range(MAX_DRAWS):
        candidate = " ".join(random_words(words))
        try:
            check_new_password(candidate, username=username)
        except WeakPassword:
            continue
        return candidate
    raise WeakPassword(
        "no generated passphrase suits this username: choose a password", advice=False
    )


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


def _estimate(password: str, username: str) -> dict[str, Any]:
    """zxcvbn's estimate for a bounded prefix of `password`, knowing the username and the
    service's words (the username's parts too: "smith" in "j.smith")."""
    parts = [
        part
        for part in re.split(r"\W+|_", username)
        if len(part) >= MIN_USERNAME_CHECKED and part != username
    ]
    words = [username, *parts, *SERVICE_WORDS]
    estimated = _estimated_part(password)
    with _ESTIMATOR_LOCK:
        result: dict[str, Any] = zxcvbn(estimated, user_inputs=words, max_length=ESTIMATED_PREFIX)
    return result


def _estimated_part(password: str) -> str:
    """The longest prefix of `password`, at most ESTIMATED_PREFIX characters, whose estimate
    costs at most ESTIMATOR_WORK; never shorter than MIN_LENGTH (within the ceiling even when
    all twelve characters are look-alikes).

    The work only grows with the prefix, so the longest one within the ceiling is found by
    bisection: a handful of cheap counts instead of one slow estimate.
    """
    shortest, longest = min(len(password), MIN_LENGTH), min(len(password), ESTIMATED_PREFIX)
    while shortest < longest:
        middle = (shortest + longest + 1) // 2
        if _estimator_work(password[:middle]) <= ESTIMATOR_WORK:
            shortest = middle
        else:
            longest = middle - 1
    return password[:shortest]


def _estimator_work(text: str) -> int:
    """What zxcvbn's estimate of `text` costs, in characters squared times readings.

    Its dictionary search looks at every substring of the text (length squared), once as typed,
    once reversed and once for each reading of its look-alike characters; the rest is smaller.
    """
    readings = len(enumerate_l33t_subs(relevant_l33t_subtable(text, L33T_TABLE)))
    return (readings + 2) * len(text) ** 2


def _too_easy(sequence: list[dict[str, Any]]) -> str:
    """The refusal for a password estimated below MIN_GUESSES, naming in plain words the kinds
    of pattern zxcvbn found in it, in the order they appear.

    zxcvbn's own feedback is not used as it stands: it is empty for any password it scores 3
    (10**8 to 10**10 guesses), where many refused here fall, and it speaks of its matches in
    technical terms. What it found is the same; the words are this portal's.
    """
    found: list[str] = []
    for match in sequence:
        kinds = [match.get("dictionary_name", match["pattern"])]
        if match["pattern"] == "dictionary":
            kinds += [flag for flag in ("l33t", "reversed") if match.get(flag)]
        for kind in kinds:
            phrase = _FOUND.get(kind)
            if phrase is not None and phrase not in found:
                found.append(phrase)
    if not found:
        return "Your password is too easy to guess."
    listed = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} and {found[-1]}"
    return (
        f"Your password is too easy to guess: it uses {listed}, which password-guessing tools "
        "try first."
    )
