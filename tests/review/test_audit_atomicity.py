"""An action and its audit entry are kept together or not at all.

For every action a review page can cause, the database is made to refuse the audit entry (as a
full disk or a lost connection would) at the moment the action records it. The action must then
leave nothing behind: no reply, note, triage change, account, session or file; the page shown
is the plain "not saved" error; and what it would have shown (a report, a file) is not shown,
since nobody may read a report without a trace.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_submit_app, request_db
from portal.config import Settings
from portal.models import AuditEntry, Report, Role
from portal.services.audit import AuditAction
from tests.review.conftest import Account, Clock, sign_in
from tests.review.test_accounts import NEW_PASSWORD, create_through_the_page
from tests.support.atomicity import audit_writes_fail, state_of
from tests.support.pages import csrf_token
from tests.support.submitting import Upload, answers_for, post_form

CANARY = "canary-atomic-5d21c8"
ACTIONS_OF_THE_COMMAND_LINE = {
    AuditAction.KEYS_RECOVERED,
    AuditAction.RETENTION_RUN,
    AuditAction.REPORT_DESTROYED,
    AuditAction.KEYS_ROTATED,
    AuditAction.KEYS_GRANTED,
    AuditAction.EPOCH_RETIRED,
}
"""Checked with their commands, in tests/cli/test_audit_atomicity.py."""
ACTIONS_NO_LONGER_CAUSED = {
    AuditAction.ACCOUNT_LOCKED,  # no lock-out since custody version 2 (DESIGN decision 7)
}
"""Kept so that old entries still read and verify; nothing records them any more."""


@dataclass
class Scene:
    """A report with a file, an administrator and an auditor signed in, and an inspector."""

    app: Flask
    clock: Clock
    report_id: str
    admin: FlaskClient
    auditor: FlaskClient
    admin_account: Account
    inspector_account: Account

    def report_page(self) -> TestResponse:
        return self.admin.get(f"/reports/{self.report_id}")

    def admin_post(self, path: str, fields: dict[str, str]) -> Callable[[], TestResponse]:
        """The POST, ready to send with a token from the page it is sent from."""
        data = {"csrf_token": csrf_token(self.report_page()), **fields}
        return lambda: self.admin.post(path, data=data)


@pytest.fixture
def scene(
    settings: Settings, session: Session, review_app: Flask, make_account, clock: Clock
) -> Scene:
    submit_app = create_submit_app(settings)
    answers = answers_for("workload", CANARY)
    upload = Upload(f"{CANARY} in the file".encode(), "evidence.txt", "text/plain")
    post_form(submit_app.test_client(), "/report/workload", answers, [upload])
    request_db.get_engine(submit_app).dispose()
    session.rollback()
    report_id = str(session.scalars(select(Report.id)).one())
    admin_account = make_account("ada", Role.ADMIN)
    auditor_account = make_account("aud", Role.AUDITOR)
    admin, auditor = review_app.test_client(), review_app.test_client()
    sign_in(admin, admin_account, clock)
    sign_in(auditor, auditor_account, clock)
    return Scene(
        review_app,
        clock,
        report_id,
        admin,
        auditor,
        admin_account,
        make_account("ivy", Role.INSPECTOR),
    )


def _sign_in(scene: Scene) -> Callable[[], TestResponse]:
    return lambda: sign_in(scene.app.test_client(), scene.inspector_account, scene.clock)


def _wrong_password(scene: Scene) -> Callable[[], TestResponse]:
    wrong = Account("ivy", Role.INSPECTOR, scene.inspector_account.totp_secret, "not it at all")
    return lambda: sign_in(scene.app.test_client(), wrong, scene.clock)


def _view_report(scene: Scene) -> Callable[[], TestResponse]:
    return scene.report_page


def _download(scene: Scene) -> Callable[[], TestResponse]:
    (path,) = re.findall(r'href="(/reports/[^"]+/files/[^"]+)"', scene.report_page().text)
    return lambda: scene.admin.get(path)


def _reply(scene: Scene) -> Callable[[], TestResponse]:
    return scene.admin_post(f"/reports/{scene.report_id}/reply", {"reply-text": "Thank you."})


def _note(scene: Scene) -> Callable[[], TestResponse]:
    return scene.admin_post(f"/reports/{scene.report_id}/notes", {"note-text": "Two others."})


def _triage(scene: Scene) -> Callable[[], TestResponse]:
    fields = {
        "triage-status": "assessing",
        "triage-priority": "high",
        "triage-assignee": "",
        "triage-labels": "caseload",
        "triage-outcome": "",
    }
    return scene.admin_post(f"/reports/{scene.report_id}/triage", fields)


def _link(scene: Scene) -> Callable[[], TestResponse]:
    # Another report to relate this one to, sent before the action
    other = _other_report(scene)
    return scene.admin_post(f"/reports/{scene.report_id}/links", {"link-reference": other})


def _other_report(scene: Scene) -> str:
    settings: Settings = scene.app.extensions["portal.settings"]
    submit_app = create_submit_app(settings)
    post_form(submit_app.test_client(), "/report/other", answers_for("other", "second"))
    request_db.get_engine(submit_app).dispose()
    with Session(request_db.get_engine(scene.app)) as session:
        ids = {str(report_id) for report_id in session.scalars(select(Report.id))}
    (other,) = ids - {scene.report_id}
    return other


def _export(scene: Scene) -> Callable[[], TestResponse]:
    return lambda: scene.admin.get("/dashboard/export.csv")


def _create_account(scene: Scene) -> Callable[[], TestResponse]:
    page = scene.admin.get("/admin/accounts/new")
    data = {"csrf_token": csrf_token(page), "username": "ben", "role": "inspector"}
    return lambda: scene.admin.post("/admin/accounts/new", data=data)


def _revoke(scene: Scene) -> Callable[[], TestResponse]:
    accounts = scene.admin.get("/admin/accounts")
    (path,) = re.findall(
        r'<td>ivy</td>.*?action="(/admin/accounts/[^"]+/revoke)"', accounts.text, re.S
    )
    data = {"csrf_token": csrf_token(accounts)}
    return lambda: scene.admin.post(path, data=data)


def _change_password(scene: Scene) -> Callable[[], TestResponse]:
    page = scene.admin.get("/account/password")
    data = {
        "csrf_token": csrf_token(page),
        "current": scene.admin_account.password,
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    return lambda: scene.admin.post("/account/password", data=data)


def _sign_out(scene: Scene) -> Callable[[], TestResponse]:
    data = {"csrf_token": csrf_token(scene.admin.get("/account/password"))}
    return lambda: scene.admin.post("/sign-out", data=data)


def _enrol(scene: Scene) -> Callable[[], TestResponse]:
    code = create_through_the_page(scene.admin, "ben")
    newcomer = scene.app.test_client()
    page = newcomer.get("/enrol")
    newcomer.post("/enrol", data={"csrf_token": csrf_token(page), "username": "ben", "code": code})
    setup = newcomer.get("/enrol/set-up")
    key = re.search(r'<code class="secret-text">([^<]+)</code>', setup.text).group(1)  # type: ignore[union-attr]
    secret = base64.b32decode(key.replace(" ", "") + "=" * (-len(key.replace(" ", "")) % 8))
    account = Account("ben", Role.INSPECTOR, secret, password=NEW_PASSWORD)
    data = {
        "csrf_token": csrf_token(setup),
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "code": account.code(scene.clock.now),
    }
    return lambda: newcomer.post("/enrol/set-up", data=data)


def _view_audit_log(scene: Scene) -> Callable[[], TestResponse]:
    return lambda: scene.auditor.get("/audit")


def _verify_audit_log(scene: Scene) -> Callable[[], TestResponse]:
    data = {"csrf_token": csrf_token(scene.auditor.get("/audit"))}
    return lambda: scene.auditor.post("/audit/verify", data=data)


def _rotate(scene: Scene) -> Callable[[], TestResponse]:
    data = {"csrf_token": csrf_token(scene.admin.get("/admin/keys"))}
    return lambda: scene.admin.post("/admin/keys/rotate", data=data)


ACTIONS: dict[str, tuple[AuditAction, Callable[[Scene], Callable[[], TestResponse]]]] = {
    "sign in": (AuditAction.SIGN_IN, _sign_in),
    "fail to sign in": (AuditAction.SIGN_IN_FAILED, _wrong_password),
    "view a report": (AuditAction.REPORT_VIEWED, _view_report),
    "download a file": (AuditAction.ATTACHMENT_DOWNLOADED, _download),
    "reply": (AuditAction.REPLY_SENT, _reply),
    "add a note": (AuditAction.NOTE_ADDED, _note),
    "change triage": (AuditAction.TRIAGE_CHANGED, _triage),
    "relate two reports": (AuditAction.TRIAGE_CHANGED, _link),
    "export the dashboard": (AuditAction.DASHBOARD_EXPORTED, _export),
    "create an account": (AuditAction.ACCOUNT_CREATED, _create_account),
    "revoke an account": (AuditAction.ACCOUNT_REVOKED, _revoke),
    "change a password": (AuditAction.PASSWORD_CHANGED, _change_password),
    "sign out": (AuditAction.SIGN_OUT, _sign_out),
    "enrol": (AuditAction.ENROLLED, _enrol),
    "read the audit log": (AuditAction.AUDIT_VIEWED, _view_audit_log),
    "verify the audit log": (AuditAction.AUDIT_VERIFIED, _verify_audit_log),
    "rotate the keys": (AuditAction.KEYS_ROTATED, _rotate),
}


def test_every_audited_action_of_the_pages_is_tried() -> None:
    covered = {action for action, _ in ACTIONS.values()}
    # Some actions are caused by a page and a command alike (rotating the keys)
    expected = (ACTIONS_OF_THE_COMMAND_LINE | ACTIONS_NO_LONGER_CAUSED) - covered
    assert set(AuditAction) - covered == expected


@pytest.mark.parametrize("name", ACTIONS)
def test_an_action_whose_audit_entry_fails_leaves_nothing_behind(
    name: str, scene: Scene, session: Session, settings: Settings
) -> None:
    # Given everything the action needs, prepared while the audit log still works
    action = ACTIONS[name][1](scene)
    entries_before = len(session.scalars(select(AuditEntry)).all())
    before = state_of(session, settings.blobs)

    # When the action is performed and its audit entry cannot be written
    with audit_writes_fail():
        response = action()

    # Then the person is told plainly that it failed, and shown nothing it would have shown
    assert response.status_code == 503, response.text
    assert "Traceback" not in response.text
    assert CANARY not in response.get_data(as_text=True)
    if response.request.method == "POST":
        assert "has not been saved" in response.text
    # And nothing of the action was kept: no row, no file, no audit entry
    assert state_of(session, settings.blobs) == before
    assert len(session.scalars(select(AuditEntry)).all()) == entries_before
