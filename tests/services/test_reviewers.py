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
from portal.custody.host_key import HostKey
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
    open_keyring,
    password_pepper,
)
from tests.services.conftest import NOW, totp_code
from tests.support.reviewers import epoch_keys_of, inspectorate_keys

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase, quite long"


def create(
    session: Session,
    policy: AccountPolicy,
    identity: crypto.HybridIdentity,
    host_key: HostKey,
    username: str = "ada",
    role: Role = Role.INSPECTOR,
) -> tuple[Reviewer, str]:
    reviewer, code = reviewers.create_account(
        session,
        username=username,
        role=role,
        epoch_keys=epoch_keys_of(session, identity, today=NOW.date()),
        policy=policy,
        host_key=host_key,
        now=NOW,
    )
    session.commit()
    return reviewer, code


def enrolled(
    session: Session,
    policy: AccountPolicy,
    identity: crypto.HybridIdentity,
    host_key: HostKey,
    username: str = "ada",
    role: Role = Role.INSPECTOR,
) -> Reviewer:
    reviewer, code = create(session, policy, identity, host_key, username, role)
    _, keyring = reviewers.open_enrolment(
        session, username=username, code=code, policy=policy, host_key=host_key, now=NOW
    )
    reviewers.finish_enrolment(
        session,
        reviewer,
        keyring,
        password=PASSWORD,
        totp_code=totp_code(keyring.totp_secret, NOW),
        policy=policy,
        host_key=host_key,
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
    host_key: HostKey,
    role: Role,
    holds_identity: bool,
) -> None:
    # When an account is created under a username typed untidily
    reviewer, code = create(
        session, account_policy, inspectorate_identity, host_key, "  Ada ", role
    )

    # Then its name is tidied, it cannot sign in yet, and its code is words that expire in 7 days
    assert reviewer.username == "ada"
    assert (reviewer.password_hash, reviewer.active) == (None, False)
    assert len(code.split()) == ENROLMENT_CODE_WORDS
    assert reviewer.enrolment_expires_at == NOW + datetime.timedelta(days=7)
    # and only the code opens its keyring, which holds the identity unless it is an auditor's
    assert reviewer.custody_version == reviewers.CUSTODY_VERSION
    assert open_keyring(reviewer, "not the code", host_key) is None
    keyring = open_keyring(reviewer, code, host_key)
    assert keyring is not None
    if holds_identity:
        assert inspectorate_keys(session, reviewer, keyring) == [str(inspectorate_identity)]
    else:
        assert keyring.identity is None


