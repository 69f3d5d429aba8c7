"""Password hashes: round trips, tampering, strict parsing, rehashing, and the policy for new ones.

Hashes are made at Argon2id's smallest cost: what is tested is the format and the comparison,
not the cost (test_a_default_cost_hash_verifies checks the real one once).
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
import string
import unicodedata

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from zxcvbn import zxcvbn

from portal import costs
from portal.accounts import passwords
from portal.accounts.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordHashError,
    WeakPassword,
    check_new_password,
    dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from portal.costs import PasswordCost
from portal.wordlist import eff_long_words

CHEAP = PasswordCost(memory_kib=8, iterations=1, lanes=1)
PASSWORD = "correct horse battery staple"
# For cryptography's own PHC strings, which take the salt from the caller.
FIXED_SALT = bytes(range(16))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _fields(encoded: str) -> list[str]:
    # "$argon2id$v=19$m=8,t=1,p=1$salt$hash" -> ["", "argon2id", "v=19", "m=8,t=1,p=1", salt, hash]
    return encoded.split("$")


class _RecordingArgon2id:
    """Stands in for cryptography's Argon2id (which cannot be subclassed), recording each use:
    ("derive", salt size, output size, cost) or ("verify", the PHC string verified)."""

    uses: list[tuple[object, ...]]

    def __init__(
        self,
        *,
        salt: bytes,
        length: int,
        iterations: int,
        lanes: int,
        memory_cost: int,
        secret: bytes | None = None,
    ) -> None:
        cost = PasswordCost(memory_kib=memory_cost, iterations=iterations, lanes=lanes)
        self.uses.append(("derive", len(salt), length, cost))
        self._kdf = Argon2id(
            salt=salt,
            length=length,
            iterations=iterations,
            lanes=lanes,
            memory_cost=memory_cost,
            secret=secret,
        )

    def derive(self, key_material: bytes) -> bytes:
        return self._kdf.derive(key_material)

    def derive_phc_encoded(self, key_material: bytes) -> str:
        return self._kdf.derive_phc_encoded(key_material)

    @classmethod
    def verify_phc_encoded(
        cls, key_material: bytes, phc_encoded: str, secret: bytes | None = None
    ) -> None:
        cls.uses.append(("verify", phc_encoded))
        Argon2id.verify_phc_encoded(key_material, phc_encoded, secret=secret)


@pytest.fixture
def argon2id_uses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Every use of Argon2id by the passwords module from here on."""
    uses: list[tuple[object, ...]] = []
    monkeypatch.setattr(_RecordingArgon2id, "uses", uses, raising=False)
    monkeypatch.setattr(passwords, "Argon2id", _RecordingArgon2id)
    return uses


# --- hashing and verifying -------------------------------------------------------------------


def test_a_hash_verifies_its_password_and_no_other() -> None:
    # Given a hash of a password
    encoded = hash_password(PASSWORD, CHEAP)

    # Then that password verifies, and a different one, or one differing in case, does not
    assert verify_password(PASSWORD, encoded)
    assert not verify_password("correct horse battery stapler", encoded)
    assert not verify_password(PASSWORD.upper(), encoded)
    assert not verify_password("", encoded)


def test_a_hash_is_a_phc_string_with_the_cost_a_16_byte_salt_and_a_32_byte_hash() -> None:
    # When a password is hashed
    encoded = hash_password(PASSWORD, PasswordCost(memory_kib=64, iterations=3, lanes=2))

    # Then the string carries its algorithm, version and cost, and unpadded base64 of both values
    empty, algorithm, version, cost, salt, digest = _fields(encoded)
    assert (empty, algorithm, version, cost) == ("", "argon2id", "v=19", "m=64,t=3,p=2")
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(digest + "=")) == 32
    assert "=" not in salt + digest


def test_each_hash_has_its_own_salt() -> None:
    # When the same password is hashed twice
    first, second = hash_password(PASSWORD, CHEAP), hash_password(PASSWORD, CHEAP)

    # Then salts and hashes differ, and both verify
    assert _fields(first)[4] != _fields(second)[4]
    assert first != second
    assert verify_password(PASSWORD, first)
    assert verify_password(PASSWORD, second)


