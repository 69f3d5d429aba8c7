"""Codenames: enough entropy, forgiving of how they are typed, and keys that only they give."""

from __future__ import annotations

import math

import pytest

from portal import crypto
from portal.services.codenames import (
    CODENAME_WORDS,
    CodenameHasher,
    InvalidCodename,
    codename_words,
    new_codename,
    normalise,
)
from portal.wordlist import eff_long_words
from tests.conftest import CHEAP_HASH_COST

SALT = bytes(range(32))


def test_a_codename_has_at_least_100_bits_of_entropy_from_the_eff_list() -> None:
    words = new_codename().split()

    assert len(words) == CODENAME_WORDS
    assert all(word in codename_words() for word in words)
    assert set(codename_words()) <= set(eff_long_words())
    assert len(codename_words()) == len(eff_long_words()) - 4
    assert CODENAME_WORDS * math.log2(len(codename_words())) >= 100


def test_every_word_a_codename_can_hold_survives_normalising() -> None:
    # A codename made of any word of the list must be recognised as typed: this is what failed
    # for the list's hyphenated words, which the normaliser splits in two
    words = codename_words()
    for start in range(0, len(words), CODENAME_WORDS):
        chunk = list(words[start : start + CODENAME_WORDS])
        chunk += list(words[: CODENAME_WORDS - len(chunk)])
        assert normalise(" ".join(chunk)) == " ".join(chunk)


def test_codenames_do_not_repeat() -> None:
    assert len({new_codename() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "typed",
    [
        "  Abacus   abdomen-ABDOMINAL abide, abiding . ability ablaze able  ",
        "abacus\tabdomen\nabdominal abide abiding ability ablaze able",
        # Full-width letters, as some phone keyboards type them
        "\uff21\uff22\uff21\uff23\uff35\uff33 abdomen abdominal abide abiding ability ablaze able",
    ],
)
def test_a_codename_is_recognised_however_it_is_spaced_or_cased(typed: str) -> None:
    assert normalise(typed) == "abacus abdomen abdominal abide abiding ability ablaze able"


@pytest.mark.parametrize(
    "typed",
    ["", "abacus " * 7, "abacus " * 9, "abacus " * 7 + "notaword", "<script>" * 8],
)
def test_text_that_cannot_be_a_codename_is_refused_before_any_hashing(typed: str) -> None:
    with pytest.raises(InvalidCodename):
        normalise(typed)


@pytest.mark.parametrize("kind", ["pq", "x25519"])
def test_the_same_codename_gives_the_same_keys_and_another_gives_others(kind: str) -> None:
    hasher = CodenameHasher(salt=SALT, cost=CHEAP_HASH_COST, reply_kind=kind)
    codename = new_codename()

    first, again = hasher.derive(codename), hasher.derive(codename.upper())
    other = hasher.derive(new_codename())

    assert first.lookup == again.lookup
    assert str(first.reply_identity) == str(again.reply_identity)
    assert first.lookup != other.lookup
    assert str(first.reply_identity.recipient()) != str(other.reply_identity.recipient())
    assert first.lookup not in bytes(first.reply_identity.recipient().__str__(), "ascii")


def test_the_salt_changes_everything_a_codename_gives() -> None:
    codename = new_codename()

    here = CodenameHasher(salt=SALT, cost=CHEAP_HASH_COST).derive(codename)
    elsewhere = CodenameHasher(salt=bytes(32), cost=CHEAP_HASH_COST).derive(codename)

    assert here.lookup != elsewhere.lookup
    assert str(here.reply_identity) != str(elsewhere.reply_identity)


@pytest.mark.parametrize(("kind", "prefix"), [("pq", "age1pq1"), ("x25519", "age1")])
def test_the_reply_key_is_of_the_inspectorates_kind_and_works(kind: str, prefix: str) -> None:
    keys = CodenameHasher(salt=SALT, cost=CHEAP_HASH_COST, reply_kind=kind).derive(new_codename())
    recipient = keys.reply_identity.recipient()

    assert str(recipient).startswith(prefix)
    assert crypto.decrypt(crypto.encrypt(b"reply", [recipient]), [keys.reply_identity]) == b"reply"


def test_derived_keys_never_show_their_secrets() -> None:
    keys = CodenameHasher(salt=SALT, cost=CHEAP_HASH_COST).derive(new_codename())

    assert repr(keys) == "<CodenameKeys>"
