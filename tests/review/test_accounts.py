"""Accounts in the review site: creating, enrolling, changing password, revoking."""

from __future__ import annotations

import base64
import html
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.accounts.passwords import GENERATED_WORDS, check_new_password
from portal.custody.host_key import HostKey
from portal.models import AuditEntry, ReviewSession, Role
from portal.services import reviewers
from tests.review.conftest import PASSWORD, Account, Clock, reviewer_row, sign_in
from tests.support.pages import csrf_token

NEW_PASSWORD = "a brand new passphrase, quite long"


def change_password(
    client: FlaskClient, page: TestResponse, *, new: str, current: str = PASSWORD
) -> TestResponse:
    """Send the change-password form of `page` (the form's own page), as a browser would."""
    return client.post(
        "/account/password",
        data={"csrf_token": csrf_token(page), "current": current, "password": new, "confirm": new},
    )


SUGGESTION = re.compile(r'For example: <span class="suggested-passphrase">([^<]+)</span>')


def suggested_passphrase(page_text: str) -> str:
    """The example passphrase a page offers beside its new-password field."""
    match = SUGGESTION.search(page_text)
    assert match is not None, "no suggested passphrase on the page"
    return html.unescape(match.group(1))


def create_through_the_page(client, username: str, role: str = "inspector") -> str:  # type: ignore[no-untyped-def]
    page = client.get("/admin/accounts/new")
    response = client.post(
        "/admin/accounts/new",
        data={"csrf_token": csrf_token(page), "username": username, "role": role},
    )
    assert response.status_code == 200, response.text
    return re.search(r'<p class="codename">([^<]+)</p>', response.text).group(1)  # type: ignore[union-attr]


def enrol_through_the_pages(client, clock: Clock, username: str, code: str) -> Account:  # type: ignore[no-untyped-def]
    page = client.get("/enrol")
    response = client.post(
        "/enrol", data={"csrf_token": csrf_token(page), "username": username, "code": code}
    )
    assert response.headers["Location"] == "/enrol/set-up"
    setup = client.get("/enrol/set-up")
    assert "<svg" in setup.text and "<script" not in setup.text
    key = re.search(r'<code class="secret-text">([^<]+)</code>', setup.text).group(1)  # type: ignore[union-attr]
    secret = base64.b32decode(key.replace(" ", "") + "=" * (-len(key.replace(" ", "")) % 8))
    account = Account(username, Role.INSPECTOR, secret, password=NEW_PASSWORD)
    finished = client.post(
        "/enrol/set-up",
        data={
            "csrf_token": csrf_token(setup),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "code": account.code(clock.now),
        },
    )
    assert finished.status_code == 302, finished.text
    clock.advance(seconds=30)
    return account


def test_an_administrator_creates_an_account_that_its_owner_enrols(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    host_key: HostKey,
) -> None:
    # Given an administrator who creates an inspector account
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    code = create_through_the_page(admin, "ben")

    # When ben enrols with the code, and later signs in
    ben = review_app.test_client()
    account = enrol_through_the_pages(ben, clock, "ben", code)
    assert ben.get("/").status_code == 200
    again = review_app.test_client()
    assert sign_in(again, account, clock).status_code == 302

    # Then his password opens his copy of the identity, and the code no longer works
    keyring = reviewers.open_keyring(reviewer_row(session, "ben"), NEW_PASSWORD, host_key)
    assert keyring is not None and keyring.identity is not None
    stranger = review_app.test_client()
    page = stranger.get("/enrol")
    reused = stranger.post(
        "/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code}
    )
    assert "do not match" in reused.text
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "account_created" in actions and "enrolled" in actions


def test_an_enrolment_code_expires_after_seven_days(
    review_app: Flask, make_account, clock: Clock
) -> None:
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    code = create_through_the_page(admin, "ben")
    clock.advance(days=7, seconds=1)

    client = review_app.test_client()
    page = client.get("/enrol")
    response = client.post(
        "/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code}
    )

    assert response.status_code == 200
    assert "expired" in response.text


def test_an_enrolment_code_opens_nothing_once_a_session_has_started_with_it(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
) -> None:
    # Given an account whose owner has started enrolling with the code
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    code = create_through_the_page(admin, "ben")
    owner = review_app.test_client()
    page = owner.get("/enrol")
    started = owner.post(
        "/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code}
    )
    assert started.headers["Location"] == "/enrol/set-up"

    # When someone else who saw the code tries it, before the owner has finished
    stranger = review_app.test_client()
    page = stranger.get("/enrol")
    reused = stranger.post(
        "/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code}
    )

    # Then it opens nothing: no session of theirs, and the owner's enrolment goes on
    assert reused.status_code == 200 and "do not match" in reused.text
    assert stranger.get("/enrol/set-up").headers["Location"] == "/sign-in"
    ben_id = reviewer_row(session, "ben").id
    assert (
        len(session.scalars(select(ReviewSession).where(ReviewSession.reviewer_id == ben_id)).all())
        == 1
    )
    assert owner.get("/enrol/set-up").status_code == 200


