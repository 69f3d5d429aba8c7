"""An inspector's work on a report, without the review site: triage, the answers as shown,
related reports, and attachments read back only as the files they were stored as.

Triage and the answers are worked out on report objects alone; the rest runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto, domain
from portal.models import (
    Attachment,
    Author,
    Outcome,
    Priority,
    Report,
    ReportKind,
    ReportLink,
    ReportStatus,
)
from portal.services import transaction
from portal.services.blobs import BlobStore
from portal.services.casework import (
    MAX_LABELS_LENGTH,
    AttachmentView,
    BlobMismatch,
    Triage,
    TriageError,
    answer_rows,
    change_triage,
    link_reports,
    open_attachment,
    related_reports,
    unlink_reports,
)
from portal.services.followup import add_message
from portal.services.intake import UploadPolicy
from tests.services.conftest import TODAY, StoreReport, receive
from tests.support.casework import case_of, problems

DAY = datetime.timedelta(days=1)
INSPECTOR_ID = uuid.uuid4()


def new_report() -> Report:
    """A report as it stands when it arrives, with the triage state its columns default to."""
    return Report(
        kind=ReportKind.OTHER,
        received_on=TODAY,
        status=ReportStatus.NEW,
        priority=Priority.NORMAL,
        assignee_id=None,
        labels="",
        outcome=None,
        acknowledged_on=None,
        closed_on=None,
    )


def triage(report: Report, **changed: object) -> Triage:
    """The triage form as it would be sent for `report`, with `changed` fields changed."""
    current = {
        "status": report.status,
        "priority": report.priority,
        "assignee_id": report.assignee_id,
        "labels": report.labels,
        "outcome": report.outcome,
    }
    return Triage(**(current | changed))  # type: ignore[arg-type]


# Triage


def test_only_what_changed_is_returned_for_the_audit_log() -> None:
    # Given a new report
    report = new_report()

    # When its status, priority and assignee change, and its labels are sent unchanged
    changes = change_triage(
        report,
        triage(
            report, status=ReportStatus.ASSESSING, priority=Priority.HIGH, assignee_id=INSPECTOR_ID
        ),
        today=TODAY,
    )

    # Then each change is named with its old and new value, and nothing else is
    assert changes == {
        "status": "new -> assessing",
        "priority": "normal -> high",
        "assignee_id": f"None -> {INSPECTOR_ID}",
    }
    assert (report.status, report.priority, report.assignee_id) == (
        ReportStatus.ASSESSING,
        Priority.HIGH,
        INSPECTOR_ID,
    )
    # and sending the same form again changes nothing
    assert change_triage(report, triage(report), today=TODAY + DAY) == {}


def test_closing_needs_an_outcome_and_a_refusal_changes_nothing() -> None:
    report = new_report()

    with pytest.raises(TriageError, match="outcome"):
        change_triage(
            report, triage(report, status=ReportStatus.CLOSED, priority=Priority.HIGH), today=TODAY
        )

    assert (report.status, report.priority) == (ReportStatus.NEW, Priority.NORMAL)
    assert (report.acknowledged_on, report.closed_on) == (None, None)


def test_acknowledged_and_closed_days_follow_the_reports_life() -> None:
    # Given a new report, worked on over several days
    report = new_report()
    day = [TODAY + n * DAY for n in range(6)]
    closed = {"status": ReportStatus.CLOSED, "outcome": Outcome.ACTION_TAKEN}

    # When it is taken up, it is acknowledged that day
    change_triage(report, triage(report, status=ReportStatus.ASSESSING), today=day[1])
    assert (report.acknowledged_on, report.closed_on) == (day[1], None)

    # When it is closed, it is closed that day; changed while closed, it keeps that day
    change_triage(report, triage(report, **closed), today=day[2])
    change_triage(report, triage(report, priority=Priority.LOW), today=day[3])
    assert (report.acknowledged_on, report.closed_on) == (day[1], day[2])
    assert report.outcome is Outcome.ACTION_TAKEN

    # When it is reopened, it is no longer closed and has no outcome, but stays acknowledged
    changes = change_triage(report, triage(report, status=ReportStatus.ESCALATED), today=day[4])
    assert (report.acknowledged_on, report.closed_on, report.outcome) == (day[1], None, None)
    assert changes["outcome"] == "action_taken -> None"

    # When it is set back to new, its acknowledgement is not forgotten
    change_triage(report, triage(report, status=ReportStatus.NEW), today=day[5])
    assert report.acknowledged_on == day[1]


def test_a_report_closed_straight_from_new_is_acknowledged_and_closed_the_same_day() -> None:
    report = new_report()

    change_triage(
        report,
        triage(report, status=ReportStatus.CLOSED, outcome=Outcome.DUPLICATE),
        today=TODAY + 3 * DAY,
    )

    assert report.acknowledged_on == report.closed_on == TODAY + 3 * DAY


def test_an_outcome_is_kept_only_for_a_closed_report() -> None:
    report = new_report()

    changes = change_triage(
        report,
        triage(report, status=ReportStatus.ASSESSING, outcome=Outcome.NO_ACTION),
        today=TODAY,
    )

    assert report.outcome is None
    assert "outcome" not in changes


def test_labels_are_tidied_and_limited() -> None:
    report = new_report()

    change_triage(report, triage(report, labels="  north ,, pressure ,  ,rota "), today=TODAY)
    assert report.labels == "north, pressure, rota"

    with pytest.raises(TriageError, match="labels"):
        change_triage(report, triage(report, labels="x" * (MAX_LABELS_LENGTH + 1)), today=TODAY)
    assert report.labels == "north, pressure, rota"
    change_triage(report, triage(report, labels="x" * MAX_LABELS_LENGTH), today=TODAY)
    assert report.labels == "x" * MAX_LABELS_LENGTH


def test_labels_are_measured_as_they_would_be_stored(
    stored_report: StoreReport, session: Session
) -> None:
    # Given labels typed without spaces: tidying puts one after each comma
    report, _keys = stored_report()
    typed = ",".join(["ab"] * 67)
    assert len(typed) == MAX_LABELS_LENGTH
    tidy = ", ".join(["ab"] * 67)
    assert len(tidy) > MAX_LABELS_LENGTH

    # When they are applied, then they are refused with the reason, and nothing changes
    with pytest.raises(TriageError, match="characters or fewer"):
        change_triage(report, triage(report, labels=typed), today=TODAY)
    assert report.labels == ""

    # And labels whose tidy form fits are kept in full, however many spaces were typed
    spaced = "  ,  ".join(["abc"] * 40)
    assert len(spaced) > MAX_LABELS_LENGTH
    change_triage(report, triage(report, labels=spaced), today=TODAY)
    transaction.finish(session)
    session.expire_all()
    assert session.get_one(Report, report.id).labels == ", ".join(["abc"] * 40)


# The answers as inspectors read them


def test_answers_are_shown_in_the_forms_order_with_unknown_ones_last() -> None:
    # Given answers stored in an order of their own, two of them from no form this one knows
    answers = {
        "zz_from_a_newer_form": "kept",
        "account": "In my own words.",
        "rosh_pressed": "medium",
        "an_older_question": 3,
        "rosh_assessed": "high",
    }
    document = {"answers": dict(answers)}

    # When they are turned into rows
    rows = answer_rows(document)

    # Then known questions come in the form's order, worded as inspectors read them, and the
    # unknown ones follow in the order they were stored, under their own names
    known = [name for name in domain.QUESTIONS if name in answers]
    unknown = [name for name in answers if name not in domain.QUESTIONS]
    assert known == ["rosh_assessed", "rosh_pressed", "account"]  # the premise of this test
    assert [row.question for row in rows] == [
        "RoSH level assessed",
        "RoSH level pressed to record",
        "Account in their own words",
        *unknown,
    ]
    assert [row.answer for row in rows] == ["High", "Medium", "In my own words.", "kept", "3"]
    # and the document itself is left as it was
    assert document == {"answers": answers}


def test_choices_are_shown_by_their_labels_and_free_text_as_text() -> None:
    rows = {
        row.question: row
        for row in answer_rows(
            {
                "answers": {
                    "consequences": ["contacts-missed", "police-checks"],
                    "when_month": 3,
                    "mappa_level": "a level since retired",
                    "caseload": 74,
                    "how": "told in supervision",
                    "reason": "",
                    "raised": None,
                }
            }
        )
    }

    assert rows["Consequences"].answer == (
        "Contacts with people on probation missed for weeks; "
        "Domestic abuse checks with the police not done"
    )
    assert rows["Month it happened"].answer == "March"
    assert rows["MAPPA level"].answer == "a level since retired"  # no label: the value itself
    assert rows["Caseload"].answer == "74"
    assert rows["Stated or implied reason"].answer == "Not answered"
    assert rows["Raised internally"].answer == "Not answered"
    free = {question for question, row in rows.items() if row.free_text}
    assert free == {"How the pressure was applied", "Stated or implied reason"}


# Related reports


def test_reports_are_related_once_from_either_side(
    stored_report: StoreReport, session: Session
) -> None:
    # Given three reports
    (first, _), (second, _), (third, _) = stored_report(), stored_report(), stored_report()

    # When the first and second are related from both sides, twice over, and the first to the
    # third
    for report, other in ((first, second), (second, first), (first, second), (first, third)):
        link_reports(session, report, other.id)
        transaction.finish(session)

    # Then the link is stored once, and each report sees its own relations
    assert len(session.scalars(select(ReportLink)).all()) == 2
    assert {report.id for report in related_reports(session, first)} == {second.id, third.id}
    assert [report.id for report in related_reports(session, second)] == [first.id]
    assert [report.id for report in related_reports(session, third)] == [first.id]


def test_a_report_cannot_be_related_to_itself_or_to_no_report(
    stored_report: StoreReport, session: Session
) -> None:
    report, _keys = stored_report()

    with pytest.raises(TriageError, match="itself"):
        link_reports(session, report, report.id)
    with pytest.raises(TriageError, match="no report"):
        link_reports(session, report, uuid.uuid4())
    transaction.finish(session)

    assert session.scalars(select(ReportLink)).all() == []


def test_unlinking_from_either_side_removes_the_relation_and_may_be_repeated(
    stored_report: StoreReport, session: Session
) -> None:
    (first, _), (second, _) = stored_report(), stored_report()
    link_reports(session, first, second.id)
    transaction.finish(session)

    unlink_reports(session, second, first.id)
    unlink_reports(session, second, first.id)
    transaction.finish(session)

    assert related_reports(session, first) == []
    assert related_reports(session, second) == []


# Attachments


def test_attachments_are_read_back_as_they_were_sent(
    stored_report: StoreReport,
    session: Session,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a report with a file, and a follow-up message with another
    content = b"the rota, week 14\n" * 5000
    report, _keys = stored_report([receive(upload_policy, content, "rota.txt")])
    message = add_message(
        session,
        report,
        author=Author.SUBMITTER,
        text="and the minutes",
        files=[receive(upload_policy, b"minutes", "minutes.txt")],
        recipients=recipients,
        today=TODAY,
    )
    transaction.finish(session)
    session.expire_all()

    # When the inspector reads the descriptions and opens each file
    views = {
        view.name: view
        for view in case_of(session, report, [inspectorate_identity]).attachments
        if isinstance(view, AttachmentView)
    }
    opened = {
        name: b"".join(open_attachment(blobs, view, [inspectorate_identity]))
        for name, view in views.items()
    }

    # Then each is described as sent, says which message it came with, and opens whole
    assert opened == {"rota.txt": content, "minutes.txt": b"minutes"}
    assert (views["rota.txt"].message_id, views["minutes.txt"].message_id) == (None, message.id)
    assert (views["rota.txt"].size, views["rota.txt"].content_type) == (len(content), "text/plain")


def test_a_blob_swapped_for_another_attachments_is_refused_before_a_byte_is_read(
    stored_report: StoreReport,
    session: Session,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    """Both blobs decrypt with the inspectorate's key: only the sealed hash tells them apart."""
    # Given two reports' files, the second's blob copied over the first's
    first, _ = stored_report([receive(upload_policy, b"the first file")])
    second, _ = stored_report([receive(upload_policy, b"another file entirely")])
    (target,) = case_of(session, first, [inspectorate_identity]).attachments
    (other,) = case_of(session, second, [inspectorate_identity]).attachments
    assert isinstance(target, AttachmentView) and isinstance(other, AttachmentView)
    blobs.path_of(target.id).write_bytes(blobs.path_of(other.id).read_bytes())

    # When the first is opened, then it is refused
    with pytest.raises(BlobMismatch):
        open_attachment(blobs, target, [inspectorate_identity])
    # while the second, untouched, still opens
    assert b"".join(open_attachment(blobs, other, [inspectorate_identity])) == (
        b"another file entirely"
    )


def test_a_description_moved_onto_another_attachment_is_refused(
    stored_report: StoreReport,
    session: Session,
    upload_policy: UploadPolicy,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a report with two files, the first's description copied onto the second's row
    report, _keys = stored_report(
        [receive(upload_policy, b"one", "one.txt"), receive(upload_policy, b"two", "two.txt")]
    )
    first, second = session.scalars(
        select(Attachment).where(Attachment.report_id == report.id)
    ).all()
    second.details = first.details
    transaction.finish(session)

    # When the descriptions are read, then it is withheld rather than shown under another name
    attachments = case_of(session, report, [inspectorate_identity]).attachments
    assert problems(attachments) == ["copied from another file's description"]


def test_a_key_that_does_not_open_the_file_fails_before_anything_is_sent(
    stored_report: StoreReport,
    session: Session,
    upload_policy: UploadPolicy,
    blobs: BlobStore,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    report, _keys = stored_report([receive(upload_policy, b"for the inspectorate")])
    (view,) = case_of(session, report, [inspectorate_identity]).attachments
    assert isinstance(view, AttachmentView)

    with pytest.raises(crypto.NoIdentityMatch):
        open_attachment(blobs, view, [crypto.generate_identity()])
