"""Inspectorate key epochs, and the grants that are the only copies of their identities.

Reports are sealed to the current epoch's recipient: the one line of the submission host's
recipients file. An epoch's identity is never stored as such: each reader holds a grant (the
identity, as an age file to the reader's own recipient) and the recovery file's identity holds
one too. So:

- `rotate` makes a new epoch with nothing but public keys: a grant for every reader and for
  the recovery recipient. No password, no passphrase. The previous epoch stays readable.
- revoking a reviewer deletes every grant they held, at once (`revoke_grants`); after the next
  rotation, a copy of their old keyring opens nothing new.
- `retire` destroys an epoch's grants once `portal keys rekey` has moved every ciphertext off it.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.crypto.keys import AnyIdentity
from portal.files import replace_file
from portal.models import EpochGrant, EpochState, KeyEpoch, Reviewer, Role
from portal.recipients import RECIPIENTS_FILE

EpochKeys = Mapping[int, AnyIdentity]
"""The identities of live epochs, by epoch number: what a reader's grants open."""

READING_ROLES = (Role.INSPECTOR, Role.ADMIN)


class EpochError(Exception):
    """The key epochs cannot do what was asked; the message says why and what to do."""


def seal_grant(identity: AnyIdentity, recipient: str) -> bytes:
    """`identity` as an age file to `recipient`."""
    return crypto.encrypt(str(identity).encode("ascii"), [crypto.parse_recipient(recipient)])


def open_grant(sealed: bytes, holder: crypto.Identity) -> AnyIdentity:
    """The identity inside a grant, opened with its holder's identity (crypto.AgeError if not)."""
    return crypto.parse_identity(crypto.decrypt(sealed, [holder]).decode("ascii"))


def current_epoch(session: Session) -> KeyEpoch | None:
    return session.scalar(select(KeyEpoch).where(KeyEpoch.state == EpochState.CURRENT))


def start_first_epoch(session: Session, identity: AnyIdentity, *, today: datetime.date) -> KeyEpoch:
    """Epoch 1 is the identity `portal keys init` made, kept in the recovery file, whose
    recipient the submission host already has: its only grant is to itself (the recovery
    recipient). Does nothing but return it if epochs exist already."""
    existing = session.scalar(select(KeyEpoch).where(KeyEpoch.number == 1))
    if existing is not None:
        return existing
    recipient = str(identity.recipient())
    epoch = KeyEpoch(number=1, recipient=recipient, state=EpochState.CURRENT, created_on=today)
    session.add(epoch)
    session.flush()  # grants refer to it (no relationship tells SQLAlchemy the order)
    session.add(
        EpochGrant(
            epoch_number=1,
            reviewer_id=None,
            recipient=recipient,
            sealed_identity=seal_grant(identity, recipient),
        )
    )
    session.flush()
    return epoch


def keys_held(
    session: Session, holder: crypto.Identity, *, reviewer_id: uuid.UUID | None
) -> dict[int, AnyIdentity]:
    """The live epochs' identities that `holder` opens: a reviewer's grants, or (reviewer_id
    None) the recovery recipient's."""
    holder_is = (
        EpochGrant.reviewer_id.is_(None)
        if reviewer_id is None
        else EpochGrant.reviewer_id == reviewer_id
    )
    grants = session.execute(
        select(EpochGrant.epoch_number, EpochGrant.sealed_identity)
        .join(KeyEpoch)
        .where(holder_is, KeyEpoch.state != EpochState.RETIRED)
        .order_by(EpochGrant.epoch_number)
    )
    return {number: open_grant(sealed, holder) for number, sealed in grants}


def grant(session: Session, reviewer: Reviewer, keys: EpochKeys) -> None:
    """Give `reviewer` a grant of each of `keys` (a reader's; auditors read no report)."""
    if reviewer.recipient is None or reviewer.role not in READING_ROLES:
        return
    for number, identity in keys.items():
        session.add(
            EpochGrant(
                epoch_number=number,
                reviewer_id=reviewer.id,
                recipient=reviewer.recipient,
                sealed_identity=seal_grant(identity, reviewer.recipient),
            )
        )


def grant_missing(session: Session, reviewer: Reviewer, keys: EpochKeys) -> list[int]:
    """Give `reviewer` a grant of each of `keys` it does not hold yet; the epochs granted.

    For an account that moved to an identity of its own after a rotation: it could grant
    itself only the epoch it held, and the later ones must come from someone holding them.
    """
    if reviewer.recipient is None or reviewer.role not in READING_ROLES:
        return []
    held = set(
        session.scalars(
            select(EpochGrant.epoch_number).where(EpochGrant.reviewer_id == reviewer.id)
        )
    )
    missing = {number: identity for number, identity in keys.items() if number not in held}
    grant(session, reviewer, missing)
    return sorted(missing)


def revoke_grants(session: Session, reviewer: Reviewer) -> None:
    """Destroy every grant `reviewer` holds."""
    session.execute(
        delete(EpochGrant).where(EpochGrant.reviewer_id == reviewer.id),
        execution_options={"synchronize_session": False},
    )


def rotate(session: Session, *, today: datetime.date) -> KeyEpoch:
    """A new current epoch, of the same kind as the last, granted to every reader and to the
    recovery recipient; the last becomes previous (still read, until re-keyed)."""
    last = current_epoch(session)
    if last is None:
        raise EpochError(
            "there is no key epoch yet: `portal users add` starts epoch 1 from the recovery file"
        )
    recovery = session.scalar(
        select(EpochGrant.recipient).where(
            EpochGrant.epoch_number == last.number, EpochGrant.reviewer_id.is_(None)
        )
    )
    if recovery is None:
        raise EpochError(f"epoch {last.number} has no grant to the recovery recipient")
    identity = crypto.generate_identity("pq" if last.recipient.startswith("age1pq") else "x25519")
    last.state = EpochState.PREVIOUS
    epoch = KeyEpoch(
        number=last.number + 1,
        recipient=str(identity.recipient()),
        state=EpochState.CURRENT,
        created_on=today,
    )
    session.add(epoch)
    session.flush()
    session.add(
        EpochGrant(
            epoch_number=epoch.number,
            reviewer_id=None,
            recipient=recovery,
            sealed_identity=seal_grant(identity, recovery),
        )
    )
    readers = session.scalars(
        select(Reviewer).where(
            Reviewer.revoked_at.is_(None),
            Reviewer.recipient.is_not(None),
            Reviewer.role.in_(READING_ROLES),
        )
    )
    for reader in readers:
        grant(session, reader, {epoch.number: identity})
    session.flush()
    return epoch


def write_recipients_file(keys_dir: Path, epoch: KeyEpoch) -> Path:
    """The keys folder's recipients file, naming `epoch`'s recipient: what the submission host
    needs, and all it needs, to seal new reports to that epoch."""
    path = keys_dir / RECIPIENTS_FILE
    text = "\n".join(
        [
            f"# The inspectorate's key, epoch {epoch.number}, made {epoch.created_on}.",
            "# Every report is encrypted to each recipient listed in this file.",
            epoch.recipient,
            "",
        ]
    )
    replace_file(path, text.encode("ascii"), 0o644)
    return path


def retire(session: Session, epoch: KeyEpoch) -> None:
    """Destroy every grant of `epoch` (nothing is sealed to it any more)."""
    if epoch.state is EpochState.CURRENT:
        raise EpochError("the current epoch cannot be retired: rotate first")
    session.execute(
        delete(EpochGrant).where(EpochGrant.epoch_number == epoch.number),
        execution_options={"synchronize_session": False},
    )
    epoch.state = EpochState.RETIRED
