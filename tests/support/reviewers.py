"""Review-site accounts for tests: enrolled without the enrolment pages, and their TOTP codes.

Tests of what reviewers do need an account that is already enrolled, made as
`portal users add --enrolled` makes one; the enrolment pages have tests of their own.
"""

from __future__ import annotations

import datetime

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlalchemy.orm import Session

from portal import crypto
from portal.custody import epochs
from portal.custody.epochs import EpochKeys
from portal.custody.host_key import HostKey
from portal.custody.keyrings import Keyring
from portal.models import Reviewer, Role
from portal.services import reviewers


def totp_code(secret: bytes, at: datetime.datetime | float) -> str:
    """The six digits an authenticator app shows at `at`: a Unix time, or a datetime (naive
    ones are UTC, as the review site's clock is). Made with cryptography's TOTP directly,
    not by the portal's code under test."""
    if isinstance(at, datetime.datetime):
        aware = at if at.tzinfo else at.replace(tzinfo=datetime.UTC)
        at = aware.timestamp()
    totp = TOTP(secret, 6, SHA1(), 30)  # noqa: S303 (RFC 6238, as apps do)
    return totp.generate(at).decode()


def epoch_keys_of(
    session: Session, identity: crypto.HybridIdentity, *, today: datetime.date
) -> EpochKeys:
    """The live epochs' keys as the recovery file's holder has them: epoch 1 is started from
    `identity` if there is none yet, as `portal users add` does."""
    epochs.start_first_epoch(session, identity, today=today)
    return epochs.keys_held(session, identity, reviewer_id=None)


def enrolled_reviewer(
    session: Session,
    *,
    username: str,
    role: Role,
    password: str,
    identity: crypto.HybridIdentity,
    policy: reviewers.AccountPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> tuple[Reviewer, bytes]:
    """A new, enrolled account in `session` (not committed: the caller owns the transaction),
    and its TOTP secret, which only the account's own authenticator app would know.

    `identity` is the inspectorate's, as the recovery file holds it: epoch 1 starts from it,
    as `portal users add` does, and the account gets its grants."""
    reviewer, code = reviewers.create_account(
        session,
        username=username,
        role=role,
        epoch_keys=epoch_keys_of(session, identity, today=now.date()),
        policy=policy,
        host_key=host_key,
        now=now,
    )
    keyring = reviewers.open_keyring(reviewer, code, host_key)
    assert keyring is not None, "the new account's keyring did not open with its code"
    reviewers.enrol_without_confirmation(
        reviewer, keyring, password=password, policy=policy, host_key=host_key
    )
    return reviewer, keyring.totp_secret


def inspectorate_keys(session: Session, reviewer: Reviewer, keyring: Keyring) -> list[str]:
    """The inspectorate's identities (as text) the account's keyring opens through its grants:
    what it can read with."""
    if keyring.identity is None:
        return []
    return [
        str(identity)
        for identity in epochs.keys_held(
            session, keyring.identity, reviewer_id=reviewer.id
        ).values()
    ]
