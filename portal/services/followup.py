"""Two-way follow-up: finding a report by codename, its conversation, new messages, ending it.

Messages are sealed for the inspectorate and for the submitter's reply key together, so both
sides can read the whole conversation; the report itself stays readable by the inspectorate only.
This is the review site's side, with the report's row at hand; the submitter's side, which
reaches a conversation by its codename's lookup token only, is `portal.services.conversations`.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Attachment, Author, Message, Report
from portal.services.contexts import Context, message_context
from portal.services.documents import (
    DOCUMENT_VERSION,
    DocumentError,
    seal_document,
    unseal_document,
)
from portal.services.intake import ReceivedFile
from portal.services.positions import next_position
from portal.services.reports import add_attachments


class FollowUpClosed(Exception):
    """The submitter has ended follow-up: no message can be sent or read with a codename."""


@dataclass(frozen=True)
class ThreadEntry:
    author: Author
    sent_on: datetime.date
    text: str | None
    """None when the message failed its check and is withheld."""
    file_count: int


def read_thread(
    session: Session, report: Report, identities: Sequence[crypto.Identity]
) -> list[ThreadEntry]:
    """The conversation, oldest first, decrypted with `identities` (the reply key, or the
    inspectorate's)."""
    file_counts = dict(
        session.execute(
            select(Attachment.message_id, func.count())
            .where(Attachment.report_id == report.id, Attachment.message_id.is_not(None))
            .group_by(Attachment.message_id)
        ).all()
    )
    return [
        thread_entry(
            message_context(message),
            message.author,
            message.sent_on,
            message.content,
            file_counts.get(message.id, 0),
            identities=identities,
        )
        for message in report.messages
    ]


def thread_entry(
    context: Context,
    author: Author,
    sent_on: datetime.date,
    content: bytes,
    file_count: int,
    *,
    identities: Sequence[crypto.Identity],
) -> ThreadEntry:
    """One message of a conversation, decrypted, or withheld (text None) when its ciphertext
    does not open or was sealed for another place than `context` says (moved, relabelled or
    reordered in the database)."""
    try:
        document = unseal_document(content, identities, bound_to=context)
    except (crypto.AgeError, DocumentError):
        return ThreadEntry(author=author, sent_on=sent_on, text=None, file_count=file_count)
    return ThreadEntry(
        author=author, sent_on=sent_on, text=str(document["text"]), file_count=file_count
    )


def add_message(
    session: Session,
    report: Report,
    *,
    author: Author,
    text: str,
    files: Sequence[ReceivedFile] = (),
    recipients: Sequence[crypto.Recipient],
    today: datetime.date,
) -> Message:
    """Add a message from `author`, readable by the inspectorate and the submitter.

    Files go to the inspectorate only. Raises FollowUpClosed once the submitter has ended it.
    The caller finishes the transaction (`transaction.finish`), which publishes the files.
    """
    if report.reply_recipient is None:
        raise FollowUpClosed("the submitter has ended follow-up on this report")
    readers = [*recipients, crypto.parse_recipient(report.reply_recipient)]
    message = Message(
        id=uuid.uuid4(),
        report_id=report.id,
        report=report,
        position=next_position(session, Message.position, Message.report_id, report.id),
        author=author,
        sent_on=today,
    )
    message.content = seal_document(
        {"version": DOCUMENT_VERSION, **message_context(message), "text": text}, readers
    )
    session.add(message)
    if files:
        session.flush()  # the message's row before its files' rows, which refer to it
    add_attachments(session, report.id, files, recipients, message_id=message.id)
    return message
