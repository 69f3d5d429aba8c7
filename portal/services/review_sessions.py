"""Signing in to the review site, and the sessions that follow (DESIGN decisions 3 and 7).

A sign-in needs the username, the password and a TOTP code together. The password opens the
account's keyring; the keyring is then kept, between requests, only in the session vault
(`portal.custody.session_vault`): sealed in the `review_sessions` row under a random key that
lives in the reviewer's cookie and nowhere else. The table stores a hash of the session's
token, not the token. Signing out or timing out deletes the row, and with it the only
ciphertext the cookie's key could open.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.orm import Session

from portal.accounts import passwords, totp
from portal.custody import session_vault
from portal.custody.host_key import HostKey, SealBroken
from portal.custody.keyrings import Keyring, fail_to_unwrap, open_totp_secret
from portal.models import Reviewer, ReviewSession
from portal.services.reviewers import (
    CUSTODY_VERSION,
    AccountPolicy,
    open_keyring,
    own_identity,
    password_pepper,
    set_password,
)


class SignInRefused(Exception):
    """The username, password and code do not all match: one message for every case, so a
    refusal says nothing about which part was wrong or whether the account exists."""


@dataclass(frozen=True)
class SessionPolicy:
    idle_timeout: datetime.timedelta = datetime.timedelta(minutes=15)
    absolute_timeout: datetime.timedelta = datetime.timedelta(hours=8)


@dataclass(frozen=True)
class SessionTicket:
    """What goes into the reviewer's cookie: the session's token and key. Never stored."""

    token: str
    key: bytes

    def __repr__(self) -> str:
        return "<SessionTicket>"


@dataclass(frozen=True)
class OpenSession:
    """A session resumed for one request, with the keyring decrypted for that request."""

    row: ReviewSession
    keyring: Keyring

    @property
    def reviewer(self) -> Reviewer:
        return self.row.reviewer


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    totp_code: str,
    account_policy: AccountPolicy,
    session_policy: SessionPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> tuple[Reviewer, Keyring]:
    """Check all three factors, or raise SignInRefused; never commits.

    Guessing online, without locking anyone out (DESIGN decision 7):
    - The account's row is locked first (PostgreSQL: FOR UPDATE; SQLite: the write lock the
      site takes at the start of each transaction), so concurrent attempts take turns: one
      TOTP code sent many times at once signs in once, and every failure is counted.
    - The TOTP code is checked before the password counts: a password is judged only together
      with a right code, so someone who knows only a username cannot test passwords at all; each
      attempt is a guess at a six-digit code (three are valid at any moment, so about one
      attempt in 333,000 gets a single password guess). Nothing locks: the owner, who has the
      code, always gets in.
    - Every attempt does the same work whatever was wrong (one Argon2id verification and one
      scrypt unwrap at the account's cost), so the time of the answer tells nothing either.

    On a refusal the failure count has been changed in the session: the caller records the
    refusal in the audit log and finishes the transaction. Expired sessions of every account
    are deleted on the way (`prune_sessions`).
    """
    prune_sessions(session, policy=session_policy, now=now)
    reviewer = session.scalar(
        select(Reviewer).where(Reviewer.username == username.strip().lower()).with_for_update()
    )
    pepper = password_pepper(host_key)
    if reviewer is None or not reviewer.active or reviewer.keyring is None:
        _decoy_attempt(password, account_policy, pepper)
        raise SignInRefused("unknown or inactive account")
    try:
        if reviewer.custody_version < CUSTODY_VERSION:
            keyring = _check_legacy_factors(reviewer, password, totp_code, now=now)
        else:
            keyring = _check_factors(
                reviewer, password, totp_code, policy=account_policy, host_key=host_key, now=now
            )
    except SealBroken:
        # Sealed under another review-host key (this one was lost and replaced), or moved from
        # another row: nothing here can open, and the owner must enrol again.
        raise SignInRefused("keys sealed under another review-host key") from None
    if keyring is None:
        reviewer.failed_sign_ins += 1
        session.flush()
        raise SignInRefused("wrong password or code")
    reviewer.failed_sign_ins = 0
    # An account from before the review-host key, or still holding the inspectorate's identity
    # itself, moves on now that its password is at hand.
    moving_on = reviewer.custody_version < CUSTODY_VERSION or (
        reviewer.recipient is None and keyring.identity is not None
    )
    keyring = own_identity(session, reviewer, keyring, today=now.date())
    if moving_on or passwords.needs_rehash(
        reviewer.password_hash or "", account_policy.password_cost
    ):
        set_password(reviewer, keyring, password, policy=account_policy, host_key=host_key)
    return reviewer, keyring


def _check_factors(
    reviewer: Reviewer,
    password: str,
    totp_code: str,
    *,
    policy: AccountPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> Keyring | None:
    """The keyring, if the code and the password are both right; the same work either way
    (a keyring wrapped at another cost than the policy's, before the cost changed, differs)."""
    totp_secret = open_totp_secret(
        reviewer.totp_sealed or b"", host_key=host_key, reviewer_id=reviewer.id
    )
    step = totp.verify(totp_secret, totp_code, now=_unix(now), last_step=reviewer.last_totp_step)
    password_right = passwords.verify_password(
        password, reviewer.password_hash or "", pepper=password_pepper(host_key)
    )
    if not password_right:
        fail_to_unwrap(password, work_factor=policy.keyring_work_factor)
        return None
    keyring = open_keyring(reviewer, password, host_key)
    if step is None or keyring is None:
        return None
    reviewer.last_totp_step = step
    return keyring


def _check_legacy_factors(
    reviewer: Reviewer, password: str, totp_code: str, *, now: datetime.datetime
) -> Keyring | None:
    """Custody version 1: the TOTP secret is inside the password's keyring, so the password
    comes first. Used once per account, on the sign-in that moves it to version 2."""
    if not passwords.verify_password(password, reviewer.password_hash or ""):
        return None
    keyring = Keyring.unwrapped(reviewer.keyring or b"", password)
    if keyring is None:
        return None
    step = totp.verify(
        keyring.totp_secret, totp_code, now=_unix(now), last_step=reviewer.last_totp_step
    )
    if step is None:
        return None
    reviewer.last_totp_step = step
    return keyring


def _decoy_attempt(password: str, policy: AccountPolicy, pepper: bytes) -> None:
    """The work of a real attempt, for a username with no active account."""
    passwords.dummy_verify(policy.password_cost, pepper=pepper)
    fail_to_unwrap(password, work_factor=policy.keyring_work_factor)


def _unix(now: datetime.datetime) -> float:
    return now.replace(tzinfo=datetime.UTC).timestamp()


def prune_sessions(session: Session, *, policy: SessionPolicy, now: datetime.datetime) -> int:
    """Delete every session, of any account, that has timed out; how many. Does not commit.

    A timed-out session is otherwise deleted only when its cookie comes back, which may be
    never: until then its sealed keyring would sit in the database.
    """
    result = session.execute(
        delete(ReviewSession).where(
            or_(
                ReviewSession.last_seen_at < now - policy.idle_timeout,
                ReviewSession.created_at < now - policy.absolute_timeout,
            )
        ),
        execution_options={"synchronize_session": False},
    )
    return cast(CursorResult[Any], result).rowcount


def open_session(
    session: Session,
    reviewer: Reviewer,
    keyring: Keyring,
    *,
    host_key: HostKey,
    now: datetime.datetime,
    enrolling: bool = False,
) -> SessionTicket:
    """Store a new session holding `keyring` sealed under a fresh key; return the cookie's part."""
    ticket = SessionTicket(token=secrets.token_urlsafe(32), key=session_vault.new_session_key())
    row_id = _row_id(ticket.token)
    session.add(
        ReviewSession(
            id=row_id,
            reviewer=reviewer,
            created_at=now,
            last_seen_at=now,
            sealed_keyring=session_vault.seal_keyring(keyring, ticket.key, row_id, host_key),
            enrolling=enrolling,
        )
    )
    return ticket


def resume_session(
    session: Session,
    ticket: SessionTicket,
    *,
    policy: SessionPolicy,
    host_key: HostKey,
    now: datetime.datetime,
) -> OpenSession | None:
    """The session `ticket` belongs to, if it exists, has not timed out and its key fits.

    A timed-out session is deleted. The caller finishes the transaction either way (the
    last-seen time moves on, or the deletion is kept).
    """
    row_id = _row_id(ticket.token)
    row = session.get(ReviewSession, row_id)
    if row is None:
        return None
    expired = (
        now - row.last_seen_at > policy.idle_timeout
        or now - row.created_at > policy.absolute_timeout
    )
    if expired or row.reviewer.revoked_at is not None:
        session.delete(row)
        return None
    keyring = session_vault.open_keyring(row.sealed_keyring, ticket.key, row_id, host_key)
    if keyring is None:
        return None
    row.last_seen_at = now
    return OpenSession(row=row, keyring=keyring)


def close_session(session: Session, ticket: SessionTicket) -> None:
    """Delete the session: its sealed keyring goes with it. Does not commit."""
    session.execute(delete(ReviewSession).where(ReviewSession.id == _row_id(ticket.token)))


def _row_id(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()
