"""Reviewer accounts: creating, enrolling, changing passwords, revoking (DESIGN decision 3).

Each account has a keyring (`portal.custody.keyrings`): its TOTP secret and, unless it is an
auditor's, the inspectorate's identity, encrypted first under a one-time enrolment code that an
administrator hands over, then, once the reviewer enrols, under their password. Revoking an
account deletes its keyring and sessions; changing a password re-wraps the keyring. Nothing
here commits: the view or command that performs the action records it and finishes.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.accounts import passwords, totp
from portal.costs import PasswordCost
from portal.custody import epochs
from portal.custody.epochs import EpochKeys
from portal.custody.host_key import HostKey
from portal.custody.keyrings import Keyring, seal_totp_secret, unwrap_keyring, wrap_keyring
from portal.models import Reviewer, ReviewSession, Role
from portal.wordlist import random_words

ENROLMENT_CODE_WORDS = 6  # about 77 bits, for a code that works once and expires
ENROLMENT_VALIDITY = datetime.timedelta(days=7)
CUSTODY_VERSION = 2
"""Accounts at a lower version are moved on when their owner next signs in or enrols."""
_PEPPER_PURPOSE = "password-pepper"


class AccountError(Exception):
    """An account operation cannot be done; the message can be shown to the person asking."""


class UsernameTaken(AccountError):
    pass


class EnrolmentRefused(AccountError):
    """The username and enrolment code do not match an account waiting to enrol."""


class WrongTotpCode(AccountError):
    pass


@dataclass(frozen=True)
class AccountPolicy:
    """Costs and limits for accounts; tests lower the costs."""

    password_cost: PasswordCost = field(default_factory=PasswordCost)
    keyring_work_factor: int = 16


def password_pepper(host_key: HostKey) -> bytes:
    """Argon2's secret input for password and enrolment-code hashes (custody version 2)."""
    return host_key.subkey(_PEPPER_PURPOSE)


