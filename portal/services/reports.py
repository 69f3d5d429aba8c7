"""Storing a new report: its answers and files, sealed for the inspectorate before any write.

The submission site stores reports connected, on PostgreSQL, as a role that may INSERT into
these tables and read none of them (`portal.database_roles`): everything here is a plain
INSERT of values made here, and nothing is read back.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Attachment, Report, ReportKind
from portal.services import transaction
from portal.services.codenames import CodenameKeys
from portal.services.contexts import attachment_context, report_context
from portal.services.documents import DOCUMENT_VERSION, seal_document
from portal.services.intake import ReceivedFile


@dataclass(frozen=True)
class NewReport:
    kind: ReportKind
    urgent: bool
    region: str | None
    answers: dict[str, Any]
    """The form's answers by field name: strings, numbers and lists of strings."""


def store_report(
    session: Session,
    new_report: NewReport,
    files: Sequence[ReceivedFile],
    *,
    recipients: Sequence[crypto.Recipient],
    codename_keys: CodenameKeys,
    today: datetime.date,
) -> Report:
    """Add `new_report` with its files; the caller's `transaction.finish` keeps both or neither."""
    report = Report(
        id=uuid.uuid4(),
        kind=new_report.kind,
        urgent=new_report.urgent,
        region=new_report.region,
        received_on=today,
        codename_hash=codename_keys.lookup,
        reply_recipient=str(codename_keys.reply_identity.recipient()),
    )
    document = {
        "version": DOCUMENT_VERSION,
        **report_context(report),
        "kind": new_report.kind.value,
        "urgent": new_report.urgent,
        "region": new_report.region,
        "answers": new_report.answers,
    }
    report.content = seal_document(document, recipients)
    session.add(report)
    if files:
        session.flush()  # the report's row before its files' rows, which refer to it
    add_attachments(session, report.id, files, recipients)
    return report


def add_attachments(
    session: Session,
    report_id: uuid.UUID,
    files: Sequence[ReceivedFile],
    recipients: Sequence[crypto.Recipient],
    message_id: uuid.UUID | None = None,
) -> None:
    """Add rows describing `files` (each named by its blob's id), sealed for `recipients`, and
    stage each blob to be published with them. The report's row (and the message's) must be
    stored, or flushed, first."""
    for file in files:
        attachment = Attachment(id=file.blob.id, report_id=report_id, message_id=message_id)
        document = file.description() | attachment_context(attachment)
        attachment.details = seal_document(document, recipients)
        session.add(attachment)
        transaction.stage(session, file.blob)
