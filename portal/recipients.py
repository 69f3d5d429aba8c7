"""The recipients file in the keys folder: the public keys every report is encrypted to.

Both sites read it. This module never touches identity material; creating keys lives in
`portal.custody`, which the submission site does not import.
"""

from __future__ import annotations

from pathlib import Path

from portal import crypto
from portal.crypto.keys import AnyRecipient

RECIPIENTS_FILE = "recipients.txt"
_IDENTITY_PREFIX = "AGE-SECRET-KEY-"


class KeysError(Exception):
    """The keys folder cannot be used; the message says what to do, and never quotes a key."""


class RecipientsMissing(KeysError):
    """No recipients file, or one with no recipients in it."""


class IdentityInRecipientsFile(KeysError):
    """A secret key was found where only public recipients belong."""


def read_recipients(keys_dir: Path) -> tuple[AnyRecipient, ...]:
    """The recipients in the keys folder's recipients file, parsed and checked to go together."""
    path = keys_dir / RECIPIENTS_FILE
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise RecipientsMissing(f"{path} does not exist: run `portal keys init`") from None
    except UnicodeDecodeError:
        raise KeysError(f"{path} is not an age recipients file (it is not ASCII)") from None
    entries = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not entries:
        raise RecipientsMissing(f"{path} lists no recipients: run `portal keys init`")
    for number, entry in entries:
        if entry.upper().startswith(_IDENTITY_PREFIX):
            raise IdentityInRecipientsFile(
                f"{path} line {number} is a secret key: remove it and move the key to safety"
            )
    try:
        recipients = crypto.parse_recipients(text)
        crypto.check_recipients(recipients)
    except crypto.AgeError as error:
        raise KeysError(f"{path}: {error}") from None
    return tuple(recipients)
