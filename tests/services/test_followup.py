"""Follow-up: a report found by its codename's lookup, a conversation both sides can read,
messages in order, and an end after which the codename opens nothing.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Attachment, Author, Message, Report
from portal.services import transaction
from portal.services.conversations import end_conversation, open_conversation
from portal.services.documents import unseal_document
from portal.services.followup import FollowUpClosed, add_message, read_thread
from portal.services.intake import UploadPolicy
from tests.services.conftest import TODAY, StoreReport, receive


def send(
    session: Session,
    report: Report,
    author: Author,
    text: str,
    recipients: list[crypto.Recipient],
    **extra: object,
) -> Message:
    message = add_message(
        session,
        report,
        author=author,
        text=text,
        recipients=recipients,
        today=TODAY,
        **extra,  # type: ignore[arg-type]
    )
    transaction.finish(session)
    return message


def test_a_report_is_found_by_its_own_lookup_only(
    stored_report: StoreReport, session: Session
) -> None:
    # Given two reports
    (first, first_keys), (second, second_keys) = stored_report(), stored_report()

    # When each lookup is tried, and one nobody holds
    found = [open_conversation(session, keys.lookup) for keys in (first_keys, second_keys)]
    stranger = open_conversation(session, secrets.token_bytes(32))

    # Then each finds its own report, and the stranger nothing
    assert [each.report_id if each else None for each in found] == [first.id, second.id]
    assert stranger is None


def test_once_follow_up_ends_the_codename_finds_nothing_and_no_message_can_be_added(
    stored_report: StoreReport, session: Session, recipients: list[crypto.Recipient]
) -> None:
    # Given a report whose submitter ends follow-up
    report, keys = stored_report()
    assert end_conversation(session, keys.lookup)
    transaction.finish(session)

    # When a message is added, from either side
    for author in Author:
        with pytest.raises(FollowUpClosed):
            add_message(
                session, report, author=author, text="hello?", recipients=recipients, today=TODAY
            )
    transaction.finish(session)

    # Then nothing was added, the lookup opens nothing, and the reply key is forgotten
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert open_conversation(session, keys.lookup) is None
    assert (report.codename_hash, report.reply_recipient) == (None, None)


def test_both_sides_read_the_whole_conversation_in_order(
    stored_report: StoreReport,
    session: Session,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a conversation of four messages, alternating sides
    report, keys = stored_report()
    sent = [
        (Author.SUBMITTER, "It happened again."),
        (Author.INSPECTOR, "Which office?"),
        (Author.SUBMITTER, "The north office."),
        (Author.INSPECTOR, "Thank you."),
    ]
    messages = [send(session, report, author, text, recipients) for author, text in sent]

    # When each side reads it, with its own key
    session.expire_all()
    as_inspectorate = read_thread(session, report, [inspectorate_identity])
    as_submitter = read_thread(session, report, [keys.reply_identity])

    # Then both read every message, oldest first, and positions count up from 1
    for thread in (as_inspectorate, as_submitter):
        assert [(entry.author, entry.text) for entry in thread] == sent
        assert {entry.sent_on for entry in thread} == {TODAY}
    assert [message.position for message in messages] == list(range(1, len(sent) + 1))


def test_a_message_moved_onto_another_row_is_refused(
    stored_report: StoreReport,
    session: Session,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    """Both ciphertexts decrypt with the same keys: only the id inside says which row it is."""
    # Given two messages, and the first one's ciphertext copied onto the second
    report, _keys = stored_report()
    first = send(session, report, Author.SUBMITTER, "the real first message", recipients)
    second = send(session, report, Author.INSPECTOR, "the real second message", recipients)
    second.content = first.content
    transaction.finish(session)

    # When the conversation is read, then the forged turn is withheld, the genuine one shown
    thread = read_thread(session, report, [inspectorate_identity])
    assert [entry.text for entry in thread] == ["the real first message", None]


def test_files_with_a_message_are_counted_with_it_and_only_the_inspectorate_reads_them(
    stored_report: StoreReport,
    session: Session,
    upload_policy: UploadPolicy,
    recipients: list[crypto.Recipient],
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a report sent with one file, then a message with two and a message with none
    report, keys = stored_report([receive(upload_policy, b"with the report")])
    with_files = send(
        session,
        report,
        Author.SUBMITTER,
        "two more files",
        recipients,
        files=[receive(upload_policy, b"one"), receive(upload_policy, b"two")],
    )
    send(session, report, Author.INSPECTOR, "thanks", recipients)

    # When the conversation is read
    thread = read_thread(session, report, [keys.reply_identity])

    # Then each message counts its own files only (the report's file is not a message's)
    assert [entry.file_count for entry in thread] == [2, 0]
    # and the files' descriptions open for the inspectorate, not with the submitter's key
    attachments = session.scalars(
        select(Attachment).where(Attachment.message_id == with_files.id)
    ).all()
    assert len(attachments) == 2
    for attachment in attachments:
        assert unseal_document(attachment.details, [inspectorate_identity])["size"] == 3
        with pytest.raises(crypto.NoIdentityMatch):
            unseal_document(attachment.details, [keys.reply_identity])


def test_a_stranger_cannot_read_the_conversation(
    stored_report: StoreReport, session: Session, recipients: list[crypto.Recipient]
) -> None:
    report, _keys = stored_report()
    send(session, report, Author.INSPECTOR, "for the submitter only", recipients)

    (entry,) = read_thread(session, report, [crypto.generate_identity()])
    assert entry.text is None
