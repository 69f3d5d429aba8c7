"""Unit tests of the pieces of `portal.crypto`: Bech32, canonical base64, header writing, the
rules for mixing recipients, key parsing and its errors, what `repr()` and `str()` reveal, the
scrypt work-factor ceiling, and generated identities.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import traceback
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.crypto import (
    HeaderError,
    HybridIdentity,
    HybridRecipient,
    KeyFormatError,
    NoIdentityMatch,
    Recipient,
    RecipientMixError,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    X25519Identity,
    X25519Recipient,
    bech32,
    check_recipients,
    decrypt,
    encrypt,
    encrypt_stream,
    generate_identity,
    parse_identities,
    parse_identity,
    parse_recipient,
    parse_recipients,
)
from portal.crypto import scrypt as scrypt_module
from portal.crypto.format import (
    decode_base64,
    encode_base64,
    header_mac,
    read_header,
    write_header,
)
from portal.crypto.stream import NONCE_SIZE, encrypt_payload, payload_key

UNITS = settings(max_examples=100, deadline=None)

PQ_IDENTITY = generate_identity("pq")
X25519_IDENTITY = generate_identity("x25519")
IDENTITIES = [PQ_IDENTITY, X25519_IDENTITY]
each_identity = pytest.mark.parametrize("identity", IDENTITIES, ids=["pq", "x25519"])
BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# --- Bech32 -------------------------------------------------------------------------------------

# The human-readable part: printable ASCII, in one case (encode lower-cases it).
hrps = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126).filter(lambda c: not c.isupper()),
    min_size=1,
    max_size=20,
)


@UNITS
@given(hrp=hrps, data=st.binary(max_size=300))
def test_bech32_round_trips_in_either_case(hrp: str, data: bytes) -> None:
    encoded = bech32.encode(hrp, data)

    assert encoded == encoded.lower()
    assert bech32.decode(encoded) == (hrp, data)
    assert bech32.decode(encoded.upper()) == (hrp.upper(), data)


@pytest.mark.parametrize(
    ("text", "hrp", "data"),
    [
        # Valid strings from BIP 173 whose data is whole bytes
        ("A12UEL5L", "A", b""),
        ("a12uel5l", "a", b""),
        ("?1ezyfcl", "?", b""),
        (
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "abcdef",
            bytes.fromhex("00443214c74254b635cf84653a56d7c675be77df"),
        ),
        ("11" + "q" * 82 + "c8247j", "1", bytes(51)),
        # BIP 173 calls this invalid only for being 91 characters long; age has no such limit
        (
            "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
            "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio",
            b"",
        ),
    ],
)
def test_bech32_decodes_the_bip173_vectors(text: str, hrp: str, data: bytes) -> None:
    assert bech32.decode(text) == (hrp, data)


@pytest.mark.parametrize(
    "text",
    [
        "\x201nwldj5",  # a character out of range in the human-readable part
        "\x7f1axkwrx",
        "\x801eym55h",
        "pzry9x0s0muk",  # no separator
        "1pzry9x0s0muk",  # empty human-readable part
        "x1b4n0q5v",  # a character outside the data alphabet
        "li1dgmt3",  # checksum too short
        "de1lg7wt\xff",  # invalid character in the checksum
        "A1G7SGD8",  # checksum computed over the upper-case human-readable part
        "10a06t8",
        "1qzzfhee",
    ],
)
def test_bech32_refuses_the_bip173_invalid_vectors(text: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.decode(text)


@UNITS
@given(data=st.data())
def test_bech32_refuses_mixed_case(data: st.DataObject) -> None:
    encoded = str(X25519_IDENTITY.recipient())
    letters = [index for index, character in enumerate(encoded) if character.isalpha()]
    index = data.draw(st.sampled_from(letters), label="index")

    mixed = encoded[:index] + encoded[index].upper() + encoded[index + 1 :]

    with pytest.raises(bech32.Bech32Error, match="mixed case"):
        bech32.decode(mixed)


@UNITS
@given(data=st.data(), hrp=hrps, payload=st.binary(max_size=100))
def test_bech32_refuses_any_single_changed_character_after_the_separator(
    data: st.DataObject, hrp: str, payload: bytes
) -> None:
    encoded = bech32.encode(hrp, payload)
    separator = encoded.rfind("1")
    index = data.draw(st.integers(separator + 1, len(encoded) - 1), label="index")
    replacement = data.draw(
        st.sampled_from([c for c in bech32.CHARSET if c != encoded[index]]), label="replacement"
    )

    changed = encoded[:index] + replacement + encoded[index + 1 :]

    with pytest.raises(bech32.Bech32Error):
        bech32.decode(changed)


def test_bech32_has_no_90_character_limit_a_1959_character_pq_recipient_round_trips() -> None:
    text = str(PQ_IDENTITY.recipient())
    assert len(text) == 1959

    hrp, data = bech32.decode(text)

    assert (hrp, len(data)) == ("age1pq", 1216)
    assert bech32.encode(hrp, data) == text
    assert parse_recipient(text) == PQ_IDENTITY.recipient()
    assert str(parse_recipient(text)) == text


# --- Canonical base64 ---------------------------------------------------------------------------


@UNITS
@given(data=st.binary(max_size=200))
def test_base64_round_trips_unpadded_and_on_one_line(data: bytes) -> None:
    encoded = encode_base64(data)

    assert "=" not in encoded
    assert "\n" not in encoded
    assert encoded == base64.b64encode(data).decode().rstrip("=")
    assert decode_base64(encoded) == data
    assert decode_base64(encoded.encode()) == data


@UNITS
@given(data=st.binary(min_size=1, max_size=200).filter(lambda d: len(d) % 3))
def test_base64_refuses_padding(data: bytes) -> None:
    padded = base64.b64encode(data).decode()
    assert padded.endswith("=")

    with pytest.raises(HeaderError):
        decode_base64(padded)


@UNITS
@given(data=st.data(), payload=st.binary(min_size=1, max_size=200))
def test_base64_refuses_line_breaks_anywhere(data: st.DataObject, payload: bytes) -> None:
    encoded = encode_base64(payload)
    index = data.draw(st.integers(0, len(encoded)), label="index")
    line_break = data.draw(st.sampled_from(["\n", "\r\n", "\r"]), label="line break")

    with pytest.raises(HeaderError):
        decode_base64(encoded[:index] + line_break + encoded[index:])


@UNITS
@given(data=st.binary(min_size=1, max_size=200).filter(lambda d: len(d) % 3))
def test_base64_refuses_non_zero_unused_bits_in_the_last_character(data: bytes) -> None:
    encoded = encode_base64(data)
    padding = "=" * (-len(encoded) % 4)
    # Every last character a lenient decoder maps to the same bytes: the canonical one, and those
    # that differ only in the bits the last character does not use.
    same_bytes = [
        character
        for character in BASE64_ALPHABET
        if base64.b64decode(encoded[:-1] + character + padding) == data
    ]
    assert len(same_bytes) == (16 if len(data) % 3 == 1 else 4)

    for character in same_bytes:
        candidate = encoded[:-1] + character
        if character == encoded[-1]:
            assert decode_base64(candidate) == data
        else:
            with pytest.raises(HeaderError, match="non-canonical"):
                decode_base64(candidate)


@pytest.mark.parametrize(
    "text",
    ["A", "AAAAA", "AA==", "AAA=", "AA AA", "-_", "AA_A", "AA\x00A", " AAAA", b"AA\xe9A"],
)
def test_base64_refuses_impossible_lengths_and_foreign_characters(text: str | bytes) -> None:
    with pytest.raises(HeaderError):
        decode_base64(text)


def test_base64_refuses_a_non_ascii_string_as_a_header_error() -> None:
    with pytest.raises(HeaderError):
        decode_base64("\u00e9AA")


def test_base64_of_nothing_is_the_empty_string() -> None:
    assert encode_base64(b"") == ""
    assert decode_base64("") == b""


# --- Writing headers ----------------------------------------------------------------------------

FILE_KEY = bytes(range(16))


def _stanza_lines(body_size: int) -> bytes:
    """The bytes `write_header` gives for one stanza with a body of `body_size` bytes."""
    written = write_header([Stanza("t", ("a",), bytes(body_size))], FILE_KEY)
    start = len(b"age-encryption.org/v1\n")
    return written[start : written.index(b"\n---") + 1]


@pytest.mark.parametrize(
    ("body_size", "line_lengths"),
    [
        (0, [0]),
        (1, [2]),
        (47, [63]),
        (48, [64, 0]),  # exactly 64 columns: an empty final line ends the stanza
        (49, [64, 2]),
        (96, [64, 64, 0]),
        (97, [64, 64, 2]),
    ],
)
def test_stanza_bodies_are_written_in_64_column_lines_ended_by_a_short_one(
    body_size: int, line_lengths: list[int]
) -> None:
    lines = _stanza_lines(body_size).split(b"\n")[:-1]

    assert lines[0] == b"-> t a"
    assert [len(line) for line in lines[1:]] == line_lengths


def test_a_body_of_exactly_64_columns_is_followed_by_an_empty_line() -> None:
    body = bytes(range(48))

    written = write_header([Stanza("X25519", ("share",), body)], FILE_KEY)

    expected_stanza = b"-> X25519 share\n" + base64.b64encode(body) + b"\n\n---"
    assert expected_stanza in written
    assert read_header(io.BytesIO(written)).stanzas == (Stanza("X25519", ("share",), body),)


def test_a_body_of_exactly_64_columns_without_its_empty_line_is_refused() -> None:
    written = write_header([Stanza("X25519", ("share",), bytes(48))], FILE_KEY)
    missing_final_line = written.replace(b"\n\n---", b"\n---")

    with pytest.raises(HeaderError):
        read_header(io.BytesIO(missing_final_line))


arguments = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12
)
stanzas = st.builds(
    Stanza,
    type=arguments,
    args=st.lists(arguments, max_size=4).map(tuple),
    body=st.binary(max_size=200),
)


@UNITS
@given(
    written_stanzas=st.lists(stanzas, max_size=5),
    file_key=st.binary(min_size=16, max_size=16),
    payload=st.binary(max_size=50),
)
def test_parsing_a_written_header_gives_back_its_stanzas_and_a_valid_mac(
    written_stanzas: list[Stanza], file_key: bytes, payload: bytes
) -> None:
    written = write_header(written_stanzas, file_key)
    source = io.BytesIO(written + payload)

    header = read_header(source)

    assert header.stanzas == tuple(written_stanzas)
    assert header.mac == header_mac(file_key, header.mac_input)
    assert written == header.mac_input + b" " + encode_base64(header.mac).encode() + b"\n"
    # Writing what was parsed gives the same bytes, and the reader stopped at the payload
    assert write_header(header.stanzas, file_key) == written
    assert source.read() == payload


# --- Mixing recipients --------------------------------------------------------------------------


def _scrypt() -> ScryptRecipient:
    return ScryptRecipient("correct horse", work_factor=4)


RECIPIENT_MIXES: dict[str, Callable[[], list[Recipient]]] = {
    "none": list,
    "scrypt and x25519": lambda: [_scrypt(), X25519_IDENTITY.recipient()],
    "x25519 and scrypt": lambda: [X25519_IDENTITY.recipient(), _scrypt()],
    "scrypt and pq": lambda: [_scrypt(), PQ_IDENTITY.recipient()],
    "two scrypt": lambda: [_scrypt(), _scrypt()],
    "pq and x25519": lambda: [PQ_IDENTITY.recipient(), X25519_IDENTITY.recipient()],
    "x25519, pq and x25519": lambda: [
        X25519_IDENTITY.recipient(),
        PQ_IDENTITY.recipient(),
        generate_identity("x25519").recipient(),
    ],
}


@pytest.mark.parametrize("mix", RECIPIENT_MIXES)
def test_recipients_that_cannot_share_a_file_are_refused_before_anything_is_written(
    mix: str,
) -> None:
    recipients = RECIPIENT_MIXES[mix]()
    source, destination = io.BytesIO(b"secret"), io.BytesIO()

    with pytest.raises(RecipientMixError):
        check_recipients(recipients)
    with pytest.raises(RecipientMixError):
        encrypt(b"secret", recipients)
    with pytest.raises(RecipientMixError):
        encrypt_stream(source, destination, recipients)

    assert destination.getvalue() == b""
    assert source.tell() == 0


@pytest.mark.parametrize(
    "recipients",
    [
        [PQ_IDENTITY.recipient(), generate_identity("pq").recipient()],
        [X25519_IDENTITY.recipient(), generate_identity("x25519").recipient()],
        [_scrypt()],
    ],
    ids=["two pq", "two x25519", "scrypt alone"],
)
def test_recipients_that_may_share_a_file_are_accepted(recipients: list[Recipient]) -> None:
    check_recipients(recipients)

    assert encrypt(b"ok", recipients).startswith(b"age-encryption.org/v1\n")


def test_a_file_whose_scrypt_stanza_is_not_alone_is_refused_as_a_header_error() -> None:
    # Given a file written by hand with an scrypt stanza and an X25519 stanza for one file key
    passphrase = "correct horse"
    file_key, nonce = os.urandom(16), os.urandom(NONCE_SIZE)
    stanzas = [
        *ScryptRecipient(passphrase, work_factor=4).wrap(file_key),
        *X25519_IDENTITY.recipient().wrap(file_key),
    ]
    payload = io.BytesIO()
    encrypt_payload(io.BytesIO(b"mixed"), payload, payload_key(file_key, nonce))
    ciphertext = write_header(stanzas, file_key) + nonce + payload.getvalue()

    # Then neither identity may open it, though each could unwrap its own stanza
    for identity in (ScryptIdentity(passphrase), X25519_IDENTITY):
        assert identity.unwrap(stanzas) == file_key
        with pytest.raises(HeaderError, match="scrypt"):
            decrypt(ciphertext, [identity])


# --- Parsing keys -------------------------------------------------------------------------------


def _secret_parts(text: str) -> list[str]:
    """The given key string and its data part, in both cases: none may appear in an error."""
    data = text[text.rfind("1") + 1 :] if "1" in text else text
    return [part for part in {text, text.lower(), text.upper(), data, data.lower()} if part]


def _everything_the_error_shows(error: BaseException) -> str:
    shown = [str(error), repr(error), *traceback.format_exception(error)]
    cause: BaseException | None = error
    while cause is not None:  # the suppressed context too, which a debugger can still show
        shown += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    return "\n".join(shown)


def _assert_refused_without_quoting(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(KeyFormatError) as raised:
        parse(text)
    shown = _everything_the_error_shows(raised.value)
    for part in _secret_parts(text):
        if len(part) >= 8:  # short fragments like "AGE" would match the message's own words
            assert part not in shown


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age",
        "AGE-SECRET-KEY-1",
        "AGE-SECRET-KEY-PQ-1",
        "not a key at all",
        str(X25519_IDENTITY).lower(),  # identities are upper case only
        str(X25519_IDENTITY)[:-1],  # truncated
        str(X25519_IDENTITY) + "Q",  # extended
        str(PQ_IDENTITY)[:-6] + "QQQQQQ",  # a wrong checksum
        str(PQ_IDENTITY.recipient()),  # a recipient is not an identity
        bech32.encode("AGE-SECRET-KEY-", bytes(33)).upper(),  # wrong length
        bech32.encode("AGE-SECRET-KEY-PQ-", bytes(31)).upper(),
        " " + str(X25519_IDENTITY),
    ],
)
def test_malformed_identities_are_refused_without_being_quoted(text: str) -> None:
    _assert_refused_without_quoting(parse_identity, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age1",
        "age1pq1",
        str(X25519_IDENTITY.recipient()).upper(),  # recipients are lower case only
        str(X25519_IDENTITY.recipient())[:-1],
        str(PQ_IDENTITY.recipient())[:-1],
        str(X25519_IDENTITY),  # an identity is not a recipient
        bech32.encode("age", bytes(31)),  # wrong lengths
        bech32.encode("age1pq", bytes(1215)),
        bech32.encode("age", bytes(1216)),
        bech32.encode("age1pq", b"\xff" * 1184 + bytes(32)),  # not an ML-KEM-768 public key
    ],
)
def test_malformed_recipients_are_refused(text: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_recipient(text)


@each_identity
@UNITS
@given(data=st.data())
def test_any_one_character_change_to_an_identity_is_refused_without_quoting_it(
    identity: HybridIdentity | X25519Identity, data: st.DataObject
) -> None:
    text = str(identity)
    index = data.draw(st.integers(0, len(text) - 1), label="index")
    change = data.draw(st.sampled_from(["replace", "delete", "insert", "lower"]), label="change")
    if change == "replace":
        replacement = data.draw(
            st.sampled_from([c for c in bech32.CHARSET.upper() + "-1" if c != text[index]])
        )
        changed = text[:index] + replacement + text[index + 1 :]
    elif change == "delete":
        changed = text[:index] + text[index + 1 :]
    elif change == "insert":
        changed = text[:index] + data.draw(st.sampled_from(bech32.CHARSET.upper())) + text[index:]
    else:
        letters = [i for i, c in enumerate(text) if c.isalpha()]
        index = data.draw(st.sampled_from(letters), label="letter")
        changed = text[:index] + text[index].lower() + text[index + 1 :]

    _assert_refused_without_quoting(parse_identity, changed)


@UNITS
@given(text=st.text(max_size=100))
def test_any_text_either_parses_or_gives_key_format_error(text: str) -> None:
    for parse in (parse_identity, parse_recipient):
        with contextlib.suppress(KeyFormatError):
            parse(text)


def test_an_identity_file_is_parsed_and_its_bad_lines_are_named_by_number_only() -> None:
    encoded = str(X25519_IDENTITY)
    # Any one changed character breaks the Bech32 checksum; the key is random, so change its last
    # character to one it cannot already be.
    secret = encoded[:-1] + ("Q" if encoded[-1] != "Q" else "P")
    good = f"# comment\n\n{PQ_IDENTITY}\n   {X25519_IDENTITY}  \n"

    parsed = parse_identities(good)

    assert [identity.recipient() for identity in parsed] == [
        PQ_IDENTITY.recipient(),
        X25519_IDENTITY.recipient(),
    ]
    with pytest.raises(KeyFormatError, match="line 3") as raised:
        parse_identities(f"{PQ_IDENTITY}\n# comment\n{secret}\n")
    assert secret not in _everything_the_error_shows(raised.value)
    assert str(PQ_IDENTITY) not in _everything_the_error_shows(raised.value)
    with pytest.raises(KeyFormatError, match="no identities"):
        parse_identities("# only a comment\n\n")


def test_a_recipients_file_is_parsed_and_its_bad_lines_are_named_by_number() -> None:
    good = f"# reviewers\n{PQ_IDENTITY.recipient()}\n\n{generate_identity('pq').recipient()}\n"

    assert parse_recipients(good)[0] == PQ_IDENTITY.recipient()
    assert len(parse_recipients(good)) == 2
    with pytest.raises(KeyFormatError, match="line 2"):
        parse_recipients(f"{PQ_IDENTITY.recipient()}\nage1nonsense\n")
    with pytest.raises(KeyFormatError, match="no recipients"):
        parse_recipients("")


# --- What repr() and str() show -----------------------------------------------------------------


@each_identity
def test_str_of_an_identity_is_its_secret_encoding_and_parses_back(
    identity: HybridIdentity | X25519Identity,
) -> None:
    text = str(identity)

    assert text.startswith("AGE-SECRET-KEY-")
    assert text == text.upper()
    assert parse_identity(text).recipient() == identity.recipient()
    assert str(parse_identity(text)) == text


@each_identity
def test_repr_of_an_identity_names_its_recipient_but_never_its_secret(
    identity: HybridIdentity | X25519Identity,
) -> None:
    shown = [repr(identity), f"{identity!r}", repr([identity]), repr({"key": identity})]
    recipient_prefix = str(identity.recipient())[:20]

    for text in shown:
        assert type(identity).__name__ in text
        assert recipient_prefix in text
        for part in _secret_parts(str(identity)):
            assert part not in text


@each_identity
def test_str_of_a_recipient_is_its_public_encoding_and_repr_identifies_it(
    identity: HybridIdentity | X25519Identity,
) -> None:
    recipient = identity.recipient()
    text = str(recipient)

    assert parse_recipient(text) == recipient
    assert hash(parse_recipient(text)) == hash(recipient)
    assert text.startswith("age1")
    assert repr(recipient).startswith(f"<{type(recipient).__name__} {text[:20]}")
    for part in _secret_parts(str(identity)):
        assert part not in repr(recipient)
        assert part not in text


def test_repr_of_scrypt_recipients_and_identities_never_shows_the_passphrase() -> None:
    passphrase = "correct horse battery staple"

    for thing in (ScryptRecipient(passphrase, work_factor=4), ScryptIdentity(passphrase)):
        for text in (repr(thing), str(thing), repr([thing])):
            assert passphrase not in text
            assert "horse" not in text


# --- The scrypt work factor ceiling -------------------------------------------------------------


def _scrypt_file(work_factor: str) -> bytes:
    """A file whose one scrypt stanza states `work_factor`, as an attacker could write it."""
    file_key = os.urandom(16)
    stanza = Stanza("scrypt", (encode_base64(os.urandom(16)), work_factor), os.urandom(32))
    return write_header([stanza], file_key) + os.urandom(NONCE_SIZE) + os.urandom(16)


class _ScryptSpy:
    """Stands in for cryptography's Scrypt in the scrypt module and records every use."""

    def __init__(self) -> None:
        self.work: list[int] = []

    def __call__(self, *, salt: bytes, length: int, n: int, r: int, p: int) -> _ScryptSpy:
        self.work.append(n)
        return self

    def derive(self, passphrase: bytes) -> bytes:
        return bytes(32)


