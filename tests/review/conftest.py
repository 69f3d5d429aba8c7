"""The review site under test: accounts of each role, signing in with real TOTP codes, and a
clock the tests move forward (for timeouts, and so each sign-in has a fresh TOTP step)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_review_app, crypto, db
from portal.config import Settings
from portal.models import Reviewer, Role
from portal.review.context import ReviewContext
from portal.services import reviewers
from tests.conftest import HttpsClient
from tests.support.pages import csrf_token

PASSWORD = "correct horse battery staple"
START = datetime.datetime(2026, 11, 25, 9, 0, 0)


class Clock:
    """The review site's clock in tests: starts at START and moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    totp_secret: bytes
    password: str = PASSWORD

    def code(self, at: datetime.datetime) -> str:
        moment = at.replace(tzinfo=datetime.UTC).timestamp()
        totp = TOTP(self.totp_secret, 6, SHA1(), 30)  # noqa: S303 (RFC 6238, as apps do)
        return totp.generate(moment).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def review_app(settings: Settings, clock: Clock) -> Iterator[Flask]:
    app = create_review_app(settings)
    context: ReviewContext = app.extensions["portal.review"]
    app.extensions["portal.review"] = dataclasses.replace(context, clock=clock)
    app.test_client_class = HttpsClient
    yield app
    db.get_engine(app).dispose()


@pytest.fixture
def make_account(
    session: Session, settings: Settings, inspectorate_identity: crypto.HybridIdentity
):  # type: ignore[no-untyped-def]
    """Create an enrolled account of a role, as `portal users add --enrolled` does."""

    def make(username: str, role: Role = Role.INSPECTOR) -> Account:
        policy = reviewers.AccountPolicy(
            password_cost=settings.password_cost, keyring_work_factor=settings.keyring_work_factor
        )
        reviewer, code = reviewers.create_account(
            session,
            username=username,
            role=role,
            identity=inspectorate_identity,
            policy=policy,
            now=START,
        )
        keyring = reviewers.Keyring.unwrapped(reviewer.keyring or b"", code)
        assert keyring is not None
        reviewers.enrol_without_confirmation(reviewer, keyring, password=PASSWORD, policy=policy)
        session.commit()
        return Account(username=username, role=role, totp_secret=keyring.totp_secret)

    return make


def sign_in(
    client: FlaskClient, account: Account, clock: Clock, *, code: str | None = None
) -> TestResponse:
    """Sign in with the account's current TOTP code, then move the clock to the next step so
    the following sign-in has a fresh code (a code works once)."""
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "username": account.username,
            "password": account.password,
            "code": code or account.code(clock.now),
        },
    )
    clock.advance(seconds=30)
    return response


def reviewer_row(session: Session, username: str) -> Reviewer:
    session.rollback()  # a fresh transaction sees what the app committed
    return session.query(Reviewer).filter_by(username=username).one()
