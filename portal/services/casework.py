"""An inspector's work on one report: reading it, triage, notes, links, and replies.

Decryption happens here with the identity from the reviewer's session, for one request; the
plaintext goes to the page that asked for it and is never stored. Nothing here commits: the
view records the action in the audit log and commits both together.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from portal import crypto, domain
from portal.models import (
    Attachment,
    Author,
    Note,
    Outcome,
    Priority,
    Report,
    ReportLink,
    ReportStatus,
    Reviewer,
)
from portal.services.bindings import CaseReader
from portal.services.blobs import BlobStore
from portal.services.contexts import note_context
from portal.services.documents import DOCUMENT_VERSION, seal_document
from portal.services.positions import next_position

MAX_LABELS_LENGTH = 200


class BlobMismatch(Exception):
    """An attachment's blob is not the file its description was sealed with (replaced, swapped
    with another attachment's, or damaged)."""


class TriageError(Exception):
    """A triage change that cannot be made; the message says why, for the inspector."""


@dataclass(frozen=True)
class AttachmentView:
    id: uuid.UUID
    message_id: uuid.UUID | None
    name: str
    content_type: str
    size: int
    metadata_removed: bool
    metadata_note: str
    blob_sha256: str
    chunks_sha256: str | None
    """The hash of the blob's encrypted chunks, which survives re-keying; None in descriptions
    written before it was recorded (then the whole blob's hash is checked)."""


@dataclass(frozen=True)
class NoteView:
    author: str
    written_on: datetime.date
    text: str


@dataclass(frozen=True)
class MessageView:
    author: Author
    sent_on: datetime.date
    text: str
    file_count: int


@dataclass(frozen=True)
class Withheld:
    """A row that failed its integrity check, shown as a warning in its place."""

    problem: str


@dataclass(frozen=True)
class Case:
    """A report as the review site shows it, every sealed row checked (`CaseReader`)."""

    document: dict[str, Any] | None
    """The report's document; None if the report failed its check (`problem`)."""
    problem: str | None
    attachments: list[AttachmentView | Withheld]
    thread: list[MessageView | Withheld]
    notes: list[NoteView | Withheld]


def open_case(report: Report, reader: CaseReader) -> Case:
    """Every sealed row of `report`, each checked (and bound on first read) by `reader`."""
    document, problem = reader.open(report)
    attachments = read_attachments(report, reader)
    return Case(
        document=document,
        problem=problem,
        attachments=attachments,
        thread=read_conversation(report, reader, attachments),
        notes=read_notes(report, reader),
    )


@dataclass(frozen=True)
class AnswerRow:
    question: str
    answer: str
    free_text: bool
    """Shown as paragraphs of inert text rather than as a single value."""


def answer_rows(document: dict[str, Any]) -> list[AnswerRow]:
    """The report's answers in the order the form asks them, worded for inspectors.

    Answers the catalogue does not know (from a newer or older form) are still shown, last.
    """
    answers: dict[str, Any] = dict(document.get("answers", {}))
    rows = []
    for name, (question, choices) in [*domain.QUESTIONS.items(), *_unknown(answers)]:
        if name not in answers:
            continue
        value = answers.pop(name)
        if value in (None, "", []):
            text = "Not answered"
        elif choices is not None:
            values = value if isinstance(value, list) else [value]
            text = "; ".join(str(domain.label_of(choices, str(item))) for item in values)
        else:
            text = str(value)
        rows.append(AnswerRow(question, text, choices is None and isinstance(value, str)))
    return rows


def _unknown(answers: dict[str, Any]) -> list[tuple[str, tuple[str, None]]]:
    return [(name, (name, None)) for name in answers if name not in domain.QUESTIONS]


def read_attachments(report: Report, reader: CaseReader) -> list[AttachmentView | Withheld]:
    return [read_attachment(attachment, reader) for attachment in report.attachments]


def read_attachment(attachment: Attachment, reader: CaseReader) -> AttachmentView | Withheld:
    """One file's description, checked by `reader`."""
    details, problem = reader.open(attachment)
    if details is None:
        return Withheld(problem or "")
    return AttachmentView(
        id=attachment.id,
        message_id=attachment.message_id,
        name=str(details["name"]),
        content_type=str(details["content_type"]),
        size=int(details["size"]),
        metadata_removed=bool(details["metadata_removed"]),
        metadata_note=str(details["metadata_note"]),
        blob_sha256=str(details["blob_sha256"]),
        chunks_sha256=details.get("chunks_sha256"),
    )


def read_conversation(
    report: Report, reader: CaseReader, attachments: Sequence[AttachmentView | Withheld]
) -> list[MessageView | Withheld]:
    """The conversation, oldest first; each message counts its files among `attachments`
    (the report's, as read: a file that failed its check counts for no message)."""
    file_counts = Counter(
        view.message_id for view in attachments if isinstance(view, AttachmentView)
    )
    views: list[MessageView | Withheld] = []
    for message in report.messages:
        document, problem = reader.open(message)
        if document is None:
            views.append(Withheld(problem or ""))
            continue
        views.append(
            MessageView(
                author=message.author,
                sent_on=message.sent_on,
                text=str(document["text"]),
                file_count=file_counts[message.id],
            )
        )
    return views


