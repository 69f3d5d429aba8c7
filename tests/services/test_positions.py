"""A submitter's follow-up and an inspector's reply written at the same moment both succeed.

Each takes the next position in the conversation. The race is made certain rather than left to
chance: the reply's transaction has taken its position and not yet committed when the
follow-up starts, in another connection. Without the lock in `positions.next_position`, both
would read the same last position and the second commit would break the unique constraint.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.db import make_engine
from portal.models import Author, Message, Note, Report, ReportKind, Reviewer, Role
from portal.services import transaction
from portal.services.casework import add_note
from portal.services.followup import add_message

TODAY = datetime.date(2026, 12, 4)
WAIT_SECONDS = 30


def _open_report(session: Session, identity: crypto.HybridIdentity) -> uuid.UUID:
    report = Report(
        kind=ReportKind.OTHER,
        received_on=TODAY,
        content=crypto.encrypt(b"{}", [identity.recipient()]),
        reply_recipient=str(crypto.generate_identity("pq").recipient()),
    )
    session.add(report)
    session.commit()
    return report.id


def _message(session: Session, report_id: uuid.UUID, author: Author, recipient) -> None:  # type: ignore[no-untyped-def]
    add_message(
        session,
        session.get_one(Report, report_id),
        author=author,
        text=f"from the {author.value}",
        recipients=[recipient],
        today=TODAY,
    )


@pytest.fixture
def site_engine(database_url: str) -> Iterator[Engine]:
    """An engine as the two sites make theirs (on SQLite, each transaction takes the write lock
    when it begins)."""
    engine = make_engine(database_url, lock_on_begin=True)
    yield engine
    engine.dispose()


def test_a_reply_and_a_follow_up_at_the_same_moment_both_succeed(
    site_engine: Engine, session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given an open report, and an inspector's reply that has taken its position, uncommitted
    engine = site_engine
    recipient = inspectorate_identity.recipient()
    report_id = _open_report(session, inspectorate_identity)
    replying = Session(engine)
    _message(replying, report_id, Author.INSPECTOR, recipient)
    replying.flush()

    # When the submitter's follow-up is written meanwhile, in another connection
    outcome: list[BaseException | None] = []

    def follow_up() -> None:
        try:
            with Session(engine) as following:
                _message(following, report_id, Author.SUBMITTER, recipient)
                transaction.finish(following)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    writer = threading.Thread(target=follow_up)
    writer.start()
    writer.join(timeout=1)
    waited = writer.is_alive()  # it queues behind the reply's transaction...
    transaction.finish(replying)  # ...until the reply commits
    replying.close()
    writer.join(timeout=WAIT_SECONDS)

    # Then the follow-up waited its turn, both are kept, one after the other
    assert waited, outcome
    assert outcome == [None]
    session.rollback()
    positions = session.execute(
        select(Message.author, Message.position)
        .where(Message.report_id == report_id)
        .order_by(Message.position)
    ).all()
    assert positions == [(Author.INSPECTOR, 1), (Author.SUBMITTER, 2)]


def test_notes_take_the_next_position_after_the_last(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    report_id = _open_report(session, inspectorate_identity)
    author = Reviewer(
        id=uuid.uuid4(),
        username="ada",
        role=Role.INSPECTOR,
        created_at=datetime.datetime(2026, 1, 1),
    )
    session.add(author)
    for text in ("first", "second", "third"):
        add_note(
            session,
            session.get_one(Report, report_id),
            author=author,
            text=text,
            recipients=[inspectorate_identity.recipient()],
            today=TODAY,
        )
        transaction.finish(session)
    positions = session.scalars(
        select(Note.position).where(Note.report_id == report_id).order_by(Note.position)
    ).all()
    assert positions == [1, 2, 3]
