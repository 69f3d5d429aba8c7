"""Re-keying (`rekey`, `rekey_stream`) moves a file to new recipients by rewriting its header only.

For the post-quantum (mlkem768x25519) and X25519 types this proves that a re-keyed file:

* decrypts with the new identity to exactly the original plaintext, at every chunk boundary;
* no longer opens with the old identity, while every other recipient's stanza is kept byte for
  byte, in its place, and still opens the file;
* keeps the payload (nonce and chunks) byte for byte, so the file key cannot have changed: a
  payload authenticates only under the payload key its own file key derives;

and that a re-key returns None / False (writing nothing) for a file the old key does not open,
refuses a header tampered with (rather than giving it a valid MAC), refuses armored input, and
refuses to leave post-quantum and classic recipients mixed in one file. Interoperability of
re-keyed files is tested with the other implementations, in test_interop_debian_age.py (X25519)
and test_interop_typage.py (post-quantum); flat memory in test_memory.py.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.crypto import (
    AgeError,
    HeaderError,
    Identity,
    MacMismatch,
    NoIdentityMatch,
    Recipient,
    RecipientMixError,
    ScryptIdentity,
    ScryptRecipient,
    armor,
    decrypt,
    encrypt,
    generate_identity,
    rekey,
    rekey_stream,
)
from portal.crypto.format import ParsedHeader, header_mac, read_header
from portal.crypto.keys import AnyIdentity
from portal.crypto.stream import CHUNK_SIZE

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCRYPT_TEST_WORK_FACTOR = 6
# Empty, one byte, exactly one chunk, one byte into a second chunk, and several chunks.
SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]


@dataclass(frozen=True)
class Keys:
    """Three key pairs of one type: the old epoch, the new epoch, and someone else entirely."""

    name: str
    old: AnyIdentity
    new: AnyIdentity
    other: AnyIdentity

    @staticmethod
    def of(kind: Literal["pq", "x25519"]) -> Keys:
        old, new, other = (generate_identity(kind) for _ in range(3))
        return Keys(kind, old, new, other)


PQ, X25519 = Keys.of("pq"), Keys.of("x25519")
each_type = pytest.mark.parametrize("keys", [PQ, X25519], ids=lambda keys: keys.name)


def plaintext_of(size: int, seed: int = 0) -> bytes:
    """`size` deterministic pseudo-random bytes."""
    return hashlib.shake_256(seed.to_bytes(8, "big")).digest(size)


@dataclass(frozen=True)
class Parts:
    """An age file split at the end of its header."""

    header: ParsedHeader
    header_bytes: bytes
    payload: bytes
    """Everything after the header: the nonce and the chunks."""

    @classmethod
    def of(cls, ciphertext: bytes) -> Parts:
        source = io.BytesIO(ciphertext)
        header = read_header(source)
        return cls(header, ciphertext[: source.tell()], ciphertext[source.tell() :])

    def stanza_lines(self) -> list[bytes]:
        """Each stanza's bytes in the header, in order (from its "->" line to its last line)."""
        stanzas = self.header_bytes.split(b"\n---")[0].split(b"\n-> ")[1:]
        return [b"-> " + stanza for stanza in stanzas]

    def file_key(self, identity: Identity) -> bytes:
        file_key = identity.unwrap(self.header.stanzas)
        assert file_key is not None
        return file_key


class Trickle(io.RawIOBase):
    """A source that, like a pipe, returns at most `most` bytes a read."""

    def __init__(self, data: bytes, most: int) -> None:
        self._data = memoryview(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self._most, len(self._data))
        buffer[:count] = self._data[:count]
        self._data = self._data[count:]
        return count


def rekeyed_stream(ciphertext: bytes, old: Sequence[Identity], new: Sequence[Recipient]) -> bytes:
    destination = io.BytesIO()
    assert rekey_stream(io.BytesIO(ciphertext), destination, old, new)
    return destination.getvalue()


# --- The new file -------------------------------------------------------------------------------