def test_hashes_interoperate_with_cryptographys_own_phc_strings() -> None:
    # Given the PHC string cryptography makes, and one this module makes
    theirs = Argon2id(
        salt=FIXED_SALT, length=32, iterations=1, lanes=1, memory_cost=8
    ).derive_phc_encoded(PASSWORD.encode())
    ours = hash_password(PASSWORD, CHEAP)

    # Then each side verifies the other's (the format is the standard one, not a look-alike)
    assert verify_password(PASSWORD, theirs)
    assert not verify_password("wrong", theirs)
    Argon2id.verify_phc_encoded(PASSWORD.encode(), ours)


# Made by this module's own PHC encoder (before cryptography's derive_phc_encoded replaced it), as
# stored in accounts today: the first from PASSWORD at CHEAP, the second from the composed
# "café au lait, s'il vous plaît" at m=64,t=3,p=2.
EARLIER_HASHES = [
    (
        PASSWORD,
        CHEAP,
        "$argon2id$v=19$m=8,t=1,p=1$h+zbUVs0F75uitxYz7ztHw$gdpwnYa6ovj/0jPWkYSetyQYRQCWnICx+FT9POt79aA",
    ),
    (
        "cafe\u0301 au lait, s'il vous plai\u0302t",  # typed decomposed: NFKC still applies
        PasswordCost(memory_kib=64, iterations=3, lanes=2),
        "$argon2id$v=19$m=64,t=3,p=2$LhGCycJWHOxQSXCGy5orqg$sxlsrIHD+3OdusTnf79MtXW99Sh2ffVjYdQB5sOnzc4",
    ),
]


@pytest.mark.parametrize("password, cost, stored", EARLIER_HASHES)
def test_hashes_stored_by_the_earlier_encoder_still_verify(
    password: str, cost: PasswordCost, stored: str
) -> None:
    # Given a hash stored before this module used cryptography's PHC encoding
    # Then its password verifies, another does not, and it needs no rehash at its own cost
    assert verify_password(password, stored)
    assert not verify_password(password + "!", stored)
    assert not needs_rehash(stored, cost)


def test_passwords_are_compared_after_unicode_normalisation() -> None:
    # Given a password with an accent typed as one composed character
    composed = "café au lait, s'il vous plaît"
    encoded = hash_password(composed, CHEAP)

    # When it is typed on a system that sends the accent as a separate combining character
    decomposed = composed.replace("é", "e\u0301").replace("î", "i\u0302")

    # Then it still verifies
    assert decomposed != composed
    assert verify_password(decomposed, encoded)


def test_a_default_cost_hash_verifies() -> None:
    # Given the real cost (OWASP's minimum for Argon2id)
    cost = PasswordCost()
    assert (cost.memory_kib, cost.iterations, cost.lanes) == (19_456, 2, 1)

    # Then a hash made at it verifies, and records it
    encoded = hash_password(PASSWORD, cost)
    assert _fields(encoded)[3] == "m=19456,t=2,p=1"
    assert verify_password(PASSWORD, encoded)


# --- tampering and malformed hashes ----------------------------------------------------------


@pytest.mark.parametrize(
    "field, replacement",
    [
        (3, "m=16,t=1,p=1"),  # memory
        (3, "m=8,t=2,p=1"),  # iterations
        (3, "m=16,t=1,p=2"),  # lanes
        (4, _b64(bytes(16))),  # another salt
        (5, _b64(bytes(32))),  # another hash
    ],
)
def test_a_hash_with_a_changed_parameter_salt_or_hash_does_not_verify(
    field: int, replacement: str
) -> None:
    # Given a valid hash with one field replaced by another valid value
    fields = _fields(hash_password(PASSWORD, CHEAP))
    fields[field] = replacement

    # Then the right password no longer verifies against it
    assert not verify_password(PASSWORD, "$".join(fields))


