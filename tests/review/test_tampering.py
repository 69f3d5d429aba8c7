"""The tampering battery: a database writer against the review host's row bindings (DESIGN 10).

The attacker here can write every table (plain UPDATEs on the owner's connection) and encrypt
to the inspectorate's public recipient, but has neither the review-host key nor any reader's
identity. Two reports are opened on the review site first (so their rows are bound), with a
follow-up from the submitter, an inspector's reply, a note and files. Each tampering must then
be refused or withheld when used on the review site AND named by `portal audit verify` on the
review host, by table, row id and what changed.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from portal import crypto
from portal.cli import main
from portal.config import Settings
from portal.models import (
    Attachment,
    Author,
    Message,
    Note,
    Report,
    ReportContent,
    ReportKind,
    Reviewer,
    Role,
)
from portal.services.documents import seal_document
from portal.services.followup import add_message
from tests.review.conftest import Clock, sign_in
from tests.support.environment import environment_for
from tests.support.pages import csrf_token
from tests.support.submitting import submit_with_file

WARNING = "integrity-warning"


@dataclass(frozen=True)
class Scene:
    """Two reports opened on the review site, so every row below is bound."""

    a: uuid.UUID
    """Report A: its file, the submitter's follow-up (1), the inspector's reply (2), a note."""
    b: uuid.UUID
    """Report B: a file of its own, no messages or notes."""
    a_file: uuid.UUID
    b_file: uuid.UUID
    follow_up: uuid.UUID
    reply: uuid.UUID
    note: uuid.UUID
    inspectorate: crypto.Recipient


@pytest.fixture
def inspector(review_app: Flask, make_account, clock: Clock) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = review_app.test_client()
    sign_in(client, make_account("ada", Role.INSPECTOR), clock)
    return client


@pytest.fixture
def scene(
    settings: Settings,
    session: Session,
    inspector: FlaskClient,
    inspectorate_identity: crypto.HybridIdentity,
) -> Scene:
    submit_with_file(settings, "alpha")
    submit_with_file(settings, "bravo")
    session.rollback()
    reports = session.scalars(select(Report)).all()
    (a,) = [report for report in reports if _canary(report, inspectorate_identity) == "alpha"]
    (b,) = [report for report in reports if report is not a]
    inspectorate = inspectorate_identity.recipient()
    follow_up = add_message(
        session,
        a,
        author=Author.SUBMITTER,
        text="follow-up alpha",
        recipients=[inspectorate],
        today=a.received_on,
    )
    session.commit()
    page = inspector.get(f"/reports/{a.id}")
    inspector.post(
        f"/reports/{a.id}/reply",
        data={"csrf_token": csrf_token(page), "reply-text": "reply alpha"},
    )
    inspector.post(
        f"/reports/{a.id}/notes",
        data={"csrf_token": csrf_token(page), "note-text": "note alpha"},
    )
    assert WARNING not in inspector.get(f"/reports/{b.id}").text
    session.rollback()
    reply = session.scalars(select(Message).where(Message.author == Author.INSPECTOR)).one()
    return Scene(
        a=a.id,
        b=b.id,
        a_file=session.scalars(select(Attachment.id).where(Attachment.report_id == a.id)).one(),
        b_file=session.scalars(select(Attachment.id).where(Attachment.report_id == b.id)).one(),
        follow_up=follow_up.id,
        reply=reply.id,
        note=session.scalars(select(Note.id)).one(),
        inspectorate=inspectorate,
    )


def _canary(report: Report, identity: crypto.Identity) -> str:
    return "alpha" if b"alpha" in crypto.decrypt(report.content, [identity]) else "bravo"


def _verify(settings: Settings) -> Result:
    return CliRunner(env=environment_for(settings)).invoke(main, ["audit", "verify"])


def _write(engine: Engine, *statements: Any) -> None:
    """The database writer: plain UPDATEs on the owner's connection, in one transaction."""
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


# What each tampering leaves the review site to do: every check returns the page it looked at.


