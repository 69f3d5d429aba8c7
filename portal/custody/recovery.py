"""Creating the inspectorate's identity, and keeping it: never written in the clear.

`portal keys init` calls `create_keys`: the public recipient goes to the keys folder for the
submission site, and the identity goes only into a recovery file encrypted (age, scrypt) under a
passphrase of random words that is shown once. The submission site never imports this module.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from portal import crypto
from portal.crypto.keys import AnyIdentity
from portal.crypto.scrypt import DEFAULT_WORK_FACTOR
from portal.files import write_new_file
from portal.recipients import RECIPIENTS_FILE
from portal.wordlist import random_words

RECOVERY_FILE = "recovery.age"
RECOVERY_PASSPHRASE_WORDS = 10  # about 129 bits
MIN_PASSPHRASE_LENGTH = 20
DEVELOPMENT_WARNING = "DEVELOPMENT KEY made by `make run`: never use it for real reports"


class CustodyError(Exception):
    """Keys cannot be created or recovered as asked; the message says why."""


@dataclass(frozen=True)
class CreatedKeys:
    identity: AnyIdentity
    recipients_path: Path
    recovery_path: Path


def new_recovery_passphrase() -> str:
    return " ".join(random_words(RECOVERY_PASSPHRASE_WORDS))


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise CustodyError(
            f"the recovery passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters"
        )


def create_keys(
    keys_dir: Path,
    passphrase: str,
    *,
    kind: Literal["pq", "x25519"] = "pq",
    recovery_path: Path | None = None,
    development: bool = False,
    work_factor: int = DEFAULT_WORK_FACTOR,
) -> CreatedKeys:
    """Create the identity; write its recipient and its passphrase-encrypted recovery file.

    Refuses to overwrite either file: replacing the identity would make every stored report
    unreadable.
    """
    check_passphrase(passphrase)
    recipients_path = keys_dir / RECIPIENTS_FILE
    recovery_path = recovery_path or keys_dir / RECOVERY_FILE
    for path in (recipients_path, recovery_path):
        if path.exists():
            raise CustodyError(f"{path} already exists: keys are never replaced in place")
    keys_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    identity = crypto.generate_identity(kind)
    recipient = identity.recipient()
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    notes = [f"# {DEVELOPMENT_WARNING}"] if development else []

    recovery = crypto.armor(
        crypto.encrypt(
            "\n".join(
                [*notes, f"# created {today}", f"# recipient: {recipient}", str(identity)]
            ).encode("ascii"),
            [crypto.ScryptRecipient(passphrase, work_factor=work_factor)],
        )
    )
    # The recovery file is written, and proven to open, before the recipient is published:
    # a recipient whose identity could be lost would swallow every report sent to it.
    write_new_file(recovery_path, recovery, 0o600)
    if recover_identity(recovery_path, passphrase).recipient() != recipient:
        raise CustodyError(f"{recovery_path} did not give back the identity just written")
    kind_name = "post-quantum" if kind == "pq" else "X25519"
    recipients_text = "\n".join(
        [
            *notes,
            f"# The inspectorate's {kind_name} public key, created {today}.",
            "# Every report is encrypted to each recipient listed in this file.",
            str(recipient),
            "",
        ]
    )
    write_new_file(recipients_path, recipients_text.encode("ascii"), 0o644)
    return CreatedKeys(identity, recipients_path, recovery_path)


def recover_identity(recovery_path: Path, passphrase: str) -> AnyIdentity:
    """The identity kept in a recovery file, decrypted with its passphrase."""
    try:
        ciphertext = recovery_path.read_bytes()
    except FileNotFoundError:
        raise CustodyError(f"{recovery_path} does not exist") from None
    try:
        (identity,) = crypto.parse_identities(
            crypto.decrypt(ciphertext, [crypto.ScryptIdentity(passphrase)]).decode("ascii")
        )
    except crypto.NoIdentityMatch:
        raise CustodyError("the passphrase does not open this recovery file") from None
    except (crypto.AgeError, UnicodeDecodeError, ValueError):
        raise CustodyError(f"{recovery_path} is not a valid recovery file") from None
    return identity