# First, middle and last characters of the salt (0-21) and of the hash (22-64): a last character
# carries unused bits, so some flips there give a non-canonical string instead of another value.
@pytest.mark.parametrize("position", [0, 10, 21, 22, 42, 64])
def test_a_hash_with_one_character_of_salt_or_hash_changed_never_verifies(position: int) -> None:
    # Given a valid hash with one base64 character of the salt or hash flipped
    fields = _fields(hash_password(PASSWORD, CHEAP))
    values = fields[4] + fields[5]
    flipped = "B" if values[position] == "A" else "A"
    values = values[:position] + flipped + values[position + 1 :]
    fields[4], fields[5] = values[:22], values[22:]
    tampered = "$".join(fields)

    # Then it either fails to verify, or (a non-canonical last character) is refused outright
    with contextlib.suppress(PasswordHashError):
        assert not verify_password(PASSWORD, tampered)


VALID = "$argon2id$v=19$m=8,t=1,p=1$" + _b64(bytes(16)) + "$" + _b64(bytes(32))


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "password",
        PASSWORD,
        VALID.replace("argon2id", "argon2i"),
        VALID.replace("argon2id", "argon2d"),
        VALID.replace("argon2id", "ARGON2ID"),
        VALID.replace("v=19", "v=16"),
        VALID.replace("$v=19", ""),  # version left out (allowed by PHC, not made here)
        VALID.replace("m=8", "m=08"),  # leading zero
        VALID.replace("m=8", "m=-8"),
        VALID.replace("m=8", "m=4"),  # below 8 KiB per lane
        VALID.replace("m=8", "m=99999999999"),
        VALID.replace("m=8", "m=4194304"),  # 4 GiB: over the ceiling a sign-in would allocate
        VALID.replace("t=1", "t=0"),
        VALID.replace("t=1", "t=1000"),
        VALID.replace("p=1", "p=0"),
        VALID.replace("m=8,t=1,p=1", "t=1,m=8,p=1"),  # fields out of order
        VALID.replace("m=8,t=1,p=1", "m=8,t=1,p=1,keyid=abc"),
        VALID.replace("m=8", "m=\uff18"),  # a full-width digit
        VALID + "$",
        VALID + "\n",
        " " + VALID,
        VALID + "A",  # hash one character too long
        VALID[:-1],  # hash one character short
        VALID.replace("$" + _b64(bytes(16)) + "$", "$" + _b64(bytes(15)) + "$"),  # 15-byte salt
        VALID.replace("$" + _b64(bytes(16)) + "$", "$" + _b64(bytes(16)) + "==$"),  # padded
        VALID[:-1] + "B",  # non-zero unused bits: a second spelling of the same hash
        VALID.replace("$" + _b64(bytes(16)) + "$", "$" + "A" * 21 + "-$"),  # base64url
        VALID.replace("$" + _b64(bytes(16)) + "$", "$" + "A" * 21 + "*$"),
        VALID.rsplit("$", 1)[0],  # no hash
    ],
)
def test_a_malformed_hash_raises_and_never_verifies(encoded: str) -> None:
    # When a malformed hash is checked or examined
    # Then it is refused with PasswordHashError, never taken as a yes or a plain no
    with pytest.raises(PasswordHashError):
        verify_password(PASSWORD, encoded)
    with pytest.raises(PasswordHashError):
        needs_rehash(encoded, CHEAP)


@pytest.mark.parametrize(
    "encoded",
    [
        VALID.replace("m=8", "m=4194304"),  # 4 GiB
        VALID.replace("m=8", f"m={costs.MAX_MEMORY_KIB + 1}"),
        VALID.replace("t=1", f"t={costs.MAX_ITERATIONS + 1}"),
        VALID.replace("p=1", f"p={costs.MAX_LANES + 1}"),
        VALID.replace("m=8", "m=4294967295"),  # the largest cost cryptography itself would take
        # Forms cryptography's own parser accepts, each with a meaning of its own:
        VALID.replace("t=1", "t=01"),
        VALID.replace("$" + _b64(bytes(16)) + "$", "$" + _b64(bytes(8)) + "$"),  # 8-byte salt
        VALID.rsplit("$", 1)[0] + "$" + _b64(bytes(4)),  # a 4-byte hash: easily matched
        VALID.rsplit("$", 1)[0] + "$" + _b64(bytes(64)),
    ],
)
def test_a_tampered_cost_or_form_is_refused_before_any_derivation(
    encoded: str, argon2id_uses: list[tuple[object, ...]]
) -> None:
    # When a stored hash names a cost over the ceilings, or a form this module never makes
    # Then verifying it raises PasswordHashError without deriving anything (nothing allocated)
    with pytest.raises(PasswordHashError):
        verify_password(PASSWORD, encoded)
    with pytest.raises(PasswordHashError):
        needs_rehash(encoded, CHEAP)
    assert argon2id_uses == []


