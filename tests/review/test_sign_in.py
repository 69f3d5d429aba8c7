"""Signing in: three factors, failures counted but never a lock-out, single-use codes,
timeouts, and signing out."""

from __future__ import annotations

import base64
import datetime

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.passwords import hash_password, needs_rehash, verify_password
from portal.config import Settings
from portal.costs import PasswordCost
from portal.custody.host_key import HostKey
from portal.custody.session_vault import open_keyring
from portal.models import AuditEntry, ReviewSession, Role
from portal.services.audit import AuditAction
from portal.services.review_sessions import SessionTicket
from portal.services.reviewers import password_pepper
from tests.review.conftest import PASSWORD, Account, Clock, reviewer_row, sign_in
from tests.support.pages import csrf_token
from tests.support.submitting import everything_stored

REFUSED = "The username, password or code is not right."


def test_the_right_password_and_code_open_the_inbox(
    review_app: Flask, make_account, clock: Clock, session: Session
) -> None:
    account = make_account("ada")
    client = review_app.test_client()

    response = sign_in(client, account, clock)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert session.scalar(select(func.count()).select_from(ReviewSession)) == 1
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "sign_in" in actions


def test_an_auditor_lands_on_the_audit_log(review_app: Flask, make_account, clock: Clock) -> None:
    response = sign_in(review_app.test_client(), make_account("ida", Role.AUDITOR), clock)

    assert response.headers["Location"] == "/audit"


def test_every_wrong_factor_gets_the_same_answer(
    review_app: Flask, make_account, clock: Clock
) -> None:
    account = make_account("ada")
    wrong = [
        Account("ada", account.role, account.totp_secret, password="not the password at all"),
        Account("nobody", account.role, account.totp_secret),
    ]
    pages = [sign_in(review_app.test_client(), other, clock).text for other in wrong]
    pages.append(sign_in(review_app.test_client(), account, clock, code="000000").text)

    for page in pages:
        assert REFUSED in page


def test_many_wrong_passwords_do_not_keep_the_owner_out(
    review_app: Flask, make_account, clock: Clock, session: Session
) -> None:
    account = make_account("ada")
    wrong = Account("ada", account.role, account.totp_secret, password="a wrong password here")
    client = review_app.test_client()

    # When a wrong password is tried many times, with the right code each time
    for _ in range(10):
        assert REFUSED in sign_in(client, wrong, clock).text

    # Then each failure is counted and recorded, and nothing locks the account
    assert reviewer_row(session, "ada").failed_sign_ins == 10
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count(AuditAction.SIGN_IN_FAILED) == 10
    assert AuditAction.ACCOUNT_LOCKED not in actions
    # And the right password and code still sign in, at once, and clear the count
    assert sign_in(client, account, clock).status_code == 302
    assert reviewer_row(session, "ada").failed_sign_ins == 0


def test_a_failure_with_a_wrong_code_counts_as_a_failure(
    review_app: Flask, make_account, clock: Clock, session: Session
) -> None:
    account = make_account("ada")

    # When the right password is sent with a code the app does not show
    nearby = {account.code(clock.now + datetime.timedelta(seconds=s)) for s in (-30, 0, 30)}
    wrong_code = next(code for code in ("000000", "111111", "222222") if code not in nearby)
    response = sign_in(review_app.test_client(), account, clock, code=wrong_code)

    # Then it is refused as any failure is, counted and recorded
    assert REFUSED in response.text
    assert reviewer_row(session, "ada").failed_sign_ins == 1
    assert AuditAction.SIGN_IN_FAILED in session.scalars(select(AuditEntry.action)).all()


def test_a_totp_code_is_accepted_once_only(review_app: Flask, make_account, clock: Clock) -> None:
    account = make_account("ada")
    code = account.code(clock.now)
    first, second = review_app.test_client(), review_app.test_client()

    accepted = sign_in(first, account, clock, code=code)
    replayed = sign_in(second, account, clock, code=code)

    assert accepted.status_code == 302
    assert REFUSED in replayed.text


def test_a_session_ends_after_15_idle_minutes(
    review_app: Flask, make_account, clock: Clock, session: Session
) -> None:
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)
    clock.advance(minutes=14)
    assert client.get("/").status_code == 200

    clock.advance(minutes=15, seconds=1)

    assert client.get("/").headers["Location"] == "/sign-in"
    assert session.scalar(select(func.count()).select_from(ReviewSession)) == 0


def test_a_busy_session_still_ends_after_8_hours(
    review_app: Flask, make_account, clock: Clock
) -> None:
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)
    for _ in range(8 * 6):
        clock.advance(minutes=10)
        client.get("/")

    assert client.get("/").headers["Location"] == "/sign-in"


def test_after_sign_out_the_session_and_its_sealed_keys_are_gone(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    settings: Settings,
    host_key: HostKey,
) -> None:
    # Given a signed-in reviewer, and what their session keeps on the server
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)
    with client.session_transaction() as cookie:
        ticket = SessionTicket(
            token=cookie["ticket"]["token"],
            key=base64.b64decode(cookie["ticket"]["key"]),
        )
    row = session.scalars(select(ReviewSession)).one()
    sealed, row_id = row.sealed_keyring, row.id
    # the cookie's key (with the review host's) opens it now
    assert open_keyring(sealed, ticket.key, row_id, host_key) is not None

    # When they sign out
    page = client.get("/account/password")
    response = client.post("/sign-out", data={"csrf_token": csrf_token(page)})

    # Then the row is gone, the cookie forgets the key, and the sealed keyring is nowhere
    assert "You have signed out" in response.text
    session.rollback()  # a fresh transaction sees what the app committed
    assert session.get(ReviewSession, row_id) is None
    with client.session_transaction() as cookie:
        assert "ticket" not in cookie
    assert sealed not in everything_stored(settings)
    assert client.get("/").headers["Location"] == "/sign-in"


def test_a_session_cookie_with_the_wrong_key_opens_nothing(
    review_app: Flask, make_account, clock: Clock
) -> None:
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)
    with client.session_transaction() as cookie:
        cookie["ticket"] = {**cookie["ticket"], "key": "A" * 43 + "="}

    assert client.get("/").headers["Location"] == "/sign-in"


def test_the_password_is_never_what_opens_a_session_alone(
    review_app: Flask, make_account, clock: Clock
) -> None:
    make_account("ada")
    client = review_app.test_client()
    page = client.get("/sign-in")

    response = client.post(
        "/sign-in",
        data={"csrf_token": csrf_token(page), "username": "ada", "password": PASSWORD, "code": ""},
    )

    assert response.status_code == 200
    assert "Enter the code from your authenticator app" in response.text
    assert client.get("/").headers["Location"] == "/sign-in"


def test_a_password_hashed_at_an_older_cost_is_rehashed_at_sign_in(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    host_key: HostKey,
) -> None:
    # Given an account whose password hash was made at a lower cost than the site's
    account = make_account("ada")
    reviewer = reviewer_row(session, "ada")
    older = PasswordCost(memory_kib=16, iterations=1, lanes=1)
    pepper = password_pepper(host_key)
    reviewer.password_hash = hash_password(PASSWORD, older, pepper=pepper)
    session.commit()

    # When its owner signs in
    assert sign_in(review_app.test_client(), account, clock).status_code == 302

    # Then the hash is now at the site's cost, and still the password's
    stored = reviewer_row(session, "ada").password_hash or ""
    assert not needs_rehash(stored, review_app.extensions["portal.review"].accounts.password_cost)
    assert verify_password(PASSWORD, stored, pepper=pepper)
