"""TOTP: RFC 6238's test vectors, the drift window, one use per code, and what may be typed."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from portal.accounts import totp

# RFC 6238 Appendix B: the SHA-1 seed is the 20 ASCII bytes "12345678901234567890".
RFC_SECRET = b"12345678901234567890"
# (Unix time, 8-digit TOTP) for SHA-1, from the table in RFC 6238 Appendix B.
RFC_SHA1_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
NOW = 1_700_000_000.0  # 2023-11-14, an arbitrary present
SECRET = bytes(range(20))


def generate(secret: bytes, when: float, *, digits: int = 6) -> str:
    """The code an authenticator app shows at `when`: SHA-1, 30-second steps, made with
    cryptography's TOTP directly rather than by the module under test."""
    return TOTP(secret, digits, SHA1(), 30).generate(when).decode("ascii")  # noqa: S303 - RFC 6238


def code_at(secret: bytes, when: float) -> str:
    return generate(secret, when)


def step_of(when: float) -> int:
    return int(when // 30)


# --- RFC 6238 ------------------------------------------------------------------------------


@pytest.mark.parametrize("when, expected", RFC_SHA1_VECTORS)
def test_rfc_6238_sha1_vectors_with_8_digits(when: int, expected: str) -> None:
    # Given the RFC's seed, SHA-1 and 30-second steps, at 8 digits as the RFC's table lists
    # Then cryptography's TOTP gives the RFC's values (the parameters are the RFC's)
    assert totp.STEP_SECONDS == 30
    assert generate(RFC_SECRET, when, digits=8) == expected


@pytest.mark.parametrize("when, expected", RFC_SHA1_VECTORS)
def test_rfc_6238_sha1_vectors_verify_as_6_digit_codes(when: int, expected: str) -> None:
    # Given the RFC's value cut to its last 6 digits: the same HOTP value mod 10^6 instead of 10^8
    code = expected[-6:]

    # When it is checked at the RFC's time
    # Then it is accepted, for the step that time falls in
    assert totp.verify(RFC_SECRET, code, now=when, last_step=None) == when // 30


@pytest.mark.parametrize("when, expected", RFC_SHA1_VECTORS)
def test_rfc_6238_sha1_vectors_with_a_wrong_digit_are_refused(when: int, expected: str) -> None:
    wrong = expected[-6:-1] + str((int(expected[-1]) + 1) % 10)
    assert totp.verify(RFC_SECRET, wrong, now=when, last_step=None) is None


# --- the drift window and one use per code -------------------------------------------------


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_a_code_from_the_current_step_or_one_either_side_is_accepted(offset: int) -> None:
    # Given the code of the step `offset` steps from now (a phone clock up to 30 s out)
    code = code_at(SECRET, NOW + offset * 30)

    # Then it is accepted, and the step it belongs to is returned
    assert totp.verify(SECRET, code, now=NOW, last_step=None) == step_of(NOW) + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_a_code_two_or_more_steps_away_is_refused(offset: int) -> None:
    # Given the code of a step further away than the drift window
    code = code_at(SECRET, NOW + offset * 30)
    # (and not by chance also the code of a step inside the window)
    assert code not in {code_at(SECRET, NOW + near * 30) for near in (-1, 0, 1)}

    # Then it is refused
    assert totp.verify(SECRET, code, now=NOW, last_step=None) is None


def test_the_window_follows_step_boundaries_not_seconds() -> None:
    # Given the last second of a step and the first of the next
    end_of_step = step_of(NOW) * 30 + 29.999
    # Then the code of the step after the next is refused at the first and accepted at the second
    code = code_at(SECRET, end_of_step + 60)
    assert totp.verify(SECRET, code, now=end_of_step, last_step=None) is None
    assert totp.verify(SECRET, code, now=end_of_step + 0.001, last_step=None) is not None


def test_a_code_is_accepted_once_only() -> None:
    # Given a code accepted a moment ago
    code = code_at(SECRET, NOW)
    step = totp.verify(SECRET, code, now=NOW, last_step=None)
    assert step == step_of(NOW)

    # When the same code is typed again, in the same step or the next (still inside the window)
    # Then it is refused
    assert totp.verify(SECRET, code, now=NOW, last_step=step) is None
    assert totp.verify(SECRET, code, now=NOW + 30, last_step=step) is None


def test_an_older_code_is_refused_after_a_newer_one() -> None:
    # Given the code of the next step (a phone clock ahead) was accepted
    newer = totp.verify(SECRET, code_at(SECRET, NOW + 30), now=NOW, last_step=None)
    assert newer == step_of(NOW) + 1

    # When the current or previous step's code is typed, both still inside the window
    # Then it is refused: it may be one an onlooker saw earlier
    for older in (NOW, NOW - 30):
        assert totp.verify(SECRET, code_at(SECRET, older), now=NOW, last_step=newer) is None


def test_a_newer_code_is_accepted_after_an_older_one() -> None:
    # Given the previous step's code was accepted
    older = totp.verify(SECRET, code_at(SECRET, NOW - 30), now=NOW, last_step=None)
    assert older == step_of(NOW) - 1

    # Then the current and next steps' codes are still accepted, each newer than the last
    current = totp.verify(SECRET, code_at(SECRET, NOW), now=NOW, last_step=older)
    assert current == step_of(NOW)
    assert totp.verify(SECRET, code_at(SECRET, NOW + 30), now=NOW, last_step=current) == (
        step_of(NOW) + 1
    )


def test_a_code_from_another_secret_is_refused() -> None:
    other = bytes(reversed(SECRET))
    code = code_at(other, NOW)
    assert code not in {code_at(SECRET, NOW + near * 30) for near in (-1, 0, 1)}
    assert totp.verify(SECRET, code, now=NOW, last_step=None) is None


def test_the_first_steps_of_the_epoch_do_not_break_the_window() -> None:
    # Given a time in step 0, whose "previous step" would be negative
    # Then step 0's code is accepted and nothing fails
    assert totp.verify(SECRET, code_at(SECRET, 10), now=10, last_step=None) == 0


# --- what may be typed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "typing",
    [
        "{a}{b}",
        "{a} {b}",
        " {a} {b} ",
        "{a}\t{b}\n",
        "{spaced}",  # "1 2 3 4 5 6"
        "{a}\u00a0{b}",  # a no-break space, as pasted from some apps
        "{full}",  # full-width digits, from some phone keyboards
    ],
)
def test_a_code_typed_with_spaces_is_accepted(typing: str) -> None:
    code = code_at(SECRET, NOW)
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in code)
    typed = typing.format(a=code[:3], b=code[3:], full=full_width, spaced=" ".join(code))

    assert totp.verify(SECRET, typed, now=NOW, last_step=None) == step_of(NOW)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "      ",
        "12345",
        "1234567",
        "12345678",  # an 8-digit code is not accepted even if its last six match
        "abcdef",
        "12345a",
        "12-345",
        "123-456",
        "+12345",
        "-12345",
        "١٢٣٤٥٦",  # Arabic-Indic digits: digits, but not ASCII ones
        "123456" + " " * 40,  # too long to consider
    ],
)
def test_anything_but_six_digits_is_refused(typed: str) -> None:
    assert totp.verify(SECRET, typed, now=NOW, last_step=None) is None


