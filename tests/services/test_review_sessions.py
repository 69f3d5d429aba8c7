"""Signing in and the sessions that follow, without the review site: failures counted and kept,
never a lock, sessions that end when idle or old and leave no row behind.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.custody.host_key import HostKey
from portal.models import Reviewer, ReviewSession, Role
from portal.services import reviewers, transaction
from portal.services.review_sessions import (
    SessionPolicy,
    SessionTicket,
    SignInRefused,
    close_session,
    open_session,
    prune_sessions,
    resume_session,
    sign_in,
)
from portal.services.reviewers import AccountPolicy
from tests.services.conftest import NOW, totp_code
from tests.support.reviewers import epoch_keys_of, inspectorate_keys

PASSWORD = "correct horse battery staple"
POLICY = SessionPolicy()
STEP = datetime.timedelta(seconds=30)


@dataclass
class Account:
    username: str
    totp_secret: bytes
    now: datetime.datetime = NOW

    def code(self) -> str:
        """The app's code now; the clock then moves on a step, since a code works once."""
        code = totp_code(self.totp_secret, self.now)
        self.now += STEP
        return code


@pytest.fixture
def account(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> Account:
    """An enrolled inspector, as `portal users add --enrolled` makes one."""
    reviewer, code = reviewers.create_account(
        session,
        username="ada",
        role=Role.INSPECTOR,
        epoch_keys=epoch_keys_of(session, inspectorate_identity, today=NOW.date()),
        policy=account_policy,
        host_key=host_key,
        now=NOW,
    )
    keyring = reviewers.open_keyring(reviewer, code, host_key)
    assert keyring is not None
    reviewers.enrol_without_confirmation(
        reviewer, keyring, password=PASSWORD, policy=account_policy, host_key=host_key
    )
    session.commit()
    return Account("ada", keyring.totp_secret)


def attempt(
    session: Session,
    policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
    *,
    password: str = PASSWORD,
    code: str | None = None,
    username: str | None = None,
) -> type[SignInRefused] | None:
    """One sign-in, finished as the site finishes it: the refusal's class, or None."""
    now = account.now
    try:
        sign_in(
            session,
            username=username or account.username,
            password=password,
            totp_code=code or account.code(),
            account_policy=policy,
            session_policy=POLICY,
            host_key=host_key,
            now=now,
        )
    except SignInRefused as refusal:
        transaction.finish(session)  # the site records the refusal, and keeps the count
        return type(refusal)
    transaction.finish(session)
    return None


def wrong_code(account: Account) -> str:
    """A code the app does not show now (nor in the steps either side of now)."""
    right = {totp_code(account.totp_secret, account.now + offset * STEP) for offset in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in right)


def committed(engine: Engine, username: str) -> Reviewer:
    """The account as another connection sees it: what was committed."""
    with Session(engine, expire_on_commit=False) as other:
        return other.scalars(select(Reviewer).where(Reviewer.username == username)).one()


def test_the_three_factors_open_the_keyring(
    session: Session,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    reviewer, keyring = sign_in(
        session,
        username=" ADA ",
        password=PASSWORD,
        totp_code=account.code(),
        account_policy=account_policy,
        session_policy=POLICY,
        host_key=host_key,
        now=NOW,
    )

    assert reviewer.username == "ada"
    assert inspectorate_keys(session, reviewer, keyring) == [str(inspectorate_identity)]


def test_each_failure_is_counted_and_kept_and_a_success_clears_the_count(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    # When a wrong password, a wrong code with the right password, then both wrong, are tried
    results = [
        attempt(session, account_policy, host_key, account, password="not the password at all"),
        attempt(session, account_policy, host_key, account, code=wrong_code(account)),
        attempt(
            session,
            account_policy,
            host_key,
            account,
            password="not the password at all",
            code=wrong_code(account),
        ),
    ]

    # Then all are refused alike, each counts as a failure, and the count survives the
    # refusals' transactions
    assert results == [SignInRefused, SignInRefused, SignInRefused]
    assert committed(engine, "ada").failed_sign_ins == 3

    # When the right factors follow, then the count starts again
    assert attempt(session, account_policy, host_key, account) is None
    assert committed(engine, "ada").failed_sign_ins == 0


def test_a_code_already_used_is_refused(
    session: Session, account_policy: AccountPolicy, host_key: HostKey, account: Account
) -> None:
    code = totp_code(account.totp_secret, account.now)

    first = attempt(session, account_policy, host_key, account, code=code)
    replayed = attempt(session, account_policy, host_key, account, code=code)

    assert (first, replayed) == (None, SignInRefused)


def test_many_wrong_passwords_do_not_keep_the_owner_out(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    # Given many wrong passwords, some with the right code (someone who has seen one) and some
    # with a wrong one
    for number in range(12):
        code = account.code() if number % 2 else wrong_code(account)
        refused = attempt(
            session, account_policy, host_key, account, password=f"wrong guess {number}", code=code
        )
        assert refused is SignInRefused

    # Then every one was counted, and nothing locks the account
    assert committed(engine, "ada").failed_sign_ins == 12
    # and the right password and code still sign in at once
    assert attempt(session, account_policy, host_key, account) is None
    assert committed(engine, "ada").failed_sign_ins == 0


def test_the_right_password_with_a_wrong_code_is_a_failure(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    # When the right password is tried with a wrong code, then with something not a code at all
    wrong = attempt(session, account_policy, host_key, account, code=wrong_code(account))
    garbled = attempt(session, account_policy, host_key, account, code="abcdef")

    # Then both are refused, as a wrong password is, and both count as failures
    assert (wrong, garbled) == (SignInRefused, SignInRefused)
    assert committed(engine, "ada").failed_sign_ins == 2


def test_an_unknown_or_revoked_account_is_refused_like_a_wrong_password(
    session: Session, account_policy: AccountPolicy, host_key: HostKey, account: Account
) -> None:
    unknown = attempt(session, account_policy, host_key, account, username="nobody")
    reviewer = session.scalars(select(Reviewer)).one()
    reviewers.revoke(session, reviewer, now=NOW)
    transaction.finish(session)
    revoked = attempt(session, account_policy, host_key, account)

    assert (unknown, revoked) == (SignInRefused, SignInRefused)


def open_new_session(
    session: Session, account_policy: AccountPolicy, host_key: HostKey, account: Account
) -> SessionTicket:
    """Sign in and open a session at the account's clock, as the site does."""
    now = account.now
    reviewer, keyring = sign_in(
        session,
        username=account.username,
        password=PASSWORD,
        totp_code=account.code(),
        account_policy=account_policy,
        session_policy=POLICY,
        host_key=host_key,
        now=now,
    )
    ticket = open_session(session, reviewer, keyring, host_key=host_key, now=now)
    transaction.finish(session)
    return ticket


def sessions_stored(engine: Engine) -> int:
    with Session(engine) as other:
        return other.scalar(select(func.count()).select_from(ReviewSession)) or 0


def resume(
    session: Session, host_key: HostKey, ticket: SessionTicket, at: datetime.datetime
) -> bool:
    """Resume the session at `at` and finish the transaction, as each request does."""
    opened = resume_session(session, ticket, policy=POLICY, host_key=host_key, now=at)
    transaction.finish(session)
    return opened is not None


def test_a_session_holds_the_keyring_under_the_cookies_key_only(
    session: Session,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a session opened at sign-in
    ticket = open_new_session(session, account_policy, host_key, account)

    # When it is resumed with the ticket, with the right token and another key, or with the
    # ticket on a host with another review-host key
    opened = resume_session(session, ticket, policy=POLICY, host_key=host_key, now=NOW)
    forged = resume_session(
        session,
        SessionTicket(ticket.token, bytes(len(ticket.key))),
        policy=POLICY,
        host_key=host_key,
        now=NOW,
    )
    elsewhere = resume_session(
        session, ticket, policy=POLICY, host_key=HostKey(bytes(range(32))), now=NOW
    )

    # Then the ticket opens the keyring, and the wrong key, or the wrong host's, opens nothing
    assert opened is not None and forged is None and elsewhere is None
    assert inspectorate_keys(session, opened.reviewer, opened.keyring) == [
        str(inspectorate_identity)
    ]
    assert opened.reviewer.username == "ada"
    # and the stored row names the session by a hash of its token, never the token itself
    row = session.scalars(select(ReviewSession)).one()
    assert ticket.token.encode() not in row.id + row.sealed_keyring


def test_an_idle_session_ends_after_its_timeout_and_its_row_goes(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    # Given a session last seen at some moment
    ticket = open_new_session(session, account_policy, host_key, account)
    seen = NOW + datetime.timedelta(minutes=5)
    assert resume(session, host_key, ticket, seen)

    # When it is used again exactly at its idle timeout, it still opens
    assert resume(session, host_key, ticket, seen + POLICY.idle_timeout)

    # When a second longer passes idle, then it ends, and its row is gone for good
    later = seen + 2 * POLICY.idle_timeout + datetime.timedelta(seconds=1)
    assert not resume(session, host_key, ticket, later)
    assert sessions_stored(engine) == 0
    assert not resume(session, host_key, ticket, later)


def test_a_busy_session_ends_at_its_absolute_timeout(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    # Given a session used every ten minutes
    ticket = open_new_session(session, account_policy, host_key, account)
    moments = []
    at = NOW
    while at <= NOW + POLICY.absolute_timeout + datetime.timedelta(minutes=10):
        moments.append(at)
        at += datetime.timedelta(minutes=10)

    # When it is resumed at each moment
    opened = [resume(session, host_key, ticket, moment) for moment in moments]

    # Then it opens until its absolute timeout has passed, never after, and its row goes
    assert opened == [moment - NOW <= POLICY.absolute_timeout for moment in moments]
    assert False in opened  # the premise: the walk went past the timeout
    assert sessions_stored(engine) == 0


def test_pruning_deletes_the_timed_out_sessions_only(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    """A session whose cookie never comes back is deleted all the same, by the next prune."""
    # Given a session opened, then another half a minute later, neither used again
    first = open_new_session(session, account_policy, host_key, account)
    second = open_new_session(session, account_policy, host_key, account)

    # When sessions are pruned once the first has been idle too long, but not yet the second
    pruned = prune_sessions(
        session, policy=POLICY, now=NOW + POLICY.idle_timeout + datetime.timedelta(seconds=15)
    )
    transaction.finish(session)

    # Then the first's row is gone, and the second still opens
    assert (pruned, sessions_stored(engine)) == (1, 1)
    assert not resume(session, host_key, first, NOW)
    assert resume(session, host_key, second, NOW + datetime.timedelta(minutes=1))


def test_closing_a_session_ends_that_session_only(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    # Given two sessions of one account (two browsers)
    first = open_new_session(session, account_policy, host_key, account)
    second = open_new_session(session, account_policy, host_key, account)

    # When the first is closed
    close_session(session, first)
    transaction.finish(session)

    # Then it no longer opens, and the other still does
    assert sessions_stored(engine) == 1
    assert not resume(session, host_key, first, NOW)
    assert resume(session, host_key, second, NOW)


def test_a_session_of_a_revoked_account_opens_nothing(
    session: Session,
    engine: Engine,
    account_policy: AccountPolicy,
    host_key: HostKey,
    account: Account,
) -> None:
    """Revocation deletes the rows; a session that slipped past that is deleted when used."""
    ticket = open_new_session(session, account_policy, host_key, account)
    reviewer = session.scalars(select(Reviewer)).one()
    reviewer.revoked_at = NOW
    transaction.finish(session)

    assert not resume(session, host_key, ticket, NOW)
    assert sessions_stored(engine) == 0
