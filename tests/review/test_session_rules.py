"""Sessions end when they should: on any change to the account, on time-out (even when their
cookie never comes back), and an account from before the review-host key moves on at sign-in."""

from __future__ import annotations

import datetime

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.accounts import passwords, totp
from portal.cli import main
from portal.config import Settings
from portal.custody.host_key import HostKey
from portal.custody.keyrings import Keyring, unwrap_keyring
from portal.models import Reviewer, ReviewSession, Role
from portal.services import reviewers
from tests.review.conftest import PASSWORD, START, Account, Clock, reviewer_row, sign_in
from tests.review.test_accounts import NEW_PASSWORD, change_password
from tests.support.environment import environment_for
from tests.support.reviewers import inspectorate_keys


def _sessions_of(session: Session, username: str) -> int:
    session.rollback()
    return (
        session.scalar(
            select(func.count())
            .select_from(ReviewSession)
            .join(Reviewer)
            .where(Reviewer.username == username)
        )
        or 0
    )


def test_a_password_change_ends_every_other_session_of_the_account(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    # Given an account signed in on two browsers
    account = make_account("ivy", Role.INSPECTOR)
    here, elsewhere = review_app.test_client(), review_app.test_client()
    sign_in(here, account, clock)
    sign_in(elsewhere, account, clock)
    assert _sessions_of(session, "ivy") == 2

    # When the password is changed on one of them
    page = here.get("/account/password")
    changed = change_password(here, page, new=NEW_PASSWORD)
    assert changed.status_code == 200

    # Then the other is signed out, and this one goes on
    assert elsewhere.get("/").headers["Location"] == "/sign-in"
    assert here.get("/").status_code == 200
    assert _sessions_of(session, "ivy") == 1


def test_timed_out_sessions_are_deleted_at_the_next_sign_in_of_anyone(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    # Given a session whose cookie never comes back, then its idle time-out passing
    sign_in(review_app.test_client(), make_account("ivy", Role.INSPECTOR), clock)
    clock.advance(minutes=16)
    assert _sessions_of(session, "ivy") == 1

    # When someone else signs in, then it is gone
    sign_in(review_app.test_client(), make_account("ada", Role.ADMIN), clock)
    assert _sessions_of(session, "ivy") == 0
    assert _sessions_of(session, "ada") == 1


def test_portal_sessions_prune_deletes_timed_out_sessions(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    # Given a session from the tests' clock, long timed out by the real one the command reads
    sign_in(review_app.test_client(), make_account("ivy", Role.INSPECTOR), clock)
    assert clock.now < datetime.datetime.now() - datetime.timedelta(hours=8)

    result = CliRunner(env=environment_for(settings)).invoke(main, ["sessions", "prune"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Deleted 1 timed-out review session."
    assert _sessions_of(session, "ivy") == 0


def test_an_account_from_before_the_host_key_moves_on_at_its_next_sign_in(
    review_app: Flask,
    clock: Clock,
    session: Session,
    settings: Settings,
    host_key: HostKey,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given an account as custody version 1 kept it: keyring and hash under the password alone
    secret = totp.new_secret()
    work_factor = settings.keyring_work_factor
    reviewer = Reviewer(
        username="old",
        role=Role.INSPECTOR,
        password_hash=passwords.hash_password(PASSWORD, settings.password_cost),
        keyring=Keyring(secret, inspectorate_identity).wrapped(PASSWORD, work_factor),
        custody_version=1,
        failed_sign_ins=0,
        created_at=START,
    )
    session.add(reviewer)
    session.commit()

    # When its owner signs in with password and code
    assert (
        sign_in(review_app.test_client(), Account("old", Role.INSPECTOR, secret), clock).headers[
            "Location"
        ]
        == "/"
    )

    # Then the account is at version 2: nothing opens with the password alone any more
    moved = reviewer_row(session, "old")
    assert moved.custody_version == reviewers.CUSTODY_VERSION
    assert not passwords.verify_password(PASSWORD, moved.password_hash or "")
    pepper = reviewers.password_pepper(host_key)
    assert passwords.verify_password(PASSWORD, moved.password_hash or "", pepper=pepper)
    opened = unwrap_keyring(moved.keyring or b"", PASSWORD, host_key=host_key, reviewer_id=moved.id)
    assert opened is not None
    assert inspectorate_keys(session, moved, opened) == [str(inspectorate_identity)]
    assert moved.recipient == str(opened.identity.recipient())  # an identity of its own
    assert moved.totp_sealed is not None
