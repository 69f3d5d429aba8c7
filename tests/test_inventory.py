"""The inventory of stored fields: every column is either an age file or clear for a stated reason.

A new column must be added here, encrypted or with its reason, or the first test fails. After a
full run of every report kind, follow-up, reply, note and account, every encrypted column must
hold a well-formed age file that decrypts, and a ciphertext copied into another row must be
refused as that row's data.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from portal import create_submit_app, crypto, request_db
from portal.config import Settings
from portal.custody.host_key import HostKey
from portal.models import (
    Attachment,
    Author,
    Base,
    Message,
    Note,
    Report,
    ReportContent,
    Reviewer,
    Role,
)
from portal.services import casework, reviewers
from portal.services.blobs import BlobStore
from portal.services.casework import Case
from portal.services.documents import unseal_document
from portal.services.followup import add_message, read_thread
from portal.services.integrity import check_stored_ciphertexts
from tests.conftest import CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR
from tests.support.casework import case_of, problems
from tests.support.reviewers import epoch_keys_of
from tests.support.submitting import Upload, answers_for, post_form

NOW = datetime.datetime(2026, 11, 25, 10, 0)

# Each encrypted column, and how it is read: keyrings are scrypt files under a password (from
# custody version 2 sealed under the review-host key as well, DESIGN decision 3).
ENCRYPTED = {
    ("report_contents", "content"): "the report's answers, to the inspectorate",
    ("messages", "content"): "a follow-up or reply, to the inspectorate and the submitter",
    ("notes", "content"): "an internal note, to the inspectorate",
    ("attachments", "details"): "a file's name, type, size and metadata outcome",
    ("reviewers", "keyring"): (
        "a reviewer's TOTP secret and own identity, under scrypt, sealed under the review-host key"
    ),
    ("epoch_grants", "sealed_identity"): (
        "an epoch's identity, to one reader's own recipient or to the recovery recipient"
    ),
}
CLEAR = {
    ("reports", "id"): "random: reveals neither count nor order",
    ("reports", "kind"): "triage: the inbox filters by kind",
    ("reports", "urgent"): "triage: urgent reports are seen first",
    ("reports", "received_on"): "deadlines run from it; a UTC date, never a time",
    ("reports", "status"): "the inspectors' own triage state",
    ("reports", "region"): "optional; the form says inspectors can sort by it",
    ("reports", "codename_hash"): "Argon2id of the codename with a deployment salt",
    ("reports", "reply_recipient"): "a public key: replies are encrypted to it",
    ("reports", "priority"): "the inspectors' own triage state",
    ("reports", "assignee_id"): "the inspectors' own triage state",
    ("reports", "labels"): "the inspectors' own labels",
    ("reports", "acknowledged_on"): "deadline shown to inspectors; a date",
    ("reports", "closed_on"): "retention runs from it; a date",
    ("reports", "outcome"): "the dashboard counts outcomes",
    ("reports", "binding"): "a review-host MAC over the id, reply recipient and content's hash",
    ("messages", "binding"): "a review-host MAC over report, position, author, content's hash",
    ("attachments", "binding"): "a review-host MAC over report, message, description's hash",
    ("notes", "binding"): "a review-host MAC over report, position, author, content's hash",
    ("report_contents", "report_id"): "which report",
    ("messages", "id"): "random",
    ("messages", "report_id"): "which report",
    ("messages", "position"): "the order of the conversation, without times",
    ("messages", "author"): "who wrote it decides who can read it",
    ("messages", "sent_on"): "a UTC date, never a time",
    ("notes", "id"): "random",
    ("notes", "report_id"): "which report",
    ("notes", "position"): "the order of the notes",
    ("notes", "author_id"): "which inspector wrote it",
    ("notes", "written_on"): "a date",
    ("attachments", "id"): "random; also the blob's file name",
    ("attachments", "report_id"): "which report",
    ("attachments", "message_id"): "which message, if any",
    ("report_links", "report_id"): "inspectors' link between reports",
    ("report_links", "related_id"): "inspectors' link between reports",
    ("reviewers", "id"): "random",
    ("reviewers", "username"): "sign-in",
    ("reviewers", "role"): "what the account may do",
    ("reviewers", "password_hash"): "Argon2id of the password, keyed by the review-host key",
    ("reviewers", "totp_sealed"): "the TOTP secret, sealed under the review-host key",
    ("reviewers", "custody_version"): "whether the keyring and hashes use the review-host key",
    ("reviewers", "recipient"): "the public key of the reviewer's own identity, for grants",
    ("key_epochs", "number"): "which generation of the inspectorate's key",
    ("key_epochs", "recipient"): "the epoch's public key, as the submission host has it",
    ("key_epochs", "state"): "current, previous or retired",
    ("key_epochs", "created_on"): "a key's date, not a submitter's",
    ("epoch_grants", "id"): "random",
    ("epoch_grants", "epoch_number"): "which epoch the grant opens",
    ("epoch_grants", "reviewer_id"): "whose grant (none: the recovery recipient's)",
    ("epoch_grants", "recipient"): "the public key the grant is encrypted to",
    ("reviewers", "enrolment_hash"): (
        "Argon2id of the one-time enrolment code, keyed by the review-host key"
    ),
    ("reviewers", "enrolment_expires_at"): "the code's expiry",
    ("reviewers", "last_totp_step"): "a TOTP code is accepted once only",
    ("reviewers", "failed_sign_ins"): "failures since the last success, shown to administrators",
    ("reviewers", "created_at"): "a reviewer's account, not a submitter's time",
    ("reviewers", "revoked_at"): "a reviewer's account, not a submitter's time",
    ("review_sessions", "id"): "SHA-256 of the cookie's token, not the token",
    ("review_sessions", "reviewer_id"): "whose session",
    ("review_sessions", "created_at"): "absolute timeout",
    ("review_sessions", "last_seen_at"): "idle timeout",
    ("review_sessions", "sealed_keyring"): (
        "ChaCha20-Poly1305 under the cookie's key and the review-host key"
    ),
    ("review_sessions", "enrolling"): "an enrolment half done",
    ("audit_log", "sequence"): "order of reviewer actions",
    ("audit_log", "occurred_at"): "when a reviewer acted (not a submitter)",
    ("audit_log", "actor"): "which reviewer",
    ("audit_log", "action"): "what they did",
    ("audit_log", "subject"): "a report or account id, never content",
    ("audit_log", "detail"): "counts and triage changes, never content",
    ("audit_log", "previous_hash"): "the hash chain",
    ("audit_log", "entry_hash"): "the hash chain",
    ("audit_log", "head_signature"): "Ed25519 signature of the entry by the review host",
}


def test_every_column_is_declared_encrypted_or_clear_with_a_reason() -> None:
    columns = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
    }

    assert not set(ENCRYPTED) & set(CLEAR)
    assert columns - set(ENCRYPTED) - set(CLEAR) == set(), "undeclared columns"
    assert set(ENCRYPTED) | set(CLEAR) == columns, "declared columns that do not exist"
    assert all(reason.strip() for reason in [*ENCRYPTED.values(), *CLEAR.values()])


def test_the_migrated_database_has_exactly_the_declared_columns(engine) -> None:  # type: ignore[no-untyped-def]
    inspector = inspect(engine)
    columns = {
        (table, column["name"])
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for column in inspector.get_columns(table)
    }

    assert columns == set(ENCRYPTED) | set(CLEAR)


@pytest.fixture
def full_run(
    settings: Settings,
    session: Session,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> Session:
    """Every report kind with files, a follow-up with a file, a reply, a note, an account."""
    app: Flask = create_submit_app(settings)
    for slug in ("risk-rating", "workload", "other"):
        response = post_form(
            app.test_client(),
            f"/report/{slug}",
            answers_for(slug, f"inventory-{slug}"),
            [Upload(b"%PDF-1.4 not really", "a.pdf", "application/pdf"), Upload(b"x", "b.txt")],
        )
        assert response.status_code == 200
    request_db.get_engine(app).dispose()
    recipients = [inspectorate_identity.recipient()]
    account, _code = reviewers.create_account(
        session,
        username="ada",
        role=Role.INSPECTOR,
        epoch_keys=epoch_keys_of(session, inspectorate_identity, today=NOW.date()),
        policy=reviewers.AccountPolicy(CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR),
        host_key=host_key,
        now=NOW,
    )
    for report in session.scalars(select(Report)):
        add_message(
            session,
            report,
            author=Author.INSPECTOR,
            text="reply",
            recipients=recipients,
            today=NOW.date(),
        )
        casework.add_note(
            session,
            report,
            author=account,
            text="note",
            recipients=recipients,
            today=NOW.date(),
        )
    session.commit()
    return session


def test_after_a_full_run_every_encrypted_column_holds_an_age_file_that_decrypts(
    full_run: Session,
    settings: Settings,
    inspectorate_identity: crypto.HybridIdentity,
    host_key: HostKey,
) -> None:
    session, identities = full_run, [inspectorate_identity]

    # Every value and blob is a well-formed age file of the right recipient type...
    assert check_stored_ciphertexts(session, BlobStore(settings.blobs), host_key) == []
    # ...and each decrypts to the document of its own row
    reports = session.scalars(select(Report)).all()
    assert len(reports) == 3
    for report in reports:
        case = case_of(session, report, identities)
        assert case.document is not None and case.document["report_id"] == str(report.id)
        assert [view.name for view in case.attachments] == ["a.pdf", "b.txt"]  # type: ignore[union-attr]
        assert [entry.text for entry in case.thread] == ["reply"]  # type: ignore[union-attr]
        assert [note.text for note in case.notes] == ["note"]  # type: ignore[union-attr]
        assert [entry.text for entry in read_thread(session, report, identities)] == ["reply"]
    counts = {
        model: len(session.scalars(select(model)).all())
        for model in (Message, Note, Attachment, Reviewer)
    }
    assert counts == {Message: 3, Note: 3, Attachment: 6, Reviewer: 1}


@pytest.mark.parametrize(
    ("model", "column", "withheld"),
    [
        (ReportContent, "content", lambda case: [case.problem] if case.problem else []),
        (Note, "content", lambda case: problems(case.notes)),
        (Message, "content", lambda case: problems(case.thread)),
        (Attachment, "details", lambda case: problems(case.attachments)),
    ],
    ids=["report", "note", "message", "attachment"],
)
def test_a_ciphertext_copied_into_another_row_is_refused(
    full_run: Session,
    inspectorate_identity: crypto.HybridIdentity,
    model: type[Base],
    column: str,
    withheld: Callable[[Case], list[str]],
) -> None:
    # Given two rows, and the first's ciphertext copied over the second's
    session = full_run
    (key,) = inspect(model).primary_key
    first, second = session.scalars(select(model)).all()[:2]
    second_key = getattr(second, key.key)
    session.execute(update(model).where(key == second_key).values({column: getattr(first, column)}))
    session.commit()
    session.expire_all()

    # Then reading the second row withholds the content instead of showing the first's
    row = session.get(model, second_key)
    case = case_of(session, row.report, [inspectorate_identity])  # type: ignore[attr-defined]
    (problem,) = withheld(case)
    assert "another" in problem
    if model is Message:  # the submitter's side withholds it too
        thread = read_thread(session, row.report, [inspectorate_identity])  # type: ignore[attr-defined]
        assert None in [entry.text for entry in thread]
    assert unseal_document(getattr(first, column), [inspectorate_identity])