def create_account(
    session: Session,
    *,
    username: str,
    role: Role,
    epoch_keys: EpochKeys,
    policy: AccountPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> tuple[Reviewer, str]:
    """A new account waiting to enrol, and its one-time enrolment code (shown once).

    A reader (inspector, administrator) gets an identity of its own, in its keyring, and a grant
    of each of `epoch_keys` (the live epochs' identities, from the administrator's own grants or
    the recovery file) to that identity's recipient. An auditor gets neither. Does not commit.
    """
    username = username.strip().lower()
    if session.scalar(select(Reviewer.id).where(Reviewer.username == username)):
        raise UsernameTaken(f"the username {username!r} is taken")
    code = " ".join(random_words(ENROLMENT_CODE_WORDS))
    reviewer_id = uuid.uuid4()
    own = None if role not in epochs.READING_ROLES else crypto.generate_identity("pq")
    keyring = Keyring(totp_secret=totp.new_secret(), identity=own)
    reviewer = Reviewer(
        id=reviewer_id,
        username=username,
        role=role,
        recipient=str(own.recipient()) if own else None,
        keyring=wrap_keyring(
            keyring,
            code,
            work_factor=policy.keyring_work_factor,
            host_key=host_key,
            reviewer_id=reviewer_id,
        ),
        totp_sealed=seal_totp_secret(
            keyring.totp_secret, host_key=host_key, reviewer_id=reviewer_id
        ),
        custody_version=CUSTODY_VERSION,
        enrolment_hash=passwords.hash_password(
            code, policy.password_cost, pepper=password_pepper(host_key)
        ),
        enrolment_expires_at=now + ENROLMENT_VALIDITY,
        failed_sign_ins=0,
        created_at=now,
    )
    session.add(reviewer)
    session.flush()
    epochs.grant(session, reviewer, epoch_keys)
    return reviewer, code


def open_enrolment(
    session: Session,
    *,
    username: str,
    code: str,
    policy: AccountPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> tuple[Reviewer, Keyring]:
    """The account and keyring an enrolment code opens; EnrolmentRefused otherwise.

    The code works once: it opens nothing more once a session has started with it (whoever saw
    it cannot open a second enrolling session and take the account later). An account whose
    enrolment was abandoned is revoked and made again.
    """
    reviewer = session.scalar(
        select(Reviewer).where(Reviewer.username == username.strip().lower()).with_for_update()
    )
    pepper = password_pepper(host_key)
    if (
        reviewer is None
        or reviewer.enrolment_hash is None
        or reviewer.keyring is None
        or reviewer.revoked_at is not None
    ):
        passwords.dummy_verify(policy.password_cost, pepper=pepper)
        raise EnrolmentRefused("that username and enrolment code do not match")
    normalised = " ".join(code.lower().split())
    legacy = reviewer.custody_version < CUSTODY_VERSION
    if not passwords.verify_password(
        normalised, reviewer.enrolment_hash, pepper=None if legacy else pepper
    ) or (reviewer.enrolment_expires_at is not None and reviewer.enrolment_expires_at < now):
        raise EnrolmentRefused("that username and enrolment code do not match, or it has expired")
    keyring = open_keyring(reviewer, normalised, host_key)
    if keyring is None:
        raise EnrolmentRefused("that username and enrolment code do not match")
    reviewer.enrolment_hash = None
    reviewer.enrolment_expires_at = None
    end_sessions(session, reviewer)
    return reviewer, keyring


def finish_enrolment(
    session: Session,
    reviewer: Reviewer,
    keyring: Keyring,
    *,
    password: str,
    totp_code: str,
    policy: AccountPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> None:
    """Wrap the keyring under the new password once the authenticator's code proves set-up.

    Ends every session of the account (the enrolling one included): the caller opens a new one.
    """
    passwords.check_new_password(password, username=reviewer.username)
    step = totp.verify(
        keyring.totp_secret,
        totp_code,
        now=now.replace(tzinfo=datetime.UTC).timestamp(),
        last_step=reviewer.last_totp_step,
    )
    if step is None:
        raise WrongTotpCode("that code is not the one your authenticator app shows now")
    reviewer.last_totp_step = step
    keyring = own_identity(session, reviewer, keyring, today=now.date())
    set_password(reviewer, keyring, password, policy=policy, host_key=host_key)
    end_sessions(session, reviewer)


def enrol_without_confirmation(
    reviewer: Reviewer,
    keyring: Keyring,
    *,
    password: str,
    policy: AccountPolicy,
    host_key: HostKey,
) -> None:
    """Enrol with a password chosen for the reviewer, skipping the proof that their app works.

    For the command line only (`portal users add --enrolled`: the first account of a
    development portal, or automation), which prints the TOTP key for the person to add.
    """
    passwords.check_new_password(password, username=reviewer.username)
    set_password(reviewer, keyring, password, policy=policy, host_key=host_key)


def set_password(
    reviewer: Reviewer,
    keyring: Keyring,
    password: str,
    *,
    policy: AccountPolicy,
    host_key: HostKey,
) -> None:
    """Keep `keyring` under `password`, at custody version 2: the keyring sealed under the
    review-host key too, the TOTP secret sealed beside it, the password's hash keyed by it.
    Also what moves a version 1 account on, the first time its password is at hand."""
    reviewer.password_hash = passwords.hash_password(
        password, policy.password_cost, pepper=password_pepper(host_key)
    )
    reviewer.keyring = wrap_keyring(
        keyring,
        password,
        work_factor=policy.keyring_work_factor,
        host_key=host_key,
        reviewer_id=reviewer.id,
    )
    reviewer.totp_sealed = seal_totp_secret(
        keyring.totp_secret, host_key=host_key, reviewer_id=reviewer.id
    )
    reviewer.custody_version = CUSTODY_VERSION
    reviewer.enrolment_hash = None
    reviewer.enrolment_expires_at = None


def change_password(
    session: Session,
    reviewer: Reviewer,
    *,
    current: str,
    new: str,
    policy: AccountPolicy,
    host_key: HostKey,
    keep_session: bytes | None = None,
) -> None:
    """Re-wrap the keyring under a new password; AccountError if `current` is wrong.

    Ends every other session of the account: whoever else was signed in with the old password
    is signed out. The session `keep_session` (the one asking) stays.
    """
    if reviewer.password_hash is None or reviewer.keyring is None:
        raise AccountError("this account is not enrolled")
    legacy = reviewer.custody_version < CUSTODY_VERSION
    pepper = None if legacy else password_pepper(host_key)
    if not passwords.verify_password(current, reviewer.password_hash, pepper=pepper):
        raise AccountError("the current password is not right")
    keyring = open_keyring(reviewer, current, host_key)
    if keyring is None:
        raise AccountError("the current password does not open this account's keys")
    passwords.check_new_password(new, username=reviewer.username)
    set_password(reviewer, keyring, new, policy=policy, host_key=host_key)
    end_sessions(session, reviewer, keep=keep_session)


def open_keyring(reviewer: Reviewer, secret: str, host_key: HostKey) -> Keyring | None:
    """The account's keyring opened with its password (or enrolment code), at either custody
    version; None if the secret does not open it."""
    if reviewer.keyring is None:
        return None
    if reviewer.custody_version < CUSTODY_VERSION:
        return Keyring.unwrapped(reviewer.keyring, secret)
    return unwrap_keyring(reviewer.keyring, secret, host_key=host_key, reviewer_id=reviewer.id)


def own_identity(
    session: Session, reviewer: Reviewer, keyring: Keyring, *, today: datetime.date
) -> Keyring:
    """The keyring with an identity of the reviewer's own, moving an account that still holds
    the inspectorate's identity itself (as every account did before key epochs) on to a grant.

    The identity held is epoch 1's (the only one there was); the first account to move starts
    epoch 1 from it. The caller re-wraps the returned keyring under the password.
    """
    held = keyring.identity
    if reviewer.recipient is not None or held is None:
        return keyring
    epoch = epochs.start_first_epoch(session, held, today=today)
    if epoch.recipient != str(held.recipient()):
        raise AccountError("this account's key is not epoch 1's: an administrator must re-enrol it")
    own = crypto.generate_identity("pq")
    reviewer.recipient = str(own.recipient())
    epochs.grant(session, reviewer, {epoch.number: held})
    return Keyring(totp_secret=keyring.totp_secret, identity=own)


def end_sessions(session: Session, reviewer: Reviewer, *, keep: bytes | None = None) -> None:
    """Delete every review session of the account but `keep`: any change to an account ends
    them, so a session opened before the change cannot outlive it."""
    statement = delete(ReviewSession).where(ReviewSession.reviewer_id == reviewer.id)
    if keep is not None:
        statement = statement.where(ReviewSession.id != keep)
    session.execute(statement, execution_options={"synchronize_session": False})


def revoke(session: Session, reviewer: Reviewer, *, now: datetime.datetime) -> None:
    """Delete the account's keyring, password and every session of it. Does not commit."""
    reviewer.keyring = None
    reviewer.totp_sealed = None
    reviewer.password_hash = None
    reviewer.enrolment_hash = None
    reviewer.enrolment_expires_at = None
    reviewer.revoked_at = now
    end_sessions(session, reviewer)
    epochs.revoke_grants(session, reviewer)


def assignable_accounts(session: Session) -> list[Reviewer]:
    """Accounts that may hold a report: active inspectors and administrators."""
    return [
        reviewer
        for reviewer in session.scalars(
            select(Reviewer).where(Reviewer.revoked_at.is_(None)).order_by(Reviewer.username)
        )
        if reviewer.active and reviewer.role in {Role.INSPECTOR, Role.ADMIN}
    ]
