"""Who may do what: every route against anonymous visitors, each role and a revoked account.

The expected access is written out here, not read from the code: a route whose access changes,
or a new route, must be added to EXPECTED, or this test fails.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_review_app, create_submit_app, request_db
from portal.config import Settings
from portal.custody.host_key import HostKey
from portal.models import Attachment, Report, Reviewer, Role
from portal.services import reviewers
from tests.review.conftest import Clock, sign_in
from tests.support.pages import csrf_token
from tests.support.reviewers import epoch_keys_of
from tests.support.submitting import Upload, answers_for, post_form

READERS = frozenset({Role.INSPECTOR, Role.ADMIN})
EVERYONE = frozenset(Role)
PUBLIC = "public"
ENROLLING = "enrolling"
EXPECTED: dict[str, frozenset[Role] | str] = {
    "auth.sign_in": PUBLIC,
    "auth.enrol": PUBLIC,
    "auth.enrol_setup": ENROLLING,
    "auth.sign_out": EVERYONE,
    "auth.change_password": EVERYONE,
    "inbox.inbox": READERS,
    "casework.report": READERS,
    "casework.download": READERS,
    "casework.reply": READERS,
    "casework.note": READERS,
    "casework.triage": READERS,
    "casework.link": READERS,
    "dashboard.dashboard": READERS,
    "dashboard.export": READERS,
    "admin.accounts": frozenset({Role.ADMIN}),
    "admin.new_account": frozenset({Role.ADMIN}),
    "admin.revoke": frozenset({Role.ADMIN}),
    "admin.keys": frozenset({Role.ADMIN}),
    "admin.rotate": frozenset({Role.ADMIN}),
    "audit.log": frozenset({Role.AUDITOR, Role.ADMIN}),
    "audit.verify": frozenset({Role.AUDITOR, Role.ADMIN}),
}


def _submitted_report(settings: Settings, session: Session) -> tuple[Report, Attachment]:
    app = create_submit_app(settings)
    post_form(
        app.test_client(),
        "/report/other",
        answers_for("other", "matrix"),
        [Upload(b"file", "f.txt", "text/plain")],
    )
    request_db.get_engine(app).dispose()
    return session.scalars(select(Report)).one(), session.scalars(select(Attachment)).one()


def _requests(app: Flask, arguments: dict[str, str]) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every route of the app, arguments filled in."""
    requests = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda match: arguments[match.group(1)], rule.rule)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            requests.append((rule.endpoint, method, path))
    return requests


def _outcome(client: FlaskClient, method: str, path: str, csrf: str) -> str:
    response = client.get(path) if method == "GET" else client.post(path, data={"csrf_token": csrf})
    if response.status_code == 302 and response.headers["Location"] == "/sign-in":
        return "sent to sign in"
    if response.status_code == 403:
        return "forbidden"
    assert response.status_code < 500, f"{method} {path}: {response.status_code}"
    return "allowed"


def test_every_route_is_in_the_expected_table(review_app: Flask) -> None:
    endpoints = {rule.endpoint for rule in review_app.url_map.iter_rules()} - {"static"}

    assert endpoints == set(EXPECTED)


def test_every_route_against_every_kind_of_visitor(
    review_app: Flask, settings: Settings, session: Session, make_account, clock: Clock
) -> None:
    # Given a report with a file, an account of each role, a revoked one and a target to revoke
    report, attachment = _submitted_report(settings, session)
    accounts = {role: make_account(f"user-{role.value}", role) for role in Role}
    revoked = make_account("gone", Role.ADMIN)
    target = make_account("target", Role.INSPECTOR)
    target_id = session.scalar(select(Reviewer.id).where(Reviewer.username == target.username))
    arguments = {
        "report_id": str(report.id),
        "attachment_id": str(attachment.id),
        "account_id": str(target_id),
    }
    visitors: dict[str, FlaskClient] = {"anonymous": review_app.test_client()}
    for role, account in accounts.items():
        visitors[role.value] = review_app.test_client()
        sign_in(visitors[role.value], account, clock)
    visitors["revoked"] = review_app.test_client()
    sign_in(visitors["revoked"], revoked, clock)
    session.rollback()  # a fresh transaction: the app has written since this one read
    reviewers.revoke(
        session,
        session.scalars(select(Reviewer).where(Reviewer.username == "gone")).one(),
        now=datetime.datetime(2026, 11, 25, 9, 30),
    )
    session.commit()

    # When each visitor makes every request (with their session's CSRF token)
    failures = []
    for name, client in visitors.items():
        csrf = csrf_token(client.get("/sign-in"))
        for endpoint, method, path in _requests(review_app, arguments):
            if endpoint == "auth.sign_out":
                continue  # checked last, so the visitor stays signed in for the rest
            expected = _expected(EXPECTED[endpoint], name)
            got = _outcome(client, method, path, csrf)
            if got != expected:
                failures.append(f"{name} {method} {path}: {got}, expected {expected}")

    # Then each got exactly what the table says
    assert not failures, "\n".join(failures)
    for name, client in visitors.items():
        expected = _expected(EXPECTED["auth.sign_out"], name)
        assert _outcome(client, "POST", "/sign-out", csrf_token(client.get("/sign-in"))) == expected


