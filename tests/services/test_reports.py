"""Storing a report: sealed for the inspectorate and bound to its row, a few triage columns in
the clear, its files staged and kept with it or not at all.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Attachment, Report, ReportContent, ReportKind, ReportStatus
from portal.services import transaction
from portal.services.blobs import BlobStore, StorageUnavailable
from portal.services.contexts import attachment_context
from portal.services.documents import unseal_document
from portal.services.intake import UploadPolicy
from portal.services.reports import NewReport, store_report
from tests.services.conftest import TODAY, files_in, new_codename_keys, receive
from tests.support.casework import case_of


def canary() -> str:
    return f"canary-{secrets.token_hex(8)}"


def count(engine: Engine, model: type[object]) -> int:
    """Rows of `model` as another connection sees them: what has been committed."""
    with Session(engine) as other:
        return other.scalar(select(func.count()).select_from(model)) or 0


def test_the_report_is_sealed_for_the_inspectorate_and_names_its_row(
    session: Session,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a report's answers, with a canary in the free text
    secret = canary()
    answers = {"rosh_assessed": "high", "how": f"told in supervision {secret}", "when_year": 2026}
    keys = new_codename_keys()

    # When it is stored and kept
    report = store_report(
        session,
        NewReport(kind=ReportKind.RISK_RATING, urgent=True, region="wales", answers=answers),
        [],
        recipients=recipients,
        codename_keys=keys,
        today=TODAY,
    )
    transaction.finish(session)

    # Then the inspectorate reads exactly what was sent, in a document naming this report
    content = session.get_one(ReportContent, report.id).content
    document = unseal_document(
        content, [inspectorate_identity], bound_to={"report_id": str(report.id)}
    )
    assert document["answers"] == answers
    assert (document["kind"], document["urgent"], document["region"]) == (
        "risk_rating",
        True,
        "wales",
    )
    assert secret.encode() not in content
    # and the submitter's reply key, which opens replies, does not open the report
    with pytest.raises(crypto.NoIdentityMatch):
        crypto.decrypt(content, [keys.reply_identity])


def test_only_what_triage_needs_is_kept_in_the_clear(
    session: Session, recipients: list[crypto.Recipient]
) -> None:
    # Given a report with a canary in every answer
    secret = canary()
    keys = new_codename_keys()
    new_report = NewReport(
        kind=ReportKind.WORKLOAD,
        urgent=False,
        region="london",
        answers={"account": f"account {secret}", "caseload": f"74 {secret}"},
    )

    # When it is stored and kept
    report = store_report(
        session, new_report, [], recipients=recipients, codename_keys=keys, today=TODAY
    )
    transaction.finish(session)

    # Then its row holds the kind, urgency, region and day received, the codename's lookup and
    # reply key, and a fresh triage state; nothing the submitter wrote
    table = Report.__table__
    clear = session.execute(select(table).where(table.c.id == report.id)).one()
    assert secret not in repr(tuple(clear))
    session.expire_all()
    stored = session.get_one(Report, report.id)
    assert (stored.kind, stored.urgent, stored.region, stored.received_on) == (
        ReportKind.WORKLOAD,
        False,
        "london",
        TODAY,
    )
    assert stored.codename_hash == keys.lookup
    assert stored.reply_recipient == str(keys.reply_identity.recipient())
    assert (stored.status, stored.assignee_id, stored.labels, stored.outcome) == (
        ReportStatus.NEW,
        None,
        "",
        None,
    )
    assert (stored.acknowledged_on, stored.closed_on) == (None, None)


def test_each_file_is_described_under_its_blobs_id_and_kept_with_the_report(
    session: Session,
    engine: Engine,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given two files received for a report
    files = [
        receive(upload_policy, b"rota " * 2000, "rota.txt"),
        receive(upload_policy, b"%PDF-1.4 not really", "memo.pdf", "application/pdf"),
    ]

    # When the report is stored, before the transaction is finished
    report = store_report(
        session,
        NewReport(kind=ReportKind.OTHER, urgent=False, region=None, answers={}),
        files,
        recipients=recipients,
        codename_keys=new_codename_keys(),
        today=TODAY,
    )
    session.flush()

    # Then nothing is committed, and the blobs are still staged under hidden names
    assert (count(engine, Report), count(engine, Attachment)) == (0, 0)
    assert all(name.startswith(".") and name.endswith(".part") for name in files_in(blobs))

    # When it is finished
    transaction.finish(session)

    # Then each file has a row named by its blob's id, with a description bound to that row,
    # and its blob published under that id, decrypting to the file sent
    assert (count(engine, Report), count(engine, Attachment)) == (1, 2)
    assert files_in(blobs) == sorted(f"{file.blob.id}.age" for file in files)
    for file in files:
        attachment = session.get_one(Attachment, file.blob.id)
        assert attachment.report_id == report.id and attachment.message_id is None
        details = unseal_document(
            attachment.details,
            [inspectorate_identity],
            bound_to=attachment_context(attachment),
        )
        assert details == file.description() | attachment_context(attachment)
        stored = crypto.decrypt(blobs.path_of(file.blob.id).read_bytes(), [inspectorate_identity])
        assert len(stored) == file.size


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("COMMIT", {}, Exception("server closed the connection")),
        OSError(28, "No space left on device"),
    ],
    ids=["database-gone", "disk-full"],
)
def test_a_report_whose_commit_fails_leaves_no_row_and_no_file(
    session: Session,
    engine: Engine,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    recipients: list[crypto.Recipient],
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    # Given a report with a file, and a database that fails at the moment of commit
    store_report(
        session,
        NewReport(kind=ReportKind.OTHER, urgent=False, region=None, answers={"account": "x"}),
        [receive(upload_policy, b"kept?")],
        recipients=recipients,
        codename_keys=new_codename_keys(),
        today=TODAY,
    )

    def fail(self: Session) -> None:
        raise failure

    monkeypatch.setattr(Session, "commit", fail)

    # When the transaction is finished
    with pytest.raises(StorageUnavailable):
        transaction.finish(session)
    monkeypatch.undo()

    # Then the submitter can be told the truth: nothing of the report is kept anywhere
    assert files_in(blobs) == []
    assert (count(engine, Report), count(engine, ReportContent), count(engine, Attachment)) == (
        0,
        0,
        0,
    )


def test_a_report_left_unfinished_publishes_nothing(
    session: Session,
    engine: Engine,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    recipients: list[crypto.Recipient],
) -> None:
    """A request that fails after `store_report` (a rendering error, say) is rolled back."""
    file = receive(upload_policy, b"never kept")
    store_report(
        session,
        NewReport(kind=ReportKind.OTHER, urgent=False, region=None, answers={}),
        [file],
        recipients=recipients,
        codename_keys=new_codename_keys(),
        today=TODAY,
    )
    session.flush()

    session.rollback()

    assert files_in(blobs) == []
    assert count(engine, Report) == 0


def test_a_report_moved_onto_another_row_is_refused(
    session: Session,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    """age has no associated data: only the id inside the document ties it to its row."""
    # Given two stored reports, and the first one's ciphertext copied onto the second
    reports = [
        store_report(
            session,
            NewReport(kind=ReportKind.OTHER, urgent=False, region=None, answers={"n": n}),
            [],
            recipients=recipients,
            codename_keys=new_codename_keys(),
            today=TODAY,
        )
        for n in (1, 2)
    ]
    transaction.finish(session)
    first, second = reports
    second.content = first.content
    transaction.finish(session)

    # When the second is read, then it is refused rather than shown with the first's answers
    first_case = case_of(session, first, [inspectorate_identity])
    assert first_case.document is not None and first_case.document["answers"] == {"n": 1}
    second_case = case_of(session, second, [inspectorate_identity])
    assert second_case.document is None
    assert second_case.problem == "moved from another report"
