"""Where each sealed row belongs: the clear fields its document and its binding both cover.

One definition per kind of row, used by whoever seals a document (written inside it, from
document version 2), by readers (`unseal_document(bound_to=...)`), and by the review host's
row bindings (`portal.services.bindings`). Values are as JSON holds them: ids as text,
positions as integers, None where a row has no such link.

Kept free of custody code: the submission site seals documents with these too.
"""

from __future__ import annotations

import uuid

from portal.models import Attachment, Author, Message, Note, Report

Context = dict[str, str | int | None]


def report_context(report: Report) -> Context:
    """A report: its id and the reply recipient inspectors' replies are encrypted to."""
    return {"report_id": str(report.id), "reply_recipient": report.reply_recipient}


def message_context(message: Message) -> Context:
    """A message: its id, report, place in the conversation and author."""
    return message_context_of(message.id, message.report_id, message.position, message.author)


def message_context_of(
    message_id: uuid.UUID, report_id: uuid.UUID, position: int, author: Author
) -> Context:
    """`message_context` from the fields alone, for the submission site, which reaches
    messages through the follow-up functions rather than as rows."""
    return {
        "message_id": str(message_id),
        "report_id": str(report_id),
        "position": position,
        "author": author.value,
    }


def attachment_context(attachment: Attachment) -> Context:
    """A file's description: its id, report, and the message it came with (None: the report)."""
    return {
        "attachment_id": str(attachment.id),
        "report_id": str(attachment.report_id),
        "message_id": None if attachment.message_id is None else str(attachment.message_id),
    }


def note_context(note: Note) -> Context:
    """A note: its id, report, place among the report's notes and the inspector who wrote it."""
    return {
        "note_id": str(note.id),
        "report_id": str(note.report_id),
        "position": note.position,
        "author_id": None if note.author_id is None else str(note.author_id),
    }