@each_type
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("function", ["rekey", "rekey_stream"])
def test_a_rekeyed_file_gives_the_same_plaintext_to_the_new_identity_only(
    keys: Keys, size: int, function: str
) -> None:
    # Given a file for the old epoch
    plaintext = plaintext_of(size)
    original = encrypt(plaintext, [keys.old.recipient()])

    # When it is re-keyed to the new epoch
    move = rekey if function == "rekey" else rekeyed_stream
    rekeyed = move(original, [keys.old], [keys.new.recipient()])
    assert rekeyed is not None

    # Then the new identity decrypts it to the same plaintext, and the old one no longer can
    assert decrypt(rekeyed, [keys.new]) == plaintext
    with pytest.raises(NoIdentityMatch):
        decrypt(rekeyed, [keys.old])
    # And only the header changed: the payload is the original's, byte for byte, under the same
    # file key (which the new header's MAC is made with)
    before, after = Parts.of(original), Parts.of(rekeyed)
    assert after.payload == before.payload
    assert after.header_bytes != before.header_bytes
    assert after.file_key(keys.new) == before.file_key(keys.old)
    assert after.header.mac == header_mac(before.file_key(keys.old), after.header.mac_input)


@each_type
def test_the_same_payload_could_not_have_been_re_encrypted_under_another_file_key(
    keys: Keys,
) -> None:
    # Given a file re-keyed, and the same plaintext decrypted and encrypted again instead
    plaintext = plaintext_of(2 * CHUNK_SIZE + 3)
    original = encrypt(plaintext, [keys.old.recipient()])
    rekeyed = rekey(original, [keys.old], [keys.new.recipient()])
    assert rekeyed is not None
    re_encrypted = encrypt(decrypt(original, [keys.old]), [keys.new.recipient()])

    # Then the re-keyed payload is the original's, and a re-encryption's shares nothing with it:
    # a fresh file key and nonce change every byte, so comparing payloads tells the two apart
    assert Parts.of(rekeyed).payload == Parts.of(original).payload
    assert Parts.of(re_encrypted).payload[:16] != Parts.of(original).payload[:16]
    assert Parts.of(re_encrypted).payload != Parts.of(original).payload


@each_type
@PROPERTY
@given(
    size=st.one_of(st.sampled_from(SIZES), st.integers(0, 4 * CHUNK_SIZE)),
    seed=st.integers(0, 2**32),
    others_before=st.integers(0, 2),
    others_after=st.integers(0, 2),
    most=st.integers(1, CHUNK_SIZE + 100),
)
def test_the_stanzas_the_old_key_does_not_open_survive_verbatim_and_in_place(
    keys: Keys, size: int, seed: int, others_before: int, others_after: int, most: int
) -> None:
    # Given a file for other recipients (a submitter's reply key, say) around the old epoch's
    plaintext = plaintext_of(size, seed)
    others = [keys.other.recipient()] * (others_before + others_after)
    recipients = [*others[:others_before], keys.old.recipient(), *others[others_before:]]
    original = encrypt(plaintext, recipients)

    # When it is re-keyed as a stream from a source that reads short, as a pipe does
    destination = io.BytesIO()
    assert rekey_stream(
        io.BufferedReader(Trickle(original, most)), destination, [keys.old], [keys.new.recipient()]
    )
    rekeyed = destination.getvalue()

    # Then every other stanza is the same bytes in the same place, and the old one's place holds
    # the new epoch's stanza
    before, after = Parts.of(original).stanza_lines(), Parts.of(rekeyed).stanza_lines()
    assert len(after) == len(before)
    assert after[:others_before] == before[:others_before]
    assert after[others_before + 1 :] == before[others_before + 1 :]
    assert after[others_before] != before[others_before]
    assert Parts.of(rekeyed).payload == Parts.of(original).payload
    # And each of them decrypts it
    assert decrypt(rekeyed, [keys.new]) == plaintext
    if others:
        assert decrypt(rekeyed, [keys.other]) == plaintext