def test_a_cost_at_the_ceilings_is_accepted() -> None:
    # Given a stored hash at every ceiling at once
    encoded = VALID.replace(
        "m=8,t=1,p=1",
        f"m={costs.MAX_MEMORY_KIB},t={costs.MAX_ITERATIONS},p={costs.MAX_LANES}",
    )

    # Then it is read (not verified here: that would spend the gigabyte the ceiling allows)
    assert needs_rehash(encoded, CHEAP)


def test_the_malformed_hash_examples_differ_from_a_valid_one_only_as_described() -> None:
    # Given the valid hash the malformed ones are made from
    # Then it parses (so each malformed case fails for its own reason)
    assert not verify_password(PASSWORD, VALID)
    assert not needs_rehash(VALID, CHEAP)


def test_a_missing_hash_raises() -> None:
    # Given an account not yet enrolled, whose hash column is NULL
    # Then verifying against it is an error, not a failed (or passed) sign-in
    with pytest.raises(PasswordHashError):
        verify_password(PASSWORD, None)  # type: ignore[arg-type]


# --- cost: rehashing, limits, and the dummy verification -------------------------------------


def test_needs_rehash_when_the_configured_cost_differs() -> None:
    # Given a hash made at one cost
    encoded = hash_password(PASSWORD, CHEAP)

    # Then it needs rehashing under any other cost, higher or lower, and not under its own
    assert not needs_rehash(encoded, CHEAP)
    assert not needs_rehash(encoded, PasswordCost(memory_kib=8, iterations=1, lanes=1))
    assert needs_rehash(encoded, PasswordCost(memory_kib=16, iterations=1, lanes=1))
    assert needs_rehash(encoded, PasswordCost(memory_kib=8, iterations=2, lanes=1))
    assert needs_rehash(encoded, PasswordCost(memory_kib=16, iterations=1, lanes=2))
    assert needs_rehash(encoded, PasswordCost())


@pytest.mark.parametrize(
    "memory_kib, iterations, lanes",
    [(7, 1, 1), (8, 1, 2), (8, 0, 1), (8, 1, 0), (8, 65, 1), (2 * 1024 * 1024, 1, 1)],
)
def test_a_cost_outside_the_limits_is_refused_when_configured(
    memory_kib: int, iterations: int, lanes: int
) -> None:
    # When a cost is configured that a stored hash could not carry
    # Then it is refused at once, not at the first sign-in
    with pytest.raises(ValueError, match="Argon2id"):
        PasswordCost(memory_kib=memory_kib, iterations=iterations, lanes=lanes)


def test_dummy_verify_does_the_same_work_as_a_real_verification(
    argon2id_uses: list[tuple[object, ...]],
) -> None:
    # Given a hash made at a cost
    cost = PasswordCost(memory_kib=64, iterations=3, lanes=2)
    encoded = hash_password(PASSWORD, cost)
    argon2id_uses.clear()

    # When an unknown username's dummy verification and a wrong password's verification run
    dummy_verify(cost)
    verify_password("wrong password", encoded)

    # Then the dummy derives one key at the stored hash's cost, salt size and hash size, and the
    # verification derives one from that hash: the same work, so timing cannot tell them apart
    # (timings themselves are not asserted: the machine is noisy)
    assert argon2id_uses == [("derive", 16, 32, cost), ("verify", encoded)]
    _, _, _, stored_cost, salt, digest = _fields(encoded)
    assert stored_cost == "m=64,t=3,p=2"
    assert (len(salt), len(digest)) == (22, 43)  # 16 and 32 bytes in unpadded base64


# --- the policy for new passwords ------------------------------------------------------------

