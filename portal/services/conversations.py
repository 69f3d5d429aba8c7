"""The submitter's side of follow-up: a conversation reached by its codename's lookup token only.

On PostgreSQL the submission site connects as a role that can read no table and update
nothing (DESIGN decision 9, `portal.database_roles`). It reaches an existing conversation only
through the follow-up functions of migration 0007, each keyed by the lookup token, so a caller
without a report's token can neither read nor change it. SQLite has no roles: there the same
functions below run ordinary queries that do the same thing. Either way nothing here keeps an
ORM object of a row it did not write, so nothing is ever read back after a commit.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Attachment, Author, Message, Report
from portal.services.contexts import message_context_of
from portal.services.documents import DOCUMENT_VERSION, seal_document
from portal.services.followup import FollowUpClosed, ThreadEntry, thread_entry
from portal.services.intake import ReceivedFile
from portal.services.positions import next_position
from portal.services.reports import add_attachments

_CLOSED_OR_UNKNOWN = "P0002"  # no_data_found, raised by portal_followup_add_message


@dataclass(frozen=True)
class Conversation:
    """An open conversation, as its lookup token opens it: what the submitter's side may know.

    On PostgreSQL, opening it locked its list of messages until the transaction ends (as
    `portal.services.positions` does for the review site), so `next_position` stays the next.
    """

    lookup: bytes
    report_id: uuid.UUID
    reply_recipient: str
    received_on: datetime.date
    next_position: int

    def __repr__(self) -> str:  # the lookup token opens the conversation: never in a log
        return f"<Conversation of {self.report_id}>"


def open_conversation(session: Session, lookup: bytes) -> Conversation | None:
    """The conversation `lookup` opens, or None if no report has it or follow-up has ended."""
    if _on_postgresql(session):
        row = session.execute(
            sql_text(
                "SELECT report_id, reply_recipient, received_on, next_position"
                " FROM portal_followup_open(:lookup)"
            ),
            {"lookup": lookup},
        ).one_or_none()
        if row is None:
            return None
        return Conversation(lookup, row.report_id, row.reply_recipient, row.received_on, row[3])
    report = session.execute(
        select(Report.id, Report.reply_recipient, Report.received_on).where(
            Report.codename_hash == lookup, Report.reply_recipient.is_not(None)
        )
    ).one_or_none()
    if report is None:
        return None
    position = next_position(session, Message.position, Message.report_id, report.id)
    return Conversation(
        lookup, report.id, str(report.reply_recipient), report.received_on, position
    )


def read_conversation(
    session: Session, conversation: Conversation, identities: Sequence[crypto.Identity]
) -> list[ThreadEntry]:
    """The conversation's messages, oldest first, decrypted with `identities` (the reply key)."""
    if _on_postgresql(session):
        rows = session.execute(
            sql_text(
                'SELECT message_id, "position", author, sent_on, content, file_count'
                ' FROM portal_followup_thread(:lookup) ORDER BY "position"'
            ),
            {"lookup": conversation.lookup},
        ).all()
    else:
        file_count = (
            select(func.count())
            .where(Attachment.message_id == Message.id)
            .correlate(Message)
            .scalar_subquery()
        )
        rows = session.execute(
            select(
                Message.id,
                Message.position,
                Message.author,
                Message.sent_on,
                Message.content,
                file_count,
            )
            .join(Report, Report.id == Message.report_id)
            .where(Report.codename_hash == conversation.lookup, Report.reply_recipient.is_not(None))
            .order_by(Message.position)
        ).all()
    return [
        thread_entry(
            message_context_of(message_id, conversation.report_id, position, Author(author)),
            Author(author),
            sent_on,
            content,
            count,
            identities=identities,
        )
        for message_id, position, author, sent_on, content, count in rows
    ]


def add_submitter_message(
    session: Session,
    conversation: Conversation,
    *,
    text: str,
    files: Sequence[ReceivedFile] = (),
    recipients: Sequence[crypto.Recipient],
    today: datetime.date,
) -> uuid.UUID:
    """Add the submitter's message at the conversation's next position, readable by the
    inspectorate and the submitter, with `files` for the inspectorate only; its id.

    Raises FollowUpClosed if follow-up has ended since the conversation was opened (on
    PostgreSQL the transaction is then aborted: the caller ends it). The caller finishes the
    transaction (`transaction.finish`), which publishes the files.
    """
    readers = [*recipients, crypto.parse_recipient(conversation.reply_recipient)]
    message_id = uuid.uuid4()
    context = message_context_of(
        message_id, conversation.report_id, conversation.next_position, Author.SUBMITTER
    )
    content = seal_document({"version": DOCUMENT_VERSION, **context, "text": text}, readers)
    if _on_postgresql(session):
        _add_through_function(session, conversation, message_id, content, today)
    else:
        if open_conversation(session, conversation.lookup) is None:
            raise FollowUpClosed("the submitter has ended follow-up on this report")
        session.add(
            Message(
                id=message_id,
                report_id=conversation.report_id,
                position=conversation.next_position,
                author=Author.SUBMITTER,
                sent_on=today,
                content=content,
            )
        )
        session.flush()  # the message's row before its files' rows, which refer to it
    add_attachments(session, conversation.report_id, files, recipients, message_id=message_id)
    return message_id


def _add_through_function(
    session: Session,
    conversation: Conversation,
    message_id: uuid.UUID,
    content: bytes,
    today: datetime.date,
) -> None:
    try:
        session.execute(
            sql_text(
                "SELECT portal_followup_add_message(:lookup, :message_id, :position, :sent_on,"
                " :content)"
            ),
            {
                "lookup": conversation.lookup,
                "message_id": message_id,
                "position": conversation.next_position,
                "sent_on": today,
                "content": content,
            },
        )
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == _CLOSED_OR_UNKNOWN:
            raise FollowUpClosed("the submitter has ended follow-up on this report") from error
        raise


def end_conversation(session: Session, lookup: bytes) -> bool:
    """Forget the codename's hash and reply key, so the codename opens nothing from now on;
    whether a report had `lookup`."""
    if _on_postgresql(session):
        ended = session.scalar(sql_text("SELECT portal_followup_end(:lookup)"), {"lookup": lookup})
        return bool(ended)
    result = session.execute(
        update(Report)
        .where(Report.codename_hash == lookup)
        .values(codename_hash=None, reply_recipient=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
