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

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.accounts import passwords, totp
from portal.custody import session_vault
from portal.custody.keyrings import Keyring
from portal.models import Reviewer, ReviewSession
from portal.services.reviewers import AccountPolicy


class SignInRefused(Exception):
    """The username, password and code do not all match: one message for every case, so a
    refusal says nothing about which part was wrong or whether the account exists."""


class AccountLocked(SignInRefused):
    """Too many failed sign-ins: the account is locked for a while."""


@dataclass(frozen=True)
class SessionPolicy:
    idle_timeout: datetime.timedelta = datetime.timedelta(minutes=15)
    absolute_timeout: datetime.timedelta = datetime.timedelta(hours=8)
    failures_before_lockout: int = 5
    lockout: datetime.timedelta = datetime.timedelta(minutes=15)


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
    now: datetime.datetime,
) -> tuple[Reviewer, Keyring]:
    """Check all three factors; count failures and lock the account after too many.

    Never commits. On a refusal the failure count has been changed in the session: the caller
    records the refusal in the audit log and finishes the transaction, so the count survives
    the refusal. On success the caller finishes it together with the new session.
    """
    reviewer = session.scalar(select(Reviewer).where(Reviewer.username == username.strip().lower()))
    if (
        reviewer is None
        or reviewer.revoked_at is not None
        or reviewer.password_hash is None
        or reviewer.keyring is None
    ):
        passwords.dummy_verify(account_policy.password_cost)
        raise SignInRefused("unknown or inactive account")
    if reviewer.locked_until is not None and reviewer.locked_until > now:
        raise AccountLocked("the account is locked")
    keyring = _check_factors(
        reviewer,
        password_hash=reviewer.password_hash,
        wrapped_keyring=reviewer.keyring,
        password=password,
        totp_code=totp_code,
        now=now,
    )
    if keyring is None:
        reviewer.failed_sign_ins += 1
        locked = reviewer.failed_sign_ins >= session_policy.failures_before_lockout
        if locked:
            reviewer.locked_until = now + session_policy.lockout
            reviewer.failed_sign_ins = 0
        session.flush()
        raise (
            AccountLocked("locked after repeated failures")
            if locked
            else SignInRefused("wrong password or code")
        )
    reviewer.failed_sign_ins = 0
    reviewer.locked_until = None
    if passwords.needs_rehash(reviewer.password_hash, account_policy.password_cost):
        # The cost was raised since this hash was made: the password is at hand, so move it on.
        reviewer.password_hash = passwords.hash_password(password, account_policy.password_cost)
    return reviewer, keyring


def _check_factors(
    reviewer: Reviewer,
    *,
    password_hash: str,
    wrapped_keyring: bytes,
    password: str,
    totp_code: str,
    now: datetime.datetime,
) -> Keyring | None:
    if not passwords.verify_password(password, password_hash):
        return None
    keyring = Keyring.unwrapped(wrapped_keyring, password)
    if keyring is None:
        return None
    step = totp.verify(
        keyring.totp_secret,
        totp_code,
        now=now.replace(tzinfo=datetime.UTC).timestamp(),
        last_step=reviewer.last_totp_step,
    )
    if step is None:
        return None
    reviewer.last_totp_step = step
    return keyring


def open_session(
    session: Session,
    reviewer: Reviewer,
    keyring: Keyring,
    *,
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
            sealed_keyring=session_vault.seal_keyring(keyring, ticket.key, row_id),
            enrolling=enrolling,
        )
    )
    return ticket


def resume_session(
    session: Session, ticket: SessionTicket, *, policy: SessionPolicy, now: datetime.datetime
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
    keyring = session_vault.open_keyring(row.sealed_keyring, ticket.key, row_id)
    if keyring is None:
        return None
    row.last_seen_at = now
    return OpenSession(row=row, keyring=keyring)


def close_session(session: Session, ticket: SessionTicket) -> None:
    """Delete the session: its sealed keyring goes with it. Does not commit."""
    session.execute(delete(ReviewSession).where(ReviewSession.id == _row_id(ticket.token)))


def _row_id(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()