# Varied words, cut to exactly the longest password allowed.
LONGEST = " ".join(eff_long_words()[::97])[:MAX_LENGTH]
# Characters zxcvbn reads as look-alikes of letters ("1" as i or l, "@" as a): a password dense
# in them is the slowest to estimate.
LOOK_ALIKES = "!$%(+0123456789<@[{|"
# Every word the policy's messages are made of: a password sharing one ("pass") is not quoted.
OWN_WORDS = " ".join(
    [
        passwords.ADVICE,
        *passwords._FOUND.values(),
        "Your password is too easy to guess: it uses, which password-guessing tools try first.",
        f"must be at least {MIN_LENGTH} characters long, no longer than {MAX_LENGTH} characters",
        "must not contain your username",
    ]
).casefold()


def _refusal(password: str, username: str = "alice") -> str:
    with pytest.raises(WeakPassword) as refused:
        check_new_password(password, username=username)
    return refused.value.message


def _assert_plain_refusal(message: str, password: str) -> None:
    """A refusal the reviewer can act on: a sentence about their password, ending with the
    suggestion of a generated passphrase, and quoting nothing of what they typed."""
    assert message.startswith("Your password")
    assert message.endswith(passwords.ADVICE)
    assert "example on this page" in message
    assert not password or password not in message
    for fragment in re.findall(r"\w{4,}", password.casefold()):
        if fragment not in OWN_WORDS:
            assert fragment not in message.casefold(), f"{fragment!r} quoted"


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "x7#Lq9!vP2mZ",  # exactly 12, random
        "ça fé lè pôû",  # exactly 12, accented
        "the probation service needs more officers",  # a service word inside a passphrase
        "my password is not Password1",  # a common word inside a passphrase
        "ünïcödé ïs fïnë tøø",
        "\U0001f512\U0001f511 emoji and words \U0001f30a",
        LONGEST,  # exactly the maximum
        "jo's long enough passphrase",  # a username under 3 characters is not looked for
        "a brand new passphrase, quite long",
        "orbit lantern cobalt pine pine pine",  # one repeat among random words
    ],
)
def test_good_passwords_are_accepted(password: str) -> None:
    # When a reasonable new password is set
    # Then no rule refuses it (no composition rules: no digit or symbol is required)
    check_new_password(password, username="jo")


@pytest.mark.parametrize(
    "password, username, reason",
    [
        ("", "alice", "at least 12 characters"),
        ("short pass", "alice", "at least 12 characters"),
        ("x7#Lq9!vP2m", "alice", "at least 12 characters"),  # 11
        (LONGEST + "z", "alice", f"no longer than {MAX_LENGTH}"),
        ("alice is my name, honestly", "alice", "username"),
        ("My name is ALICE, honestly", "Alice", "username"),
        ("reviewer.jsmith!2024", "jsmith", "username"),
        ("aaaaaaaaaaaa", "alice", "repeated characters"),
        (" " * 20, "alice", "repeated characters"),
        ("AaAaAaAaAaAa", "alice", "repeated characters"),
        ("abcabcabcabcabc", "alice", "repeated characters"),
        ("hahahahahahahaha", "alice", "repeated characters"),
        ("1234" * 4, "alice", "repeated characters"),
        ("a" * 11 + "b", "alice", "repeated characters"),
        ("ab" * 5 + "abc" + "d" * 3, "alice", "repeated characters"),
        ("passwordpassword", "alice", "repeated characters"),
        ("Password123!", "alice", "a common password"),
        ("password1234", "alice", "a common password"),
        ("P@ssw0rd2024!!", "alice", "a common password"),
        ("Liverpool1892", "alice", "a common password"),
        ("qwerty123456", "alice", "a common password"),
        ("123456789012", "alice", "a sequence"),
        ("abcdefghijklmn", "alice", "a sequence"),
        ("098765432109", "alice", "a common password"),
        ("1q2w3e4r5t6y", "alice", "a common password"),
        ("847261930485", "alice", "a date"),  # twelve digits: 10**12 at most, and fewer here
        ("Probation2024!", "alice", "words to do with this service"),
    ],
)
def test_weak_passwords_are_refused_with_a_plain_reason(
    password: str, username: str, reason: str
) -> None:
    # When a weak new password is set
    # Then it is refused, with a sentence the reviewer can act on
    with pytest.raises(WeakPassword) as refused:
        check_new_password(password, username=username)
    assert reason in refused.value.message
    assert str(refused.value) == refused.value.message
    _assert_plain_refusal(refused.value.message, password)