def test_a_username_is_taken_whatever_its_case(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    create(session, account_policy, inspectorate_identity, host_key, "ada")

    with pytest.raises(UsernameTaken):
        create(session, account_policy, inspectorate_identity, host_key, " ADA")


def test_enrolment_opens_once_with_the_code_however_typed_until_it_expires(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    # Given an account waiting to enrol
    _, code = create(session, account_policy, inspectorate_identity, host_key)
    expires = NOW + datetime.timedelta(days=7)

    def opened(username: str, typed: str, at: datetime.datetime) -> bool:
        try:
            reviewers.open_enrolment(
                session,
                username=username,
                code=typed,
                policy=account_policy,
                host_key=host_key,
                now=at,
            )
        except EnrolmentRefused:
            return False
        return True

    # Then nothing but the code opens it, and not once it has expired
    assert not opened("ada", code, expires + datetime.timedelta(seconds=1))
    assert not opened("ada", " ".join(reversed(code.split())), NOW)
    assert not opened("nobody", code, NOW)
    # and the code opens it typed in capitals with stray spaces, up to the moment it expires
    untidy = "  " + "   ".join(code.upper().split()) + " "
    assert opened("ADA", untidy, expires)
    # but only once: whoever else saw the code cannot open it again
    assert not opened("ada", code, NOW)


def test_finishing_enrolment_needs_a_good_password_and_the_apps_code(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    # Given an account whose code has been accepted
    reviewer, code = create(session, account_policy, inspectorate_identity, host_key)
    _, keyring = reviewers.open_enrolment(
        session, username="ada", code=code, policy=account_policy, host_key=host_key, now=NOW
    )
    wrapped = reviewer.keyring

    # When enrolment is finished with a weak password, or a code the app does not show now
    later = NOW + datetime.timedelta(minutes=5)
    with pytest.raises(WeakPassword):
        reviewers.finish_enrolment(
            session,
            reviewer,
            keyring,
            password="short",
            totp_code=totp_code(keyring.totp_secret, NOW),
            policy=account_policy,
            host_key=host_key,
            now=NOW,
        )
    with pytest.raises(WrongTotpCode):
        reviewers.finish_enrolment(
            session,
            reviewer,
            keyring,
            password=PASSWORD,
            totp_code=totp_code(keyring.totp_secret, later),
            policy=account_policy,
            host_key=host_key,
            now=NOW,
        )

    # Then the account is still waiting, its keys still under the code
    assert (reviewer.password_hash, reviewer.keyring) == (None, wrapped)


def test_an_enrolled_account_opens_with_its_password_and_its_code_is_spent(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    # Given an account created, then enrolled with its code
    reviewer, code = create(session, account_policy, inspectorate_identity, host_key)
    _, keyring = reviewers.open_enrolment(
        session, username="ada", code=code, policy=account_policy, host_key=host_key, now=NOW
    )
    reviewers.finish_enrolment(
        session,
        reviewer,
        keyring,
        password=PASSWORD,
        totp_code=totp_code(keyring.totp_secret, NOW),
        policy=account_policy,
        host_key=host_key,
        now=NOW,
    )
    session.commit()

    # Then the password opens the same keys, and the code opens nothing any more
    assert reviewer.active
    assert verify_password(PASSWORD, reviewer.password_hash or "", pepper=password_pepper(host_key))
    rewrapped = open_keyring(reviewer, PASSWORD, host_key)
    assert rewrapped is not None
    assert rewrapped.totp_secret == keyring.totp_secret
    assert inspectorate_keys(session, reviewer, rewrapped) == [str(inspectorate_identity)]
    assert open_keyring(reviewer, code, host_key) is None
    with pytest.raises(EnrolmentRefused):
        reviewers.open_enrolment(
            session, username="ada", code=code, policy=account_policy, host_key=host_key, now=NOW
        )


def test_changing_the_password_rewraps_the_same_keys(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    # Given an enrolled account
    reviewer = enrolled(session, account_policy, inspectorate_identity, host_key)
    before = open_keyring(reviewer, PASSWORD, host_key)

    # When its password is changed
    reviewers.change_password(
        session,
        reviewer,
        current=PASSWORD,
        new=NEW_PASSWORD,
        policy=account_policy,
        host_key=host_key,
    )
    session.commit()

    # Then only the new password opens the keys, and they are the same keys
    after = open_keyring(reviewer, NEW_PASSWORD, host_key)
    assert open_keyring(reviewer, PASSWORD, host_key) is None
    assert after is not None and before is not None
    assert (after.totp_secret, str(after.identity)) == (before.totp_secret, str(before.identity))
    assert verify_password(
        NEW_PASSWORD, reviewer.password_hash or "", pepper=password_pepper(host_key)
    )


def test_a_password_change_refused_changes_nothing(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    reviewer = enrolled(session, account_policy, inspectorate_identity, host_key)
    kept = (reviewer.password_hash, reviewer.keyring, reviewer.totp_sealed)

    with pytest.raises(AccountError):
        reviewers.change_password(
            session,
            reviewer,
            current="not the password",
            new=NEW_PASSWORD,
            policy=account_policy,
            host_key=host_key,
        )
    with pytest.raises(WeakPassword):
        reviewers.change_password(
            session,
            reviewer,
            current=PASSWORD,
            new="ada" * 5,
            policy=account_policy,
            host_key=host_key,
        )

    assert (reviewer.password_hash, reviewer.keyring, reviewer.totp_sealed) == kept


def test_revoking_deletes_the_keys_and_every_session_of_that_account_only(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    # Given two enrolled accounts, each signed in, one of them twice
    ada = enrolled(session, account_policy, inspectorate_identity, host_key, "ada")
    ben = enrolled(session, account_policy, inspectorate_identity, host_key, "ben")
    for reviewer in (ada, ada, ben):
        keyring = open_keyring(reviewer, PASSWORD, host_key)
        assert keyring is not None
        open_session(session, reviewer, keyring, host_key=host_key, now=NOW)
    session.commit()

    # When ada's account is revoked
    later = NOW + datetime.timedelta(hours=1)
    reviewers.revoke(session, ada, now=later)
    session.commit()

    # Then her keys, password and sessions are gone, and ben's session is untouched
    session.expire_all()
    assert (ada.keyring, ada.totp_sealed, ada.password_hash, ada.revoked_at) == (
        None,
        None,
        None,
        later,
    )
    assert not ada.active
    owners = session.scalars(select(ReviewSession.reviewer_id)).all()
    assert owners == [ben.id]


def test_a_revoked_account_waiting_to_enrol_cannot_enrol(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    reviewer, code = create(session, account_policy, inspectorate_identity, host_key)

    reviewers.revoke(session, reviewer, now=NOW)
    session.commit()

    with pytest.raises(EnrolmentRefused):
        reviewers.open_enrolment(
            session, username="ada", code=code, policy=account_policy, host_key=host_key, now=NOW
        )


def test_only_active_inspectors_and_administrators_can_be_assigned_reports(
    session: Session,
    account_policy: AccountPolicy,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    # Given accounts of every role and state
    policy, identity = account_policy, inspectorate_identity
    enrolled(session, policy, identity, host_key, "zoe", Role.INSPECTOR)
    enrolled(session, policy, identity, host_key, "amy", Role.ADMIN)
    enrolled(session, policy, identity, host_key, "ida", Role.AUDITOR)
    create(session, policy, identity, host_key, "new", Role.INSPECTOR)
    gone = enrolled(session, policy, identity, host_key, "bob", Role.INSPECTOR)
    reviewers.revoke(session, gone, now=NOW)
    session.commit()

    # When the accounts a report can be assigned to are listed
    names = [reviewer.username for reviewer in reviewers.assignable_accounts(session)]

    # Then they are the enrolled inspector and administrator, by name
    assert names == ["amy", "zoe"]