@pytest.fixture
def scrypt_spy(monkeypatch: pytest.MonkeyPatch) -> _ScryptSpy:
    spy = _ScryptSpy()
    monkeypatch.setattr(scrypt_module, "Scrypt", spy)
    return spy


@pytest.mark.parametrize("work_factor", ["23", "30", "64", "100", "9" * 1000])
def test_a_work_factor_above_22_is_refused_as_a_header_error_before_any_work(
    scrypt_spy: _ScryptSpy, work_factor: str
) -> None:
    with pytest.raises(HeaderError, match="ceiling"):
        decrypt(_scrypt_file(work_factor), [ScryptIdentity("any passphrase")])

    assert scrypt_spy.work == []


def test_a_work_factor_of_22_passes_the_ceiling(scrypt_spy: _ScryptSpy) -> None:
    # The spy derives a wrong key, so the stanza does not open: what matters is that it tried.
    with pytest.raises(NoIdentityMatch):
        decrypt(_scrypt_file("22"), [ScryptIdentity("any passphrase")])

    assert scrypt_spy.work == [2**22]


def test_an_identity_may_set_a_lower_ceiling(scrypt_spy: _ScryptSpy) -> None:
    with pytest.raises(HeaderError, match="ceiling"):
        decrypt(_scrypt_file("11"), [ScryptIdentity("any passphrase", max_work_factor=10)])

    assert scrypt_spy.work == []