def _withheld(report: str, count: int = 1) -> Callable[[FlaskClient, Scene], str]:
    def check(client: FlaskClient, scene: Scene) -> str:
        page = client.get(f"/reports/{getattr(scene, report)}")
        assert page.status_code == 200
        assert page.text.count(WARNING) == count, page.text
        return page.text

    return check


def _reply_refused(client: FlaskClient, scene: Scene) -> str:
    page = client.get(f"/reports/{scene.a}")
    assert page.text.count(WARNING) == 1
    refused = client.post(
        f"/reports/{scene.a}/reply",
        data={"csrf_token": csrf_token(page), "reply-text": "where did it happen?"},
    )
    assert refused.status_code == 409
    assert "Nothing was sent or saved" in refused.text
    assert "reply recipient changed" in refused.text
    return refused.text


def _download_refused(client: FlaskClient, scene: Scene) -> str:
    page = _withheld("b")(client, scene)
    refused = client.get(f"/reports/{scene.b}/files/{scene.a_file}")
    assert refused.status_code == 409
    assert b"file of alpha" not in refused.data
    return page


@dataclass(frozen=True)
class Tampering:
    name: str
    statements: Callable[[Scene], list[Any]]
    check_site: Callable[[FlaskClient, Scene], str]
    named: Callable[[Scene], list[str]]
    """The lines `portal audit verify` must print, each naming a row and what changed."""
    hidden: str | None = None
    """Text that must not appear as genuine on the page the site check looked at."""


def _forged_report(scene: Scene, recipient: str) -> bytes:
    """A report document as the attacker can seal it: valid, version 2, to the inspectorate."""
    document = {"version": 2, "report_id": str(scene.a), "reply_recipient": recipient}
    return seal_document(document | {"answers": {"account": "forged"}}, [scene.inspectorate])


def _forged_message(scene: Scene) -> bytes:
    document = {
        "version": 2,
        "message_id": str(scene.follow_up),
        "report_id": str(scene.a),
        "position": 1,
        "author": "submitter",
        "text": "forged follow-up",
    }
    return seal_document(document, [scene.inspectorate])


ATTACKER = str(crypto.generate_identity("x25519").recipient())
MOVED = "moved from another report, relabelled or reordered"
REPLACED = "content replaced (copied from another row, or sealed by someone else)"

