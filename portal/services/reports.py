"""Storing a new report: its answers and files, sealed for the inspectorate before any write."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from portal import crypto
from portal.metadata import StripOutcome
from portal.models import Attachment, Message, Report, ReportKind
from portal.services.blobs import NewBlob
from portal.services.codenames import CodenameKeys
from portal.services.sealing import seal
from portal.services.storing import commit_with_blobs

DOCUMENT_VERSION = 1


@dataclass(frozen=True)
class NewReport:
    kind: ReportKind
    urgent: bool
    region: str | None
    answers: dict[str, Any]
    """The form's answers by field name: strings, numbers and lists of strings."""


@dataclass(frozen=True)
class ReceivedFile:
    """An uploaded file, already encrypted into `blob`, with what is known about it."""

    blob: NewBlob
    name: str
    content_type: str
    size: int
    outcome: StripOutcome

    def description(self) -> dict[str, Any]:
        return {
            "version": DOCUMENT_VERSION,
            "attachment_id": str(self.blob.id),
            "blob_sha256": self.blob.sha256,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "format": self.outcome.format,
            "metadata_removed": self.outcome.stripped,
            "metadata_note": self.outcome.note,
        }


def store_report(
    session: Session,
    new_report: NewReport,
    files: Sequence[ReceivedFile],
    *,
    recipients: Sequence[crypto.Recipient],
    codename_keys: CodenameKeys,
    today: datetime.date,
) -> Report:
    """Store `new_report` with its files, or nothing at all if any part fails."""
    report_id = uuid.uuid4()
    document = {
        "version": DOCUMENT_VERSION,
        "report_id": str(report_id),
        "kind": new_report.kind.value,
        "urgent": new_report.urgent,
        "region": new_report.region,
        "answers": new_report.answers,
    }
    report = Report(
        id=report_id,
        kind=new_report.kind,
        urgent=new_report.urgent,
        region=new_report.region,
        received_on=today,
        content=seal(document, recipients),
        codename_hash=codename_keys.lookup,
        reply_recipient=str(codename_keys.reply_identity.recipient()),
    )
    session.add(report)
    session.add_all(attachments_for(report, files, recipients))
    commit_with_blobs(session, [file.blob for file in files])
    return report


def attachments_for(
    report: Report,
    files: Sequence[ReceivedFile],
    recipients: Sequence[crypto.Recipient],
    message: Message | None = None,
) -> list[Attachment]:
    """Rows describing `files` (each named by its blob's id), sealed for `recipients`."""
    return [
        Attachment(
            id=file.blob.id,
            report=report,
            message=message,
            details=seal(file.description(), recipients),
        )
        for file in files
    ]
