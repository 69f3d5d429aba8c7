"""Every reviewer action in the review site leaves one audit entry, naming who did what to which
report, and never what the report says.

The command line's actions (accounts, key recovery, retention, verification) are checked beside
their commands: tests/cli/test_users.py, tests/cli/test_retention.py, tests/cli/test_audit.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_submit_app, request_db
from portal.config import Settings
from portal.models import AuditEntry, Report, Role
from portal.services.audit import AuditAction, verify_chain
from tests.review.conftest import Account, Clock, sign_in
from tests.review.test_accounts import NEW_PASSWORD, create_through_the_page
from tests.support.pages import csrf_token
from tests.support.submitting import Upload, answers_for, post_form

CANARY = "canary-audit-7f3e91"
"""Written into every answer and file of the report: it must never reach the audit log."""

ACTIONS_OF_THE_COMMAND_LINE = {
    AuditAction.KEYS_RECOVERED,  # portal keys recover
    AuditAction.RETENTION_RUN,  # portal retention run
    AuditAction.REPORT_DESTROYED,  # portal retention run
    AuditAction.KEYS_ROTATED,  # portal keys rotate
    AuditAction.KEYS_GRANTED,  # portal users grant
    AuditAction.EPOCH_RETIRED,  # portal keys rekey
}
"""Actions no page can cause. `account_created`, `account_revoked` and `audit_verified` are
caused by both pages and commands, and are checked here for the pages."""

ACTIONS_NO_LONGER_CAUSED = {
    AuditAction.ACCOUNT_LOCKED,  # no lock-out since custody version 2 (DESIGN decision 7)
}
"""Actions kept so that old entries still read and verify, which nothing records any more."""


@pytest.fixture
def report_id(settings: Settings, session: Session) -> Iterator[str]:
    """A report with a file, sent through the submission site with the canary everywhere."""
    app = create_submit_app(settings)
    answers = answers_for("risk-rating", CANARY) | {"account": f"{CANARY} in the account."}
    post_form(
        app.test_client(),
        "/report/risk-rating",
        answers,
        [Upload(f"{CANARY} in the file".encode(), f"{CANARY}.txt", "text/plain")],
    )
    request_db.get_engine(app).dispose()
    session.rollback()
    yield str(session.scalars(select(Report.id)).one())


class AuditTrail:
    """Reads the audit entries added since the last look."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._seen = 0

    def new_entries(self) -> list[AuditEntry]:
        self._session.rollback()  # a fresh transaction sees what the app committed
        entries = list(
            self._session.scalars(
                select(AuditEntry)
                .where(AuditEntry.sequence > self._seen)
                .order_by(AuditEntry.sequence)
            )
        )
        if entries:
            self._seen = entries[-1].sequence
        return entries

    def expect(self, action: AuditAction, actor: str, subject: str | None = None) -> AuditEntry:
        """The one entry added since the last look: this action, by this actor, on this subject."""
        entries = self.new_entries()
        assert [(entry.action, entry.actor) for entry in entries] == [(action, actor)]
        if subject is not None:
            assert entries[0].subject == subject
        return entries[0]