def test_the_right_code_with_a_letter_in_it_is_refused() -> None:
    code = code_at(SECRET, NOW)
    assert totp.verify(SECRET, code[:5] + "O", now=NOW, last_step=None) is None
    assert totp.verify(SECRET, "O" + code[1:], now=NOW, last_step=None) is None
    assert totp.verify(SECRET, code + "x", now=NOW, last_step=None) is None


def test_the_8_digit_form_of_a_valid_code_is_refused() -> None:
    # Given the 8-digit code for now, whose last six digits are the 6-digit code
    eight = generate(SECRET, NOW, digits=8)
    assert eight[-6:] == code_at(SECRET, NOW)

    # Then only the six digits are accepted
    assert totp.verify(SECRET, eight, now=NOW, last_step=None) is None


# --- secrets and provisioning --------------------------------------------------------------


def test_a_new_secret_is_20_random_bytes() -> None:
    secrets = {totp.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert {len(secret) for secret in secrets} == {20}


def test_the_secret_text_is_unpadded_base32_in_groups_of_four() -> None:
    # Given the RFC's seed
    text = totp.secret_text(RFC_SECRET)

    # Then it reads as 8 groups of 4 base32 characters, which decode to the seed
    assert text == "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
    assert base64.b32decode(text.replace(" ", "")) == RFC_SECRET
    assert "=" not in totp.secret_text(b"\x00" * 16)
    assert totp.secret_text(b"\x00" * 16) == "AAAA AAAA AAAA AAAA AAAA AAAA AA"


def test_the_provisioning_uri_has_the_key_uri_format() -> None:
    uri = totp.provisioning_uri(RFC_SECRET, account="jsmith", issuer="HMI Probation")

    assert uri == (
        "otpauth://totp/HMI%20Probation:jsmith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        "&issuer=HMI%20Probation&algorithm=SHA1&digits=6&period=30"
    )


def test_the_provisioning_uri_escapes_the_issuer_and_account() -> None:
    # Given an issuer and an account with characters that mean something in a URI
    issuer = "HM Inspectorate of Probation & Youth/Justice?#%+"
    account = "j.smith@example.org/reviewer+1 ü?&="

    # When the URI is made
    uri = totp.provisioning_uri(SECRET, account=account, issuer=issuer)
    parts = urlsplit(uri)

    # Then the label and query come apart at the right places, and decode to what went in
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert parts.fragment == ""
    label = parts.path.removeprefix("/")
    assert "/" not in label
    assert label.count(":") == 1
    label_issuer, label_account = label.split(":")
    assert (unquote(label_issuer), unquote(label_account)) == (issuer, account)
    query = parse_qs(parts.query, strict_parsing=True)
    assert query["issuer"] == [issuer]
    assert query["secret"] == [base64.b32encode(SECRET).decode().rstrip("=")]
    assert " " not in uri
    assert "+" not in uri  # spaces as %20: some apps show a literal "+"


@pytest.mark.parametrize(
    "account, issuer", [("", "HMI Probation"), ("jsmith", ""), ("j:smith", "HMI"), ("j", "H:MI")]
)
def test_an_empty_issuer_or_account_or_one_with_a_colon_is_refused(
    account: str, issuer: str
) -> None:
    with pytest.raises(ValueError, match="colon"):
        totp.provisioning_uri(SECRET, account=account, issuer=issuer)