def test_a_passphrase_file_round_trips_and_a_wrong_passphrase_gives_no_identity_match() -> None:
    ciphertext = encrypt(b"recovery", [ScryptRecipient("right", work_factor=5)])

    assert decrypt(ciphertext, [ScryptIdentity("right")]) == b"recovery"
    with pytest.raises(NoIdentityMatch):
        decrypt(ciphertext, [ScryptIdentity("wrong")])


@pytest.mark.parametrize("work_factor", [0, 23])
def test_a_recipient_refuses_a_work_factor_outside_1_to_22(work_factor: int) -> None:
    with pytest.raises(ValueError, match="work factor"):
        ScryptRecipient("passphrase", work_factor=work_factor)


# --- Generated identities -----------------------------------------------------------------------


def test_a_generated_pq_identity_has_a_1959_character_age1pq1_recipient() -> None:
    identity = generate_identity("pq")
    recipient = str(identity.recipient())

    assert isinstance(identity, HybridIdentity)
    assert isinstance(identity.recipient(), HybridRecipient)
    assert recipient.startswith("age1pq1")
    assert len(recipient) == 1959
    assert str(identity).startswith("AGE-SECRET-KEY-PQ-1")
    assert parse_identity(str(identity)).recipient() == identity.recipient()
    assert decrypt(encrypt(b"pq", [identity.recipient()]), [identity]) == b"pq"


def test_the_default_identity_is_post_quantum_and_every_one_is_new() -> None:
    first, second = generate_identity(), generate_identity()

    assert isinstance(first, HybridIdentity)
    assert str(first) != str(second)
    assert first.recipient() != second.recipient()


def test_a_generated_x25519_identity_has_a_62_character_age1_recipient() -> None:
    identity = generate_identity("x25519")
    recipient = str(identity.recipient())

    assert isinstance(identity.recipient(), X25519Recipient)
    assert recipient.startswith("age1")
    assert not recipient.startswith("age1pq1")
    assert len(recipient) == 62
    assert str(identity).startswith("AGE-SECRET-KEY-1")


def test_an_unknown_identity_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown identity kind"):
        generate_identity("rsa")  # type: ignore[arg-type]
