"""Time-based one-time passwords (RFC 6238): the reviewers' mandatory second factor.

SHA-1, six digits and 30-second steps: the one combination every authenticator app supports
(several ignore the algorithm, digits and period of a provisioning URI and use these anyway).
HMAC-SHA-1 is still sound here: SHA-1's known weakness is collisions, which HMAC does not rely on.

A code is accepted for the current step and one step either side, so a phone clock up to about
30 seconds out, and the time taken to type, still work. The caller keeps the step `verify`
returns (`Reviewer.last_totp_step`) and passes it back next time: a code is accepted once only,
and never one older than the last accepted, so a code seen over a shoulder or copied from a
log cannot be used again within its window.

What must stay secret: the secret, and its text and URI forms (they are the same thing).
"""

from __future__ import annotations

import base64
import secrets
import unicodedata
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
# Steps accepted either side of the current one (RFC 6238 section 5.2 recommends at most one).
DRIFT_STEPS = 1
# 160 bits, as RFC 4226 section 4 recommends: the size of an HMAC-SHA-1 output.
SECRET_BYTES = 20
# Longer input is refused before any work: six digits with generous spacing fit well inside.
_MAX_TYPED = 32


def new_secret() -> bytes:
    """A fresh TOTP secret from the operating system's CSPRNG."""
    return secrets.token_bytes(SECRET_BYTES)


def secret_text(secret: bytes) -> str:
    """The secret as authenticator apps take it typed in: base32, no padding, in groups of 4.

    Apps ignore the spaces; the groups only make 32 characters easier to copy without a slip.
    """
    text = base64.b32encode(secret).decode("ascii").rstrip("=")
    return " ".join(text[start : start + 4] for start in range(0, len(text), 4))


def provisioning_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The otpauth:// URI (Google's Key URI Format) an authenticator app reads from a QR code.

    The issuer goes both in the label (older apps read only that) and as a parameter (the
    format's recommendation). Both are percent-encoded with nothing left safe, spaces as %20
    (some apps show a literal "+"). Raises ValueError for an empty issuer or account, or one
    containing a colon, which the format reserves to separate the two.
    """
    for what, value in (("account", account), ("issuer", issuer)):
        if not value or ":" in value:
            raise ValueError(f"the TOTP {what} must be non-empty and contain no colon")
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = urlencode(
        [
            ("secret", base64.b32encode(secret).decode("ascii").rstrip("=")),
            ("issuer", issuer),
            ("algorithm", "SHA1"),
            ("digits", str(DIGITS)),
            ("period", str(STEP_SECONDS)),
        ],
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def verify(secret: bytes, code: str, *, now: float, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step`; else None.

    `now` is Unix time (the caller's clock, so tests can set it). `code` may be typed with
    spaces, or in full-width digits; anything else but six digits is refused. Steps at or before
    `last_step` are never tried, so a code is accepted once only. Each candidate is compared in
    constant time (cryptography's `TOTP.verify`), and every candidate is tried whatever the
    outcome, so the time taken does not say which step matched.
    """
    typed = _typed_digits(code)
    if typed is None:
        return None
    totp = TOTP(secret, DIGITS, SHA1(), STEP_SECONDS)  # noqa: S303 - in HMAC: see module docstring
    current = int(now // STEP_SECONDS)
    matched = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step < 0 or (last_step is not None and step <= last_step):
            continue
        try:
            totp.verify(typed, step * STEP_SECONDS)
        except InvalidToken:
            continue
        matched = step
    return matched


def _typed_digits(code: str) -> bytes | None:
    """The six ASCII digits of a typed code, or None if it is not one."""
    if len(code) > _MAX_TYPED:
        return None
    digits = "".join(unicodedata.normalize("NFKC", code).split())
    if len(digits) != DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return digits.encode("ascii")