def test_a_weak_password_or_wrong_code_does_not_finish_enrolment(
    review_app: Flask, make_account, clock: Clock
) -> None:
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    code = create_through_the_page(admin, "ben")
    client = review_app.test_client()
    page = client.get("/enrol")
    client.post("/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code})
    setup = client.get("/enrol/set-up")

    weak = client.post(
        "/enrol/set-up",
        data={
            "csrf_token": csrf_token(setup),
            "password": "short",
            "confirm": "short",
            "code": "123456",
        },
    )
    wrong_code = client.post(
        "/enrol/set-up",
        data={
            "csrf_token": csrf_token(setup),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "code": "000000",
        },
    )

    assert weak.status_code == 200 and "at least 12 characters" in weak.text
    assert wrong_code.status_code == 200 and "not the one your authenticator app" in wrong_code.text
    assert client.get("/").headers["Location"] == "/enrol/set-up"


def test_the_set_up_page_suggests_a_fresh_passphrase_the_policy_accepts(
    review_app: Flask, make_account, clock: Clock
) -> None:
    # Given a new account's owner on the enrolment set-up page
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    code = create_through_the_page(admin, "ben")
    client = review_app.test_client()
    page = client.get("/enrol")
    client.post("/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code})

    # When the page is loaded twice
    first, second = client.get("/enrol/set-up"), client.get("/enrol/set-up")

    # Then each load suggests another passphrase of six words, which the policy accepts for ben,
    # in the hint read out with the password field, and no script is needed to see it
    suggestions = [suggested_passphrase(first.text), suggested_passphrase(second.text)]
    assert suggestions[0] != suggestions[1]
    for suggestion in suggestions:
        assert len(suggestion.split()) == GENERATED_WORDS
        check_new_password(suggestion, username="ben")
    assert 'aria-describedby="password-hint"' in first.text
    assert "<script" not in first.text


def test_the_change_password_page_suggests_a_fresh_passphrase_and_refuses_a_guessable_one(
    review_app: Flask, make_account, clock: Clock, session: Session, host_key: HostKey
) -> None:
    # Given a signed-in inspector on the change-password page
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)
    page = client.get("/account/password")
    suggestion = suggested_passphrase(page.text)
    check_new_password(suggestion, username="ada")

    # When they choose a season and a year, long enough for the old policy
    response = change_password(client, page, new="Autumn2026!!!!")

    # Then it is refused in plain words, without quoting it, with a new example beside the field
    assert response.status_code == 200
    assert "Your password is too easy to guess" in response.text
    assert "Six random words, like the example on this page" in response.text
    assert "Autumn2026" not in response.text
    assert suggested_passphrase(response.text) != suggestion
    # ...and the password is unchanged
    assert reviewers.open_keyring(reviewer_row(session, "ada"), PASSWORD, host_key) is not None


def test_changing_the_password_rewraps_the_keys(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    host_key: HostKey,
) -> None:
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)
    page = client.get("/account/password")

    response = change_password(client, page, new=NEW_PASSWORD)

    assert "Your password has been changed" in response.text
    ada = reviewer_row(session, "ada")
    assert reviewers.open_keyring(ada, PASSWORD, host_key) is None
    assert reviewers.open_keyring(ada, NEW_PASSWORD, host_key) is not None


def test_revoking_an_account_ends_its_sessions_and_deletes_its_keys(
    review_app: Flask, make_account, clock: Clock, session: Session
) -> None:
    # Given an inspector signed in, and an administrator
    inspector = review_app.test_client()
    sign_in(inspector, make_account("ben"), clock)
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    ben_id = reviewer_row(session, "ben").id

    # When the administrator revokes the inspector
    page = admin.get("/account/password")
    response = admin.post(f"/admin/accounts/{ben_id}/revoke", data={"csrf_token": csrf_token(page)})

    # Then the inspector's open session ends at once, and their keys are gone
    assert "ben can no longer sign in" in response.text
    assert inspector.get("/").headers["Location"] == "/sign-in"
    ben = reviewer_row(session, "ben")
    assert ben.keyring is None and ben.password_hash is None and ben.revoked_at is not None
    assert (
        session.scalars(select(ReviewSession).where(ReviewSession.reviewer_id == ben_id)).all()
        == []
    )


def test_an_administrator_cannot_revoke_themselves(
    review_app: Flask, make_account, clock: Clock, session: Session
) -> None:
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    page = admin.get("/account/password")

    response = admin.post(
        f"/admin/accounts/{reviewer_row(session, 'ada').id}/revoke",
        data={"csrf_token": csrf_token(page)},
    )

    assert response.status_code == 409
    assert reviewer_row(session, "ada").revoked_at is None