def test_every_page_action_leaves_one_entry_with_no_report_content(
    review_app: Flask, make_account, clock: Clock, session: Session, report_id: str
) -> None:
    trail = AuditTrail(session)
    admin_account = make_account("ada", Role.ADMIN)
    auditor_account = make_account("aud", Role.AUDITOR)
    admin, auditor, stranger = (review_app.test_client() for _ in range(3))
    seen: set[str] = set()

    def expect(action: AuditAction, actor: str, subject: str | None = None) -> AuditEntry:
        seen.add(action)
        return trail.expect(action, actor, subject)

    # Signing in, and failing to, again and again: each failure is one entry, and none locks
    sign_in(admin, admin_account, clock)
    expect(AuditAction.SIGN_IN, "ada")
    wrong = Account("aud", Role.AUDITOR, auditor_account.totp_secret, password="not the password")
    sign_in(stranger, wrong, clock)
    failed = expect(AuditAction.SIGN_IN_FAILED, "aud")
    assert "not the password" not in failed.detail
    for _ in range(4):
        sign_in(stranger, wrong, clock)
    entries = trail.new_entries()
    seen.update(entry.action for entry in entries)
    assert [entry.action for entry in entries] == [AuditAction.SIGN_IN_FAILED] * 4

    # Reading, downloading, replying to, noting and triaging a report
    page = admin.get(f"/reports/{report_id}")
    expect(AuditAction.REPORT_VIEWED, "ada", report_id)
    ((file_path, attachment_id),) = re.findall(r'href="(/reports/[^"]+/files/([^"]+))"', page.text)
    assert admin.get(file_path).status_code == 200
    download = expect(AuditAction.ATTACHMENT_DOWNLOADED, "ada", report_id)
    assert attachment_id in download.detail
    csrf = csrf_token(page)
    admin.post(f"/reports/{report_id}/reply", data={"csrf_token": csrf, "reply-text": "Thanks."})
    expect(AuditAction.REPLY_SENT, "ada", report_id)
    admin.post(f"/reports/{report_id}/notes", data={"csrf_token": csrf, "note-text": "Noted."})
    expect(AuditAction.NOTE_ADDED, "ada", report_id)
    triage = {
        "csrf_token": csrf,
        "triage-status": "assessing",
        "triage-priority": "high",
        "triage-assignee": "",
        "triage-labels": "",
        "triage-outcome": "",
    }
    assert admin.post(f"/reports/{report_id}/triage", data=triage).status_code == 302
    change = expect(AuditAction.TRIAGE_CHANGED, "ada", report_id)
    assert '"status":"new -> assessing"' in change.detail

    # The dashboard's export; accounts made and revoked
    export = admin.get("/dashboard/export.csv")
    assert export.status_code == 200
    expect(AuditAction.DASHBOARD_EXPORTED, "ada")
    create_through_the_page(admin, "ben")
    expect(AuditAction.ACCOUNT_CREATED, "ada")
    accounts = admin.get("/admin/accounts")
    (revoke,) = re.findall(
        r'<td>ben</td>.*?action="(/admin/accounts/[^"]+/revoke)"', accounts.text, re.S
    )
    admin.post(revoke, data={"csrf_token": csrf_token(accounts)})
    expect(AuditAction.ACCOUNT_REVOKED, "ada")

    # A password change, and signing out
    form = admin.get("/account/password")
    admin.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(form),
            "current": admin_account.password,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    expect(AuditAction.PASSWORD_CHANGED, "ada")
    admin.post("/sign-out", data={"csrf_token": csrf_token(form)})
    expect(AuditAction.SIGN_OUT, "ada")

    # The auditor's reading and checking of the log
    sign_in(auditor, auditor_account, clock)  # at once: the failures above locked nothing
    expect(AuditAction.SIGN_IN, "aud")
    log = auditor.get("/audit")
    expect(AuditAction.AUDIT_VIEWED, "aud")
    auditor.post("/audit/verify", data={"csrf_token": csrf_token(log)})
    expect(AuditAction.AUDIT_VERIFIED, "aud")

    # Then every action is accounted for, nothing from the report reached the log, and the chain
    # still verifies
    enrolled = {AuditAction.ENROLLED}  # tests/review/test_accounts.py enrols through the pages
    assert set(AuditAction) - seen - enrolled == (
        ACTIONS_OF_THE_COMMAND_LINE | ACTIONS_NO_LONGER_CAUSED
    )
    session.rollback()
    for entry in session.scalars(select(AuditEntry)):
        assert CANARY not in f"{entry.actor} {entry.action} {entry.subject} {entry.detail}"
    assert verify_chain(session).ok