def open_attachment(
    blobs: BlobStore, attachment: AttachmentView, identities: Sequence[crypto.Identity]
) -> Iterator[bytes]:
    """The attachment's plaintext as authenticated chunks, decrypted as they are sent.

    Before anything is sent, the blob must be the one its description was sealed with
    (BlobMismatch otherwise: age authenticates a file, not which attachment it belongs to) and
    its header must open (a wrong key fails here). A corrupt payload then raises PayloadError
    part way, ending the download short rather than handing over an unauthenticated byte.
    """
    if attachment.chunks_sha256 is not None:
        try:
            matches = blobs.chunks_sha256_of(attachment.id) == attachment.chunks_sha256
        except crypto.AgeError:  # not even an age header: not the file it was
            matches = False
    else:
        matches = blobs.sha256_of(attachment.id) == attachment.blob_sha256
    if not matches:
        raise BlobMismatch("the blob is not the file this attachment was stored with")
    source = blobs.open(attachment.id)
    try:
        chunks = crypto.decrypt_chunks(source, identities)
    except BaseException:
        source.close()
        raise
    return _closing(chunks, source)


def _closing(chunks: Iterator[bytes], source: Any) -> Iterator[bytes]:
    with source:
        yield from chunks


def read_notes(report: Report, reader: CaseReader) -> list[NoteView | Withheld]:
    views: list[NoteView | Withheld] = []
    for note in report.notes:
        document, problem = reader.open(note)
        if document is None:
            views.append(Withheld(problem or ""))
            continue
        views.append(
            NoteView(
                author=note.author.username if note.author else "(removed account)",
                written_on=note.written_on,
                text=str(document["text"]),
            )
        )
    return views


def add_note(
    session: Session,
    report: Report,
    *,
    author: Reviewer,
    text: str,
    recipients: Sequence[crypto.Recipient],
    today: datetime.date,
) -> Note:
    note = Note(
        id=uuid.uuid4(),
        report_id=report.id,
        report=report,
        position=next_position(session, Note.position, Note.report_id, report.id),
        author_id=author.id,
        author=author,
        written_on=today,
    )
    note.content = seal_document(
        {"version": DOCUMENT_VERSION, **note_context(note), "text": text}, recipients
    )
    session.add(note)
    return note


@dataclass(frozen=True)
class Triage:
    status: ReportStatus
    priority: Priority
    assignee_id: uuid.UUID | None
    labels: str
    outcome: Outcome | None


def change_triage(report: Report, triage: Triage, *, today: datetime.date) -> dict[str, str]:
    """Apply `triage`; return what changed (field: "old -> new"), for the audit log."""
    if triage.status is ReportStatus.CLOSED and triage.outcome is None:
        raise TriageError("choose an outcome to close a report")
    # Tidied first, then measured: what is stored must fit the column, and spaces typed
    # around the commas must not count against the inspector.
    labels = ", ".join(label.strip() for label in triage.labels.split(",") if label.strip())
    if len(labels) > MAX_LABELS_LENGTH:
        raise TriageError(f"labels must be {MAX_LABELS_LENGTH} characters or fewer")
    changes = {}
    for field, new in (
        ("status", triage.status),
        ("priority", triage.priority),
        ("assignee_id", triage.assignee_id),
        ("labels", labels),
        ("outcome", triage.outcome if triage.status is ReportStatus.CLOSED else None),
    ):
        old = getattr(report, field)
        if old != new:
            changes[field] = f"{old} -> {new}"
            setattr(report, field, new)
    if report.status is not ReportStatus.NEW and report.acknowledged_on is None:
        report.acknowledged_on = today
    report.closed_on = (report.closed_on or today) if report.status is ReportStatus.CLOSED else None
    return changes


def link_reports(session: Session, report: Report, other_id: uuid.UUID) -> None:
    if other_id == report.id:
        raise TriageError("a report cannot be related to itself")
    if session.get(Report, other_id) is None:
        raise TriageError("there is no report with that reference")
    first, second = sorted([report.id, other_id])
    if session.get(ReportLink, (first, second)) is None:
        session.add(ReportLink(report_id=first, related_id=second))


def unlink_reports(session: Session, report: Report, other_id: uuid.UUID) -> None:
    first, second = sorted([report.id, other_id])
    session.execute(
        delete(ReportLink).where(ReportLink.report_id == first, ReportLink.related_id == second)
    )


def related_reports(session: Session, report: Report) -> list[Report]:
    links = session.execute(
        select(ReportLink).where(
            or_(ReportLink.report_id == report.id, ReportLink.related_id == report.id)
        )
    ).scalars()
    ids = [link.related_id if link.report_id == report.id else link.report_id for link in links]
    if not ids:
        return []
    return list(session.scalars(select(Report).where(Report.id.in_(ids))))
