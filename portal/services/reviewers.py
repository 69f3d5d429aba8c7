"""Reviewer accounts: creating, enrolling, changing passwords, revoking (DESIGN decision 3).

Each account has a keyring (`portal.custody.keyrings`): its TOTP secret and, unless it is an
auditor's, the inspectorate's identity, encrypted first under a one-time enrolment code that an
administrator hands over, then, once the reviewer enrols, under their password. Revoking an
account deletes its keyring and sessions; changing a password re-wraps the keyring. Nothing
here commits: the view or command that performs the action records it and finishes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.accounts import passwords, totp
from portal.costs import PasswordCost
from portal.crypto.keys import AnyIdentity
from portal.custody.keyrings import Keyring
from portal.models import Reviewer, ReviewSession, Role
from portal.wordlist import random_words

ENROLMENT_CODE_WORDS = 6  # about 77 bits, for a code that works once and expires
ENROLMENT_VALIDITY = datetime.timedelta(days=7)


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


def create_account(
    session: Session,
    *,
    username: str,
    role: Role,
    identity: AnyIdentity,
    policy: AccountPolicy,
    now: datetime.datetime,
) -> tuple[Reviewer, str]:
    """A new account waiting to enrol, and its one-time enrolment code (shown once).

    `identity` is the inspectorate's, from the administrator's own keyring or the recovery file;
    an auditor's keyring never receives it. Does not commit.
    """
    username = username.strip().lower()
    if session.scalar(select(Reviewer.id).where(Reviewer.username == username)):
        raise UsernameTaken(f"the username {username!r} is taken")
    code = " ".join(random_words(ENROLMENT_CODE_WORDS))
    keyring = Keyring(
        totp_secret=totp.new_secret(),
        identity=None if role is Role.AUDITOR else identity,
    )
    reviewer = Reviewer(
        username=username,
        role=role,
        keyring=keyring.wrapped(code, policy.keyring_work_factor),
        enrolment_hash=passwords.hash_password(code, policy.password_cost),
        enrolment_expires_at=now + ENROLMENT_VALIDITY,
        failed_sign_ins=0,
        created_at=now,
    )
    session.add(reviewer)
    session.flush()
    return reviewer, code


def open_enrolment(
    session: Session, *, username: str, code: str, policy: AccountPolicy, now: datetime.datetime
) -> tuple[Reviewer, Keyring]:
    """The account and keyring an enrolment code opens; EnrolmentRefused otherwise."""
    reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username.strip().lower()))
    if (
        reviewer is None
        or reviewer.enrolment_hash is None
        or reviewer.keyring is None
        or reviewer.revoked_at is not None
    ):
        passwords.dummy_verify(policy.password_cost)
        raise EnrolmentRefused("that username and enrolment code do not match")
    normalised = " ".join(code.lower().split())
    if not passwords.verify_password(normalised, reviewer.enrolment_hash) or (
        reviewer.enrolment_expires_at is not None and reviewer.enrolment_expires_at < now
    ):
        raise EnrolmentRefused("that username and enrolment code do not match, or it has expired")
    keyring = Keyring.unwrapped(reviewer.keyring, normalised)
    if keyring is None:
        raise EnrolmentRefused("that username and enrolment code do not match")
    return reviewer, keyring


def finish_enrolment(
    reviewer: Reviewer,
    keyring: Keyring,
    *,
    password: str,
    totp_code: str,
    policy: AccountPolicy,
    now: datetime.datetime,
) -> None:
    """Wrap the keyring under the new password once the authenticator's code proves set-up."""
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
    _complete_enrolment(reviewer, keyring, password, policy)


def enrol_without_confirmation(
    reviewer: Reviewer, keyring: Keyring, *, password: str, policy: AccountPolicy
) -> None:
    """Enrol with a password chosen for the reviewer, skipping the proof that their app works.

    For the command line only (`portal users add --enrolled`: the first account of a
    development portal, or automation), which prints the TOTP key for the person to add.
    """
    passwords.check_new_password(password, username=reviewer.username)
    _complete_enrolment(reviewer, keyring, password, policy)


def _complete_enrolment(
    reviewer: Reviewer, keyring: Keyring, password: str, policy: AccountPolicy
) -> None:
    reviewer.password_hash = passwords.hash_password(password, policy.password_cost)
    reviewer.keyring = keyring.wrapped(password, policy.keyring_work_factor)
    reviewer.enrolment_hash = None
    reviewer.enrolment_expires_at = None


def change_password(
    reviewer: Reviewer,
    *,
    current: str,
    new: str,
    policy: AccountPolicy,
) -> None:
    """Re-wrap the keyring under a new password; AccountError if `current` is wrong."""
    if reviewer.password_hash is None or reviewer.keyring is None:
        raise AccountError("this account is not enrolled")
    if not passwords.verify_password(current, reviewer.password_hash):
        raise AccountError("the current password is not right")
    keyring = Keyring.unwrapped(reviewer.keyring, current)
    if keyring is None:
        raise AccountError("the current password does not open this account's keys")
    passwords.check_new_password(new, username=reviewer.username)
    reviewer.password_hash = passwords.hash_password(new, policy.password_cost)
    reviewer.keyring = keyring.wrapped(new, policy.keyring_work_factor)


def revoke(session: Session, reviewer: Reviewer, *, now: datetime.datetime) -> None:
    """Delete the account's keyring, password and every session of it. Does not commit."""
    reviewer.keyring = None
    reviewer.password_hash = None
    reviewer.enrolment_hash = None
    reviewer.enrolment_expires_at = None
    reviewer.revoked_at = now
    session.execute(delete(ReviewSession).where(ReviewSession.reviewer_id == reviewer.id))


def assignable_accounts(session: Session) -> list[Reviewer]:
    """Accounts that may hold a report: active inspectors and administrators."""
    return [
        reviewer
        for reviewer in session.scalars(
            select(Reviewer).where(Reviewer.revoked_at.is_(None)).order_by(Reviewer.username)
        )
        if reviewer.active and reviewer.role in {Role.INSPECTOR, Role.ADMIN}
    ]