# Patterns that a base-word list and sequence checks let through, and that cracking tools try
# within minutes, with what the refusal says each is made of.
@pytest.mark.parametrize(
    "password, reasons",
    [
        # a season and a year, with punctuation or repeated
        ("Autumn2026!!!!", ["a date", "repeated characters"]),
        ("Summer2026!!!!!", ["a common password", "repeated characters"]),
        ("Winter2025Winter", ["a common password"]),
        ("Winter2025Winter2025", ["repeated characters"]),
        # keyboard walks
        ("1qaz2wsx3edc4rfv", ["a common password"]),
        ("1qaz2wsx3edc4rfv5tgb", ["a common password"]),
        ("qwertyuiopasdf", ["a common password"]),
        ("zxcvbnmasdfghjkl", ["a common password"]),
        # look-alike spellings of "password"
        ("P@55w0rd123456", ["a common password", "look-alike numbers or symbols"]),
        ("P@55w0rdP@55w0rd", ["repeated characters"]),
        # names and years
        ("Michael1985!!!", ["names", "a year"]),
        ("Sarah.Jones1979", ["names", "a year"]),
        ("Elizabeth1990!!", ["names"]),
        # dictionary words with substitutions
        ("Ch3ls3aF00tb@ll", ["look-alike numbers or symbols"]),
        ("M0nk3yB@n@n@2026", ["look-alike numbers or symbols"]),
        ("Sunsh1ne&Rainb0w", ["look-alike numbers or symbols"]),
        ("Dr@g0nfly2026!", ["look-alike numbers or symbols"]),  # zxcvbn's score 4, < 10**12
    ],
)
def test_passwords_that_fall_to_offline_guessing_are_refused(
    password: str, reasons: list[str]
) -> None:
    # When a password of a pattern that guessing tools try first is set
    message = _refusal(password)

    # Then it is refused as too easy to guess, saying what kind of pattern it uses
    assert message.startswith("Your password is too easy to guess: it uses ")
    for reason in reasons:
        assert reason in message
    _assert_plain_refusal(message, password)


@pytest.mark.parametrize(
    "password, username",
    [
        ("ProbationPortal2026", "alice"),
        ("HMIPprobation2026", "alice"),
        ("J5m1th!Garden26", "jsmith"),  # the username in look-alikes
        ("harbourokonkwo77", "k.okonkwo"),  # a part of the username
    ],
)
def test_the_username_and_service_words_count_as_guessable(password: str, username: str) -> None:
    # Given a password that zxcvbn, knowing nothing of the portal, estimates as strong enough,
    # and that does not contain the username as typed
    assert zxcvbn(password)["guesses"] >= passwords.MIN_GUESSES
    assert username not in password.casefold()

    # When it is set by that reviewer
    message = _refusal(password, username)

    # Then it is refused: the username and the service's words are the first an attacker tries
    assert "your username or words to do with this service" in message
    _assert_plain_refusal(message, password)


def test_length_counts_characters_after_normalisation() -> None:
    # Given a password of MIN_LENGTH characters, typed with combining accents (more code points)
    composed = "ça fé lè pôû"
    assert len(composed) == MIN_LENGTH
    decomposed = unicodedata.normalize("NFD", composed)
    assert len(decomposed) > MIN_LENGTH

    # Then it is as long as its composed form, and no longer than the limit allows
    check_new_password(decomposed, username="alice")
    with pytest.raises(WeakPassword, match="at least"):
        check_new_password(decomposed[2:], username="alice")


# --- the estimator's bounded input -----------------------------------------------------------


