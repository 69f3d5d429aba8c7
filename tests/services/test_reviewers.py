"""Reviewer accounts without the review site: a keyring under a one-time code, then under the
reviewer's password; password changes that re-wrap it; revocation that deletes it.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto
from portal.accounts.passwords import WeakPassword, verify_password
from portal.custody.keyrings import Keyring
from portal.models import Reviewer, ReviewSession, Role
from portal.services import reviewers
from portal.services.review_sessions import open_session
from portal.services.reviewers import (
    ENROLMENT_CODE_WORDS,
    AccountError,
    AccountPolicy,
    EnrolmentRefused,
    UsernameTaken,
    WrongTotpCode,
)
from tests.services.conftest import NOW, totp_code

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase, quite long"


def create(
    session: Session,
    policy: AccountPolicy,
    identity: crypto.HybridIdentity,
    username: str = "ada",
    role: Role = Role.INSPECTOR,
) -> tuple[Reviewer, str]:
    reviewer, code = reviewers.create_account(
        session, username=username, role=role, identity=identity, policy=policy, now=NOW
    )
    session.commit()
    return reviewer, code


def enrolled(
    session: Session,
    policy: AccountPolicy,
    identity: crypto.HybridIdentity,
    username: str = "ada",
    role: Role = Role.INSPECTOR,
) -> Reviewer:
    reviewer, code = create(session, policy, identity, username, role)
    _, keyring = reviewers.open_enrolment(
        session, username=username, code=code, policy=policy, now=NOW
    )
    reviewers.finish_enrolment(
        reviewer,
        keyring,
        password=PASSWORD,
        totp_code=totp_code(keyring.totp_secret, NOW),
        policy=policy,
        now=NOW,
    )
    session.commit()
    return reviewer


@pytest.mark.parametrize(
    ("role", "holds_identity"),
    [(Role.INSPECTOR, True), (Role.ADMIN, True), (Role.AUDITOR, False)],
)
def test_a_new_account_waits_with_its_keys_under_a_one_time_code(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    role: Role,
    holds_identity: bool,
) -> None:
    # When an account is created under a username typed untidily
    reviewer, code = create(session, account_policy, inspectorate_identity, "  Ada ", role)

    # Then its name is tidied, it cannot sign in yet, and its code is words that expire in 7 days
    assert reviewer.username == "ada"
    assert (reviewer.password_hash, reviewer.active) == (None, False)
    assert len(code.split()) == ENROLMENT_CODE_WORDS
    assert reviewer.enrolment_expires_at == NOW + datetime.timedelta(days=7)
    # and only the code opens its keyring, which holds the identity unless it is an auditor's
    assert Keyring.unwrapped(reviewer.keyring or b"", "not the code") is None
    keyring = Keyring.unwrapped(reviewer.keyring or b"", code)
    assert keyring is not None
    if holds_identity:
        assert str(keyring.identity) == str(inspectorate_identity)
    else:
        assert keyring.identity is None


def test_a_username_is_taken_whatever_its_case(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    create(session, account_policy, inspectorate_identity, "ada")

    with pytest.raises(UsernameTaken):
        create(session, account_policy, inspectorate_identity, " ADA")


def test_enrolment_opens_with_the_code_however_typed_until_it_expires(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given an account waiting to enrol
    _, code = create(session, account_policy, inspectorate_identity)
    expires = NOW + datetime.timedelta(days=7)

    def opened(username: str, typed: str, at: datetime.datetime) -> bool:
        try:
            reviewers.open_enrolment(
                session, username=username, code=typed, policy=account_policy, now=at
            )
        except EnrolmentRefused:
            return False
        return True

    # Then the code opens it typed in capitals with stray spaces, up to the moment it expires
    untidy = "  " + "   ".join(code.upper().split()) + " "
    assert opened("ADA", untidy, expires)
    assert not opened("ada", code, expires + datetime.timedelta(seconds=1))
    # and nothing else does
    assert not opened("ada", " ".join(reversed(code.split())), NOW)
    assert not opened("nobody", code, NOW)


def test_finishing_enrolment_needs_a_good_password_and_the_apps_code(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given an account whose code has been accepted
    reviewer, code = create(session, account_policy, inspectorate_identity)
    _, keyring = reviewers.open_enrolment(
        session, username="ada", code=code, policy=account_policy, now=NOW
    )
    wrapped = reviewer.keyring

    # When enrolment is finished with a weak password, or a code the app does not show now
    later = NOW + datetime.timedelta(minutes=5)
    with pytest.raises(WeakPassword):
        reviewers.finish_enrolment(
            reviewer,
            keyring,
            password="short",
            totp_code=totp_code(keyring.totp_secret, NOW),
            policy=account_policy,
            now=NOW,
        )
    with pytest.raises(WrongTotpCode):
        reviewers.finish_enrolment(
            reviewer,
            keyring,
            password=PASSWORD,
            totp_code=totp_code(keyring.totp_secret, later),
            policy=account_policy,
            now=NOW,
        )

    # Then the account is still waiting, its keys still under the code
    assert (reviewer.password_hash, reviewer.keyring) == (None, wrapped)


def test_an_enrolled_account_opens_with_its_password_and_its_code_is_spent(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given an account created, then enrolled with its code
    reviewer, code = create(session, account_policy, inspectorate_identity)
    _, keyring = reviewers.open_enrolment(
        session, username="ada", code=code, policy=account_policy, now=NOW
    )
    reviewers.finish_enrolment(
        reviewer,
        keyring,
        password=PASSWORD,
        totp_code=totp_code(keyring.totp_secret, NOW),
        policy=account_policy,
        now=NOW,
    )
    session.commit()

    # Then the password opens the same keys, and the code opens nothing any more
    assert reviewer.active
    assert verify_password(PASSWORD, reviewer.password_hash or "")
    rewrapped = Keyring.unwrapped(reviewer.keyring or b"", PASSWORD)
    assert rewrapped is not None
    assert rewrapped.totp_secret == keyring.totp_secret
    assert str(rewrapped.identity) == str(inspectorate_identity)
    assert Keyring.unwrapped(reviewer.keyring or b"", code) is None
    with pytest.raises(EnrolmentRefused):
        reviewers.open_enrolment(session, username="ada", code=code, policy=account_policy, now=NOW)


def test_changing_the_password_rewraps_the_same_keys(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given an enrolled account
    reviewer = enrolled(session, account_policy, inspectorate_identity)
    before = Keyring.unwrapped(reviewer.keyring or b"", PASSWORD)

    # When its password is changed
    reviewers.change_password(reviewer, current=PASSWORD, new=NEW_PASSWORD, policy=account_policy)
    session.commit()

    # Then only the new password opens the keys, and they are the same keys
    after = Keyring.unwrapped(reviewer.keyring or b"", NEW_PASSWORD)
    assert Keyring.unwrapped(reviewer.keyring or b"", PASSWORD) is None
    assert after is not None and before is not None
    assert (after.totp_secret, str(after.identity)) == (before.totp_secret, str(before.identity))
    assert verify_password(NEW_PASSWORD, reviewer.password_hash or "")


def test_a_password_change_refused_changes_nothing(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    reviewer = enrolled(session, account_policy, inspectorate_identity)
    kept = (reviewer.password_hash, reviewer.keyring)

    with pytest.raises(AccountError):
        reviewers.change_password(
            reviewer, current="not the password", new=NEW_PASSWORD, policy=account_policy
        )
    with pytest.raises(WeakPassword):
        reviewers.change_password(reviewer, current=PASSWORD, new="ada" * 5, policy=account_policy)

    assert (reviewer.password_hash, reviewer.keyring) == kept


def test_revoking_deletes_the_keys_and_every_session_of_that_account_only(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given two enrolled accounts, each signed in, one of them twice
    ada = enrolled(session, account_policy, inspectorate_identity, "ada")
    ben = enrolled(session, account_policy, inspectorate_identity, "ben")
    for reviewer in (ada, ada, ben):
        keyring = Keyring.unwrapped(reviewer.keyring or b"", PASSWORD)
        assert keyring is not None
        open_session(session, reviewer, keyring, now=NOW)
    session.commit()

    # When ada's account is revoked
    later = NOW + datetime.timedelta(hours=1)
    reviewers.revoke(session, ada, now=later)
    session.commit()

    # Then her keys, password and sessions are gone, and ben's session is untouched
    session.expire_all()
    assert (ada.keyring, ada.password_hash, ada.revoked_at) == (None, None, later)
    assert not ada.active
    owners = session.scalars(select(ReviewSession.reviewer_id)).all()
    assert owners == [ben.id]


def test_a_revoked_account_waiting_to_enrol_cannot_enrol(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    reviewer, code = create(session, account_policy, inspectorate_identity)

    reviewers.revoke(session, reviewer, now=NOW)
    session.commit()

    with pytest.raises(EnrolmentRefused):
        reviewers.open_enrolment(session, username="ada", code=code, policy=account_policy, now=NOW)


def test_only_active_inspectors_and_administrators_can_be_assigned_reports(
    session: Session, account_policy: AccountPolicy, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given accounts of every role and state
    enrolled(session, account_policy, inspectorate_identity, "zoe", Role.INSPECTOR)
    enrolled(session, account_policy, inspectorate_identity, "amy", Role.ADMIN)
    enrolled(session, account_policy, inspectorate_identity, "ida", Role.AUDITOR)
    create(session, account_policy, inspectorate_identity, "new", Role.INSPECTOR)
    gone = enrolled(session, account_policy, inspectorate_identity, "bob", Role.INSPECTOR)
    reviewers.revoke(session, gone, now=NOW)
    session.commit()

    # When the accounts a report can be assigned to are listed
    names = [reviewer.username for reviewer in reviewers.assignable_accounts(session)]

    # Then they are the enrolled inspector and administrator, by name
    assert names == ["amy", "zoe"]
