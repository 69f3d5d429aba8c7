"""An inspector's work on a report: reading, files, replies, notes, triage, links."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_submit_app, crypto, request_db
from portal.config import Settings
from portal.custody.host_key import HostKey
from portal.models import Attachment, AuditEntry, Message, Note, Report, ReportStatus, Role
from portal.services import reviewers
from portal.services.blobs import BlobStore
from portal.services.codenames import CodenameKeys
from portal.services.documents import unseal_document
from tests.review.conftest import PASSWORD, Clock, reviewer_row, sign_in
from tests.support.pages import codename_in, csrf_token
from tests.support.submitting import Upload, answers_for, post_form

HOSTILE_NAME = "..\\..\u202etxt.exe\u202c/../../etc/passwd\u0007.txt"


@pytest.fixture
def submitted(settings: Settings) -> Iterator[CodenameKeys]:
    """A report with a file, sent through the submission site; the codename's keys."""
    app = create_submit_app(settings)
    answers = answers_for("risk-rating", "casework") | {
        "account": "First paragraph.\n\n<script>alert('x')</script> <img src=x onerror=alert(1)>",
    }
    page = post_form(
        app.test_client(),
        "/report/risk-rating",
        answers,
        [Upload(b"evidence bytes", HOSTILE_NAME, "text/html")],
    )
    yield app.extensions["portal.submit"].hasher.derive(codename_in(page))
    request_db.get_engine(app).dispose()


@pytest.fixture
def inspector(review_app: Flask, make_account, clock: Clock) -> FlaskClient:
    client = review_app.test_client()
    sign_in(client, make_account("ada", Role.INSPECTOR), clock)
    return client


def report_in(session: Session) -> Report:
    session.rollback()
    return session.scalars(select(Report)).one()


def actions(session: Session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))


@pytest.mark.usefixtures("submitted")
def test_the_report_page_shows_every_answer_with_hostile_text_inert(
    inspector: FlaskClient, session: Session
) -> None:
    report = report_in(session)

    page = inspector.get(f"/reports/{report.id}").text

    assert "RoSH level assessed" in page and "High" in page
    assert "senior manager casework" in page
    assert "<p>First paragraph.</p>" in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<img" not in page
    assert actions(session)[-1] == "report_viewed"


@pytest.mark.usefixtures("submitted")
def test_a_file_downloads_decrypted_as_an_attachment_with_a_harmless_name(
    inspector: FlaskClient, session: Session
) -> None:
    report = report_in(session)
    page = inspector.get(f"/reports/{report.id}").text
    (link,) = re.findall(r'href="(/reports/[^"]+/files/[^"]+)"', page)

    response = inspector.get(link)

    assert response.status_code == 200
    assert response.data == b"evidence bytes"
    # Declared as HTML by the submitter: sent as opaque bytes, never rendered
    assert response.mimetype == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "/" not in disposition.split("filename*=")[0].replace("attachment; ", "")
    assert "\u202e" not in disposition and "\u0007" not in disposition
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert actions(session)[-1] == "attachment_downloaded"


def test_a_reply_reaches_the_submitter_and_a_note_does_not(
    inspector: FlaskClient,
    session: Session,
    submitted: CodenameKeys,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    report = report_in(session)
    page = inspector.get(f"/reports/{report.id}")

    inspector.post(
        f"/reports/{report.id}/reply",
        data={"csrf_token": csrf_token(page), "reply-text": "Which office was this?"},
    )
    inspector.post(
        f"/reports/{report.id}/notes",
        data={"csrf_token": csrf_token(page), "note-text": "Matches two other reports."},
    )

    session.rollback()
    message = session.scalars(select(Message)).one()
    note = session.scalars(select(Note)).one()
    question, finding = "Which office was this?", "Matches two other reports."
    assert unseal_document(message.content, [submitted.reply_identity])["text"] == question
    assert unseal_document(message.content, [inspectorate_identity])["text"] == question
    assert unseal_document(note.content, [inspectorate_identity])["text"] == finding
    with pytest.raises(crypto.NoIdentityMatch):
        unseal_document(note.content, [submitted.reply_identity])
    shown = inspector.get(f"/reports/{report.id}").text
    assert "Which office was this?" in shown and "Matches two other reports." in shown
    assert {"reply_sent", "note_added"} <= set(actions(session))


@pytest.mark.usefixtures("submitted")
def test_triage_records_what_changed_and_closing_needs_an_outcome(
    inspector: FlaskClient, session: Session, clock: Clock
) -> None:
    report = report_in(session)
    page = inspector.get(f"/reports/{report.id}")
    form = {
        "csrf_token": csrf_token(page),
        "triage-status": "assessing",
        "triage-priority": "high",
        "triage-assignee": "",
        "triage-labels": " north ,, pressure ",
        "triage-outcome": "",
    }

    assert inspector.post(f"/reports/{report.id}/triage", data=form).status_code == 302
    refused = inspector.post(
        f"/reports/{report.id}/triage", data=form | {"triage-status": "closed"}
    )
    closed = inspector.post(
        f"/reports/{report.id}/triage",
        data=form | {"triage-status": "closed", "triage-outcome": "action_taken"},
    )

    assert refused.status_code == 400
    assert "Choose an outcome to close a report" in refused.text
    assert closed.status_code == 302
    report = report_in(session)
    assert report.status is ReportStatus.CLOSED
    assert report.labels == "north, pressure"
    assert report.acknowledged_on == clock.now.date()
    assert report.closed_on == clock.now.date()
    changes = session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "triage_changed")
    ).all()
    assert '"status":"new -> assessing"' in changes[0]


def test_an_auditors_keys_never_hold_the_identity(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    submitted: CodenameKeys,
    host_key: HostKey,
) -> None:
    client = review_app.test_client()
    sign_in(client, make_account("ida", Role.AUDITOR), clock)
    report = report_in(session)

    assert client.get(f"/reports/{report.id}").status_code == 403
    assert client.get("/audit").status_code == 200
    keyring = reviewers.open_keyring(reviewer_row(session, "ida"), PASSWORD, host_key)
    assert keyring is not None
    assert keyring.identity is None


def test_a_blob_swapped_with_another_attachments_is_refused(
    inspector: FlaskClient, session: Session, settings: Settings, submitted: CodenameKeys
) -> None:
    # Given the report's file, and a second attachment's blob copied over it (both decrypt with
    # the inspectorate's key: age alone cannot tell which attachment a file belongs to)
    report = report_in(session)
    app = create_submit_app(settings)
    post_form(
        app.test_client(),
        "/report/other",
        answers_for("other", "second"),
        [Upload(b"another file entirely", "other.txt", "text/plain")],
    )
    request_db.get_engine(app).dispose()
    session.rollback()
    target = session.scalars(select(Attachment).where(Attachment.report_id == report.id)).one()
    other = session.scalars(select(Attachment).where(Attachment.report_id != report.id)).one()
    blobs = BlobStore(settings.blobs)
    blobs.path_of(target.id).write_bytes(blobs.path_of(other.id).read_bytes())

    # When the inspector downloads the first report's file
    response = inspector.get(f"/reports/{report.id}/files/{target.id}")

    # Then nothing of the other file is handed over under this one's name
    assert response.status_code == 500
    assert b"another file entirely" not in response.data
    assert "Traceback" not in response.text
