"""The keys folder, as the submission site sees it: public recipients and nothing else."""

from __future__ import annotations

from pathlib import Path

RECIPIENTS_FILE = "recipients.txt"
_RECIPIENT_PREFIX = "age1"
_IDENTITY_PREFIX = "AGE-SECRET-KEY-"


class KeysError(Exception):
    """The keys folder cannot be used; the message says what to do, and never quotes a key."""


class RecipientsMissing(KeysError):
    """No recipients file, or one with no recipients in it."""


class IdentityInRecipientsFile(KeysError):
    """A secret key was found where only public recipients belong."""


def read_recipients(keys_dir: Path) -> tuple[str, ...]:
    """The recipient strings in the keys folder's recipients file, comments and blanks dropped."""
    path = keys_dir / RECIPIENTS_FILE
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise RecipientsMissing(f"{path} does not exist: run `portal keys init`") from None
    except UnicodeDecodeError:
        raise KeysError(f"{path} is not an age recipients file (it is not ASCII)") from None
    recipients = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.upper().startswith(_IDENTITY_PREFIX):
            raise IdentityInRecipientsFile(
                f"{path} line {number} is a secret key: remove it and move the key to safety"
            )
        if not entry.startswith(_RECIPIENT_PREFIX):
            raise KeysError(f"{path} line {number} is not an age recipient")
        recipients.append(entry)
    if not recipients:
        raise RecipientsMissing(f"{path} lists no recipients: run `portal keys init`")
    return tuple(recipients)