@each_type
def test_every_stanza_the_old_key_opens_is_replaced_by_one_set_for_the_new(keys: Keys) -> None:
    # Given a file with two stanzas for the old epoch (as a careless tool might write)
    old, other = keys.old.recipient(), keys.other.recipient()
    original = encrypt(b"twice", [old, other, old])
    third = generate_identity("pq" if keys is PQ else "x25519")

    # When it is re-keyed to two new recipients

    rekeyed = rekey(original, [keys.old], [keys.new.recipient(), third.recipient()])

    # Then both old stanzas are gone, the two new ones stand where the first was, the other stays
    assert rekeyed is not None
    before, after = Parts.of(original).stanza_lines(), Parts.of(rekeyed).stanza_lines()
    assert len(after) == 3
    assert after[2] == before[1]
    for identity in (keys.new, third, keys.other):
        assert decrypt(rekeyed, [identity]) == b"twice"
    with pytest.raises(NoIdentityMatch):
        decrypt(rekeyed, [keys.old])


def test_a_passphrase_file_moves_to_a_key_and_back() -> None:
    passphrase = "correct horse battery staple"
    original = encrypt(b"recovery", [ScryptRecipient(passphrase, SCRYPT_TEST_WORK_FACTOR)])

    to_key = rekey(original, [ScryptIdentity(passphrase)], [X25519.new.recipient()])
    assert to_key is not None
    back = rekey(to_key, [X25519.new], [ScryptRecipient("another", SCRYPT_TEST_WORK_FACTOR)])
    assert back is not None

    assert decrypt(to_key, [X25519.new]) == b"recovery"
    assert decrypt(back, [ScryptIdentity("another")]) == b"recovery"
    assert Parts.of(back).payload == Parts.of(original).payload


# --- Nothing to do ------------------------------------------------------------------------------


@each_type
def test_a_file_the_old_key_does_not_open_gives_none_and_false_writing_nothing(
    keys: Keys,
) -> None:
    # Given a file for someone else, and a file already moved
    elsewhere = encrypt(b"not ours", [keys.other.recipient()])
    moved = rekey(encrypt(b"moved", [keys.old.recipient()]), [keys.old], [keys.new.recipient()])
    assert moved is not None

    for ciphertext in (elsewhere, moved):
        # Then there is nothing to re-key: a job can run again, or resume, without harm
        assert rekey(ciphertext, [keys.old], [keys.new.recipient()]) is None
        destination = io.BytesIO()
        assert not rekey_stream(
            io.BytesIO(ciphertext), destination, [keys.old], [keys.new.recipient()]
        )
        assert destination.getvalue() == b""


# --- Refusals -----------------------------------------------------------------------------------


def _changed_at(data: bytes, position: int) -> bytes:
    """`data` with the base64 character at `position` swapped for another (still canonical)."""
    changed = bytearray(data)
    changed[position] = ord("B") if changed[position] == ord("A") else ord("A")
    return bytes(changed)


def _refusal(ciphertext: bytes, keys: Keys) -> type[Exception]:
    """What both `rekey` and `rekey_stream` raise for `ciphertext` (the stream writing nothing)."""
    with pytest.raises(AgeError) as in_memory:
        rekey(ciphertext, [keys.old], [keys.new.recipient()])
    destination = io.BytesIO()
    with pytest.raises(type(in_memory.value)):
        rekey_stream(io.BytesIO(ciphertext), destination, [keys.old], [keys.new.recipient()])
    assert destination.getvalue() == b""
    return type(in_memory.value)


@each_type
@pytest.mark.parametrize("where", ["the mac", "another recipient's stanza"])
def test_a_tampered_header_is_refused_not_laundered(keys: Keys, where: str) -> None:
    # Given a follow-up for the old epoch and a submitter's reply key, one character of its
    # header changed: in the MAC, or in the body of the reply key's stanza (which then still
    # parses, and opens for nobody, so only the MAC can tell)
    original = encrypt(b"follow-up", [keys.old.recipient(), keys.other.recipient()])
    parts = Parts.of(original)
    if where == "the mac":
        position = len(parts.header_bytes) - 5
    else:
        reply_stanza = parts.stanza_lines()[1]
        position = original.index(reply_stanza) + reply_stanza.index(b"\n") + 1
    tampered = _changed_at(original, position)

    # Then the re-key refuses it, rather than giving the changed header a valid MAC
    assert _refusal(tampered, keys) is MacMismatch