def _expected(access: frozenset[Role] | str, visitor: str) -> str:
    if access == PUBLIC:
        return "allowed"
    if visitor in {"anonymous", "revoked"}:
        return "sent to sign in"
    if access == ENROLLING:
        return "forbidden"  # a fully signed-in reviewer has no enrolment to finish
    return "allowed" if Role(visitor) in access else "forbidden"


def test_a_view_nobody_marked_is_closed_to_every_role(
    settings: Settings, make_account, clock: Clock
) -> None:
    # Given a review app with a page added without saying who may see it
    app = create_review_app(settings)
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret page")
    app.extensions["portal.review"] = dataclasses.replace(
        app.extensions["portal.review"], clock=clock
    )
    admin = make_account("ada", Role.ADMIN)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    sign_in(client, admin, clock)

    # Then even an administrator is refused, and an anonymous visitor is sent to sign in
    assert client.get("/forgotten").status_code == 403
    assert app.test_client().get("/forgotten").status_code == 302
    request_db.get_engine(app).dispose()


@pytest.mark.parametrize("path", ["/", "/reports/00000000-0000-4000-8000-000000000000"])
def test_an_enrolling_account_can_only_finish_enrolling(
    review_app: Flask,
    session: Session,
    settings: Settings,
    inspectorate_identity,
    host_key: HostKey,
    path: str,
) -> None:
    # Given an account half way through enrolment
    policy = reviewers.AccountPolicy(
        password_cost=settings.password_cost, keyring_work_factor=settings.keyring_work_factor
    )
    _, code = reviewers.create_account(
        session,
        username="new",
        role=Role.ADMIN,
        epoch_keys=epoch_keys_of(session, inspectorate_identity, today=datetime.date(2026, 11, 25)),
        policy=policy,
        host_key=host_key,
        now=datetime.datetime(2026, 11, 25, 9, 0),
    )
    session.commit()
    client = review_app.test_client()
    page = client.get("/enrol")
    client.post("/enrol", data={"csrf_token": csrf_token(page), "username": "new", "code": code})

    # Then every other page sends it back to finish
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/enrol/set-up"


def test_every_form_needs_its_csrf_token_even_from_a_signed_in_administrator(
    review_app: Flask, settings: Settings, session: Session, make_account, clock: Clock
) -> None:
    # Given an administrator signed in, and a report to act on
    report, attachment = _submitted_report(settings, session)
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    target = make_account("target")
    target_id = session.scalar(select(Reviewer.id).where(Reviewer.username == target.username))
    arguments = {
        "report_id": str(report.id),
        "attachment_id": str(attachment.id),
        "account_id": str(target_id),
    }

    # When every POST is sent without a token
    posts = [path for _, method, path in _requests(review_app, arguments) if method == "POST"]
    statuses = {path: admin.post(path, data={"anything": "x"}).status_code for path in posts}

    # Then each is refused before it does anything, and the administrator is still signed in
    assert len(posts) >= 10
    assert set(statuses.values()) == {400}, statuses
    assert admin.get("/admin/accounts").status_code == 200
    session.rollback()
    assert session.get(Reviewer, target_id).revoked_at is None