@pytest.fixture
def estimated(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Every call of zxcvbn by the passwords module from here on: the text it was given, its
    keyword arguments, and whether the module's lock was held."""
    calls: list[dict[str, object]] = []

    def recording(password: str, **options: object) -> dict[str, object]:
        calls.append({"text": password, **options, "locked": passwords._ESTIMATOR_LOCK.locked()})
        return zxcvbn(password, **options)

    monkeypatch.setattr(passwords, "zxcvbn", recording)
    return calls


@pytest.mark.parametrize(
    "password",
    [
        LONGEST,
        (LOOK_ALIKES * 13)[:MAX_LENGTH],
        "".join(secrets.choice(string.ascii_letters + string.digits + string.punctuation)
                for _ in range(MAX_LENGTH)),
    ],
    ids=["words", "look-alikes", "random"],
)  # fmt: skip
def test_the_estimator_is_given_a_bounded_prefix(
    password: str, estimated: list[dict[str, object]]
) -> None:
    # Given a password of the greatest length allowed
    assert len(password) == MAX_LENGTH

    # When it is checked (accepted or refused)
    with contextlib.suppress(WeakPassword):
        check_new_password(password, username="alice")

    # Then zxcvbn was given once a prefix of it, of at most ESTIMATED_PREFIX characters and at
    # least MIN_LENGTH, whose work is within the ceiling: its time is bounded whatever was typed
    # (times themselves are not asserted: the machine is noisy)
    [call] = estimated
    text = call["text"]
    assert isinstance(text, str)
    assert password.startswith(text)
    assert MIN_LENGTH <= len(text) <= passwords.ESTIMATED_PREFIX
    assert passwords._estimator_work(text) <= passwords.ESTIMATOR_WORK
    assert call["max_length"] == passwords.ESTIMATED_PREFIX
    # ...with the service's words and the username, while no other thread could change them
    assert call["user_inputs"] == ["alice", *passwords.SERVICE_WORDS]
    assert call["locked"]


def test_the_prefix_is_as_long_as_the_work_ceiling_allows() -> None:
    # Given a password dense in look-alikes, whose estimate costs more the longer it is
    password = LOOK_ALIKES * 13
    lengths = range(MIN_LENGTH, passwords.ESTIMATED_PREFIX + 1, 8)
    works = [passwords._estimator_work(password[:length]) for length in lengths]
    assert works == sorted(works)

    # Then the prefix estimated is the longest within the ceiling, and a plain passphrase's is
    # the full ESTIMATED_PREFIX characters
    prefix = passwords._estimated_part(password)
    assert passwords._estimator_work(prefix) <= passwords.ESTIMATOR_WORK
    assert passwords._estimator_work(password[: len(prefix) + 1]) > passwords.ESTIMATOR_WORK
    assert passwords._estimated_part(LONGEST) == LONGEST[: passwords.ESTIMATED_PREFIX]
    # ...and the shortest password allowed is always estimated whole
    assert passwords._estimator_work(LOOK_ALIKES[:MIN_LENGTH]) <= passwords.ESTIMATOR_WORK


def test_a_weak_start_is_refused_however_strong_the_rest() -> None:
    # Given a password whose first ESTIMATED_PREFIX characters are weak and whose rest is strong
    password = "a" * passwords.ESTIMATED_PREFIX + " correct horse battery staple"

    # Then it is refused: an estimate of the prefix errs only towards refusing
    assert "repeated characters" in _refusal(password)


# --- generated passphrases -------------------------------------------------------------------


@pytest.mark.parametrize("username", ["ada", "admin", "k.okonkwo", "inspector-1"])
def test_generated_passphrases_always_pass_the_policy(username: str) -> None:
    # When many passphrases are generated (each draw is checked twice: here and when drawn)
    for _ in range(50):
        passphrase = passwords.generate_passphrase(username=username)

        # Then each is six words that the policy accepts for that username
        assert len(passphrase.split()) == passwords.GENERATED_WORDS
        check_new_password(passphrase, username=username)


def test_a_generated_passphrase_is_drawn_again_when_a_word_contains_the_username(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given draws of which the first has a word containing the username "ada"
    draws = iter([["adamant", *["apple"] * 5], ["orbit", "lantern", "cobalt", *["pine"] * 3]])
    monkeypatch.setattr(passwords, "random_words", lambda count: next(draws)[:count])

    # When a passphrase is generated for "ada", then the second draw is the one given
    assert passwords.generate_passphrase(username="ada") == "orbit lantern cobalt pine pine pine"


def test_a_username_no_draw_can_suit_is_refused_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(passwords, "random_words", lambda count: ["adamant"] * count)
    with pytest.raises(passwords.WeakPassword, match="choose a password"):
        passwords.generate_passphrase(username="ada")