@each_type
def test_an_added_stanza_is_refused_not_laundered(keys: Keys) -> None:
    # Given an attacker's stanza slipped into a header the old key opens, the MAC left as it was
    original = encrypt(b"report", [keys.old.recipient()])
    footer = original.index(b"\n---") + 1
    attacker = Parts.of(encrypt(b"", [keys.other.recipient()])).stanza_lines()[0] + b"\n"
    with_added_stanza = original[:footer] + attacker + original[footer:]

    # Then the re-key refuses it
    assert _refusal(with_added_stanza, keys) is MacMismatch


@each_type
def test_an_armored_file_is_refused(keys: Keys) -> None:
    armored = armor(encrypt(b"armored", [keys.old.recipient()]))

    with pytest.raises(HeaderError, match="armored"):
        rekey(armored, [keys.old], [keys.new.recipient()])


def test_a_malformed_or_truncated_header_is_refused() -> None:
    original = encrypt(b"cut", [X25519.old.recipient()])
    header_size = len(Parts.of(original).header_bytes)

    for cut in (0, 10, header_size - 2):
        with pytest.raises(HeaderError):
            rekey(original[:cut], [X25519.old], [X25519.new.recipient()])


@pytest.mark.parametrize(
    ("kept", "old", "new"),
    [(PQ, PQ, X25519), (X25519, X25519, PQ)],
    ids=["classic into a post-quantum file", "post-quantum into a classic file"],
)
def test_a_rekey_that_would_mix_post_quantum_and_classic_is_refused(
    kept: Keys, old: Keys, new: Keys
) -> None:
    # Given a file for the old epoch and for a reply key of the same type
    original = encrypt(b"mixed?", [old.old.recipient(), kept.other.recipient()])

    # When the old epoch's stanza would be replaced by one of the other type, then it is refused
    with pytest.raises(RecipientMixError):
        rekey(original, [old.old], [new.new.recipient()])
    # And with no other stanza in the file, a change of type is allowed
    alone = rekey(encrypt(b"alone", [old.old.recipient()]), [old.old], [new.new.recipient()])
    assert alone is not None
    assert decrypt(alone, [new.new]) == b"alone"


def test_new_recipients_are_checked_as_for_encryption() -> None:
    original = encrypt(b"x", [X25519.old.recipient(), X25519.other.recipient()])

    with pytest.raises(RecipientMixError):
        rekey(original, [X25519.old], [])
    with pytest.raises(RecipientMixError):
        rekey(original, [X25519.old], [X25519.new.recipient(), PQ.new.recipient()])
    # A passphrase must stay a file's only recipient
    with pytest.raises(RecipientMixError):
        rekey(original, [X25519.old], [ScryptRecipient("pass", SCRYPT_TEST_WORK_FACTOR)])


def test_a_header_larger_than_a_copy_piece_is_rewritten_whole() -> None:
    # Given a file whose header is longer than the 64 KiB pieces the payload is copied in
    plaintext = plaintext_of(2 * CHUNK_SIZE + 1)
    many = [X25519.other.recipient()] * 800
    original = encrypt(plaintext, [*many, X25519.old.recipient()])
    assert len(Parts.of(original).header_bytes) > CHUNK_SIZE

    # When it is re-keyed, then the whole header and payload come through
    rekeyed = rekeyed_stream(original, [X25519.old], [X25519.new.recipient()])
    assert decrypt(rekeyed, [X25519.new]) == plaintext
    assert Parts.of(rekeyed).payload == Parts.of(original).payload
    assert Parts.of(rekeyed).stanza_lines()[:800] == Parts.of(original).stanza_lines()[:800]
