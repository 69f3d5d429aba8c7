"""The review site under test: accounts of each role, signing in with real TOTP codes, and a
clock the tests move forward (for timeouts, and so each sign-in has a fresh TOTP step)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_review_app, crypto, request_db
from portal.config import Settings
from portal.custody.host_key import HostKey
from portal.models import Reviewer, Role
from portal.review.context import ReviewContext
from portal.services import reviewers
from tests.conftest import HttpsClient
from tests.support.pages import csrf_token
from tests.support.reviewers import enrolled_reviewer, totp_code

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
        return totp_code(self.totp_secret, at)


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
    request_db.get_engine(app).dispose()


@pytest.fixture
def make_account(
    session: Session,
    settings: Settings,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
):  # type: ignore[no-untyped-def]
    """Create an enrolled account of a role, as `portal users add --enrolled` does."""

    def make(username: str, role: Role = Role.INSPECTOR) -> Account:
        policy = reviewers.AccountPolicy(
            password_cost=settings.password_cost, keyring_work_factor=settings.keyring_work_factor
        )
        _reviewer, totp_secret = enrolled_reviewer(
            session,
            username=username,
            role=role,
            password=PASSWORD,
            identity=inspectorate_identity,
            policy=policy,
            host_key=host_key,
            now=START,
        )
        session.commit()
        return Account(username=username, role=role, totp_secret=totp_secret)

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