BATTERY = [
    Tampering(
        "reply recipient swapped for the attacker's",
        lambda s: [update(Report).where(Report.id == s.a).values(reply_recipient=ATTACKER)],
        _reply_refused,
        lambda s: [f"reports, row {s.a}: reply recipient changed"],
    ),
    Tampering(
        "reply recipient swapped, with a forged report document naming it",
        lambda s: [
            update(Report).where(Report.id == s.a).values(reply_recipient=ATTACKER),
            update(ReportContent)
            .where(ReportContent.report_id == s.a)
            .values(content=_forged_report(s, ATTACKER)),
        ],
        _reply_refused,
        lambda s: [f"reports, row {s.a}: reply recipient changed; {REPLACED}"],
        hidden="forged",
    ),
    Tampering(
        "message moved to another report",
        lambda s: [update(Message).where(Message.id == s.follow_up).values(report_id=s.b)],
        _withheld("b"),
        lambda s: [f"messages, row {s.follow_up}: {MOVED}"],
        hidden="follow-up alpha",
    ),
    Tampering(
        "file moved to another report",
        lambda s: [update(Attachment).where(Attachment.id == s.a_file).values(report_id=s.b)],
        _download_refused,
        lambda s: [f"attachments, row {s.a_file}: moved from another report or message"],
        hidden="alpha.txt",
    ),
    Tampering(
        "file moved onto a message",
        lambda s: [
            update(Attachment).where(Attachment.id == s.a_file).values(message_id=s.follow_up)
        ],
        _withheld("a"),
        lambda s: [f"attachments, row {s.a_file}: moved from another report or message"],
        hidden="alpha.txt",
    ),
    Tampering(
        "note moved to another report",
        lambda s: [update(Note).where(Note.id == s.note).values(report_id=s.b)],
        _withheld("b"),
        lambda s: [f"notes, row {s.note}: {MOVED}"],
        hidden="note alpha",
    ),
    Tampering(
        "inspector's reply relabelled as the submitter's",
        lambda s: [update(Message).where(Message.id == s.reply).values(author="submitter")],
        _withheld("a"),
        lambda s: [f"messages, row {s.reply}: {MOVED}"],
        hidden="reply alpha",
    ),
    Tampering(
        "submitter's follow-up relabelled as the inspectorate's",
        lambda s: [update(Message).where(Message.id == s.follow_up).values(author="inspector")],
        _withheld("a"),
        lambda s: [f"messages, row {s.follow_up}: {MOVED}"],
        hidden="follow-up alpha",
    ),
    Tampering(
        "conversation reordered (positions swapped)",
        lambda s: [
            update(Message).where(Message.id == s.follow_up).values(position=99),
            update(Message).where(Message.id == s.reply).values(position=1),
            update(Message).where(Message.id == s.follow_up).values(position=2),
        ],
        _withheld("a", count=2),
        lambda s: [f"messages, row {s.follow_up}: {MOVED}", f"messages, row {s.reply}: {MOVED}"],
        hidden="reply alpha",
    ),
    Tampering(
        "one message's ciphertext copied over another's",
        lambda s: [
            update(Message)
            .where(Message.id == s.follow_up)
            .values(content=select(Message.content).where(Message.id == s.reply).scalar_subquery())
        ],
        _withheld("a"),
        lambda s: [f"messages, row {s.follow_up}: {REPLACED}"],
    ),
    Tampering(
        "binding erased, then a forged message sealed in its place",
        lambda s: [
            update(Message)
            .where(Message.id == s.follow_up)
            .values(binding=None, content=_forged_message(s))
        ],
        _withheld("a"),
        lambda s: [
            f"messages, row {s.follow_up}: binding removed (a later row of its report is bound)"
        ],
        hidden="forged follow-up",
    ),
    Tampering(
        "every binding of a report erased, its recipient swapped and its document forged",
        lambda s: [
            *[
                update(model).where(model.report_id == s.a).values(binding=None)
                for model in (Message, Attachment, Note)
            ],
            update(Report).where(Report.id == s.a).values(binding=None, reply_recipient=ATTACKER),
            update(ReportContent)
            .where(ReportContent.report_id == s.a)
            .values(content=_forged_report(s, ATTACKER)),
        ],
        _withheld("a"),
        lambda s: [
            f"reports, row {s.a}: binding removed (the audit log records that it was bound)"
        ],
        hidden="forged",
    ),
]


@pytest.fixture(params=BATTERY, ids=[tampering.name for tampering in BATTERY])
def tampering(request: pytest.FixtureRequest) -> Iterator[Tampering]:
    yield request.param


def test_untouched_rows_verify_clean_and_show_no_warning(
    scene: Scene, inspector: FlaskClient, settings: Settings, session: Session
) -> None:
    for report in (scene.a, scene.b):
        assert WARNING not in inspector.get(f"/reports/{report}").text
    assert inspector.get(f"/reports/{scene.a}/files/{scene.a_file}").data == b"file of alpha"

    result = _verify(settings)

    assert result.exit_code == 0, result.output
    # A and B, their two files, two messages and a note
    assert "Row bindings: 7 bound rows checked, all match" in result.output
    session.rollback()
    assert session.scalar(select(func.count(Message.id)).where(Message.binding.is_(None))) == 0


def test_each_tampering_is_refused_on_the_review_site_and_named_by_verify(
    scene: Scene,
    tampering: Tampering,
    inspector: FlaskClient,
    settings: Settings,
    engine: Engine,
    session: Session,
) -> None:
    messages_before = session.scalar(select(func.count(Message.id)))
    _write(engine, *tampering.statements(scene))

    page = tampering.check_site(inspector, scene)

    if tampering.hidden is not None:
        assert tampering.hidden not in page
    session.rollback()
    assert session.scalar(select(func.count(Message.id))) == messages_before  # nothing sent
    result = _verify(settings)
    assert result.exit_code == 1, result.output
    problems = [
        line.strip() for line in result.output.splitlines() if re.match(r"\s+\w+, row ", line)
    ]
    assert sorted(problems) == sorted(tampering.named(scene)), result.output


def _version_1_report(session: Session, identity: crypto.HybridIdentity) -> Report:
    """A report with a follow-up and a note as the portal sealed them before document version 2:
    each document names its own row's id and nothing else."""
    recipients = [identity.recipient()]
    report_id, message_id, note_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    report = Report(
        id=report_id,
        kind=ReportKind.OTHER,
        received_on=datetime.date(2026, 11, 1),
        reply_recipient=str(crypto.generate_identity("x25519").recipient()),
        content=seal_document(
            {"version": 1, "report_id": str(report_id), "answers": {"account": "old account"}},
            recipients,
        ),
    )
    session.add(report)
    session.add(
        Message(
            id=message_id,
            report=report,
            position=1,
            author=Author.SUBMITTER,
            sent_on=report.received_on,
            content=seal_document(
                {"version": 1, "message_id": str(message_id), "text": "old follow-up"}, recipients
            ),
        )
    )
    session.add(
        Note(
            id=note_id,
            report=report,
            position=1,
            author=session.scalars(select(Reviewer)).one(),
            written_on=report.received_on,
            content=seal_document(
                {"version": 1, "note_id": str(note_id), "text": "old note"}, recipients
            ),
        )
    )
    session.commit()
    return report


def test_version_1_documents_still_read_and_their_binding_alone_catches_a_relabel(
    inspector: FlaskClient,
    settings: Settings,
    engine: Engine,
    session: Session,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given rows sealed before documents carried their context, opened once on the review site
    report = _version_1_report(session, inspectorate_identity)
    first = inspector.get(f"/reports/{report.id}").text
    assert "old account" in first and "old follow-up" in first and "old note" in first
    assert WARNING not in first
    clean = _verify(settings)
    assert clean.exit_code == 0, clean.output
    assert "Row bindings: 3 bound rows checked, all match" in clean.output

    # When a database writer relabels the follow-up (its document does not name its author)
    message_id = session.scalars(select(Message.id)).one()
    _write(engine, update(Message).where(Message.id == message_id).values(author="inspector"))

    # Then the review site withholds it and verify names it: the binding caught it
    page = inspector.get(f"/reports/{report.id}").text
    assert page.count(WARNING) == 1 and "old follow-up" not in page
    result = _verify(settings)
    assert result.exit_code == 1
    assert f"messages, row {message_id}: {MOVED}" in result.output


def test_a_row_moved_before_any_inspector_opened_it_is_caught_by_its_document(
    inspector: FlaskClient,
    settings: Settings,
    engine: Engine,
    session: Session,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given two reports nobody has opened, and a follow-up of one moved to the other
    submit_with_file(settings, "alpha")
    submit_with_file(settings, "bravo")
    session.rollback()
    reports = session.scalars(select(Report)).all()
    (a,) = [report for report in reports if _canary(report, inspectorate_identity) == "alpha"]
    (b,) = [report for report in reports if report is not a]
    follow_up = add_message(
        session,
        a,
        author=Author.SUBMITTER,
        text="follow-up alpha",
        recipients=[inspectorate_identity.recipient()],
        today=a.received_on,
    )
    session.commit()
    _write(engine, update(Message).where(Message.id == follow_up.id).values(report_id=b.id))

    # When an inspector first opens the report it was moved to, then it is withheld, and it
    # is never bound (trust on first read does not extend to a document naming another report)
    page = inspector.get(f"/reports/{b.id}").text
    assert page.count(WARNING) == 1 and "moved from another report" in page
    assert "follow-up alpha" not in page
    session.rollback()
    assert session.get_one(Message, follow_up.id).binding is None
