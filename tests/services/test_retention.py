"""Retention: closed reports destroyed with everything they had, and nothing else.

Reports are sent through the submission site (with files, and a follow-up message with a file),
given an inspector's reply and a note with the services the review site uses, then closed. Each
test runs on SQLite and on PostgreSQL unless it says otherwise.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal import crypto
from portal.cli.retention import RetentionReport, run_retention
from portal.config import Settings
from portal.db import make_engine
from portal.models import (
    Attachment,
    AuditEntry,
    Author,
    Message,
    Note,
    Outcome,
    Report,
    ReportContent,
    ReportKind,
    ReportLink,
    ReportStatus,
    Reviewer,
    Role,
)
from portal.services import blobs as blob_store
from portal.services import retention, transaction
from portal.services.audit import verify_chain
from portal.services.blobs import BlobStore, overwrite_and_unlink
from portal.services.casework import add_note, link_reports
from portal.services.followup import add_message
from portal.services.retention import (
    ReportGone,
    ReportNotDue,
    destroy_report,
    due_for_destruction,
)
from tests.support.pages import codename_in
from tests.support.submitting import Upload, answers_for, post_form

TODAY = datetime.date(2026, 11, 25)
NOW = datetime.datetime(2026, 11, 25, 3, 0, 0)
RETENTION_DAYS = 365
CUTOFF = TODAY - datetime.timedelta(days=RETENTION_DAYS)
LONG_AGO = CUTOFF - datetime.timedelta(days=30)
RECENTLY = TODAY - datetime.timedelta(days=10)
ACTOR = "portal-cli"
HOUR = 60 * 60
# About SQLite's own files (PostgreSQL keeps deleted rows in its pages until VACUUM reuses them).
SQLITE_ONLY = pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)


@pytest.fixture
def blobs(settings: Settings) -> BlobStore:
    return BlobStore(settings.blobs)


@pytest.fixture
def client(submit_app: Flask) -> FlaskClient:
    return submit_app.test_client()


@pytest.fixture
def inspector(session: Session) -> Reviewer:
    reviewer = Reviewer(username="ada", role=Role.INSPECTOR, created_at=NOW)
    session.add(reviewer)
    session.commit()
    return reviewer


@dataclass(frozen=True)
class Stored:
    """A report as the portal keeps it: its id, every ciphertext in its rows, its blob files."""

    id: uuid.UUID
    ciphertexts: list[bytes]
    blob_paths: list[Path]


def submit(
    client: FlaskClient,
    session: Session,
    identity: crypto.HybridIdentity,
    inspector: Reviewer,
    *,
    canary: str,
) -> uuid.UUID:
    """A report with a file, a follow-up message with a file, a reply and a note."""
    before = set(session.scalars(select(Report.id)))
    session.rollback()
    page = post_form(
        client,
        "/report/workload",
        answers_for("workload", canary),
        [Upload(f"rota {canary}".encode() * 500, "rota.txt", "text/plain")],
    )
    assert page.status_code == 200, page.text
    post_form(client, "/follow-up", {"codename": codename_in(page)})
    sent = post_form(
        client,
        "/follow-up/message",
        {"message": f"more {canary}"},
        [Upload(f"minutes {canary}".encode(), "minutes.txt", "text/plain")],
    )
    assert "Message sent" in sent.text
    client.get("/follow-up/leave")
    (report_id,) = set(session.scalars(select(Report.id))) - before
    report = session.get(Report, report_id)
    assert report is not None
    add_message(
        session,
        report,
        author=Author.INSPECTOR,
        text=f"reply {canary}",
        recipients=[identity.recipient()],
        today=TODAY,
    )
    add_note(
        session,
        report,
        author=inspector,
        text=f"note {canary}",
        recipients=[identity.recipient()],
        today=TODAY,
    )
    session.commit()
    return report_id


def close(session: Session, report_id: uuid.UUID, closed_on: datetime.date) -> None:
    report = session.get(Report, report_id)
    assert report is not None
    report.status = ReportStatus.CLOSED
    report.closed_on = closed_on
    report.outcome = Outcome.ACTION_TAKEN
    session.commit()


def stored(session: Session, blobs: BlobStore, report_id: uuid.UUID) -> Stored:
    report = session.get(Report, report_id)
    assert report is not None
    attachments = list(session.scalars(select(Attachment).where(Attachment.report_id == report_id)))
    ciphertexts = [
        report.content,
        *(message.content for message in report.messages),
        *(note.content for note in report.notes),
        *(attachment.details for attachment in attachments),
    ]
    stored = Stored(
        id=report_id,
        ciphertexts=ciphertexts,
        blob_paths=[blobs.path_of(attachment.id) for attachment in attachments],
    )
    session.rollback()
    return stored


def rows_of(session: Session, report_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each kind still belong to the report."""
    counts = {
        "reports": select(func.count()).where(Report.id == report_id),
        "contents": select(func.count()).where(ReportContent.report_id == report_id),
        "messages": select(func.count()).where(Message.report_id == report_id),
        "notes": select(func.count()).where(Note.report_id == report_id),
        "attachments": select(func.count()).where(Attachment.report_id == report_id),
        "links": select(func.count()).where(
            (ReportLink.report_id == report_id) | (ReportLink.related_id == report_id)
        ),
    }
    found = {name: session.scalar(query) or 0 for name, query in counts.items()}
    session.rollback()
    return found


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    entries = list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.sequence)
        )
    )
    session.rollback()
    return entries


def age(path: Path, seconds: int = 2 * HOUR) -> None:
    """Make a file look untouched for `seconds` (orphans younger than an hour are kept)."""
    moment = path.stat().st_mtime - seconds
    os.utime(path, (moment, moment))


def run(session: Session, blobs: BlobStore) -> RetentionReport:
    return run_retention(
        session, blobs, today=TODAY, retention_days=RETENTION_DAYS, actor=ACTOR, now=NOW
    )


def plain_report(
    session: Session,
    identity: crypto.HybridIdentity,
    *,
    status: ReportStatus = ReportStatus.CLOSED,
    closed_on: datetime.date | None = LONG_AGO,
) -> uuid.UUID:
    """A report row with no conversation or files, for tests about which reports are due."""
    report = Report(
        kind=ReportKind.OTHER,
        received_on=LONG_AGO - datetime.timedelta(days=30),
        content=crypto.encrypt(b'{"answers": {}}', [identity.recipient()]),
        status=status,
        closed_on=closed_on,
        outcome=Outcome.NO_ACTION if status is ReportStatus.CLOSED else None,
    )
    session.add(report)
    session.flush()
    report_id = report.id
    session.commit()
    return report_id


def test_a_report_closed_long_ago_is_destroyed_with_everything_and_others_are_kept(
    client: FlaskClient,
    session: Session,
    blobs: BlobStore,
    inspector: Reviewer,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a report closed long ago, one closed recently and one still open, each with two
    # files, two messages and a note, and the old report linked to both others
    old, recent, still_open = (
        submit(client, session, inspectorate_identity, inspector, canary=name)
        for name in ("old", "recent", "open")
    )
    close(session, old, LONG_AGO)
    close(session, recent, RECENTLY)
    for other in (recent, still_open):
        report = session.get(Report, old)
        assert report is not None
        link_reports(session, report, other)
    session.commit()
    destroyed, kept = (
        stored(session, blobs, old),
        [stored(session, blobs, report_id) for report_id in (recent, still_open)],
    )
    assert len(destroyed.blob_paths) == 2

    # When retention runs
    result = run(session, blobs)

    # Then the old report's rows of every kind and its blob files are gone
    assert rows_of(session, old) == dict.fromkeys(
        ("reports", "contents", "messages", "notes", "attachments", "links"), 0
    )
    assert not any(path.exists() for path in destroyed.blob_paths)
    assert (result.destroyed, result.blob_files_removed, result.orphans_removed) == (1, 2, 0)
    assert result.problems == []
    # And the other two are whole, with their files
    for report in kept:
        assert rows_of(session, report.id) == {
            "reports": 1,
            "contents": 1,
            "messages": 2,
            "notes": 1,
            "attachments": 2,
            "links": 0,
        }
        assert all(path.exists() for path in report.blob_paths)
    # And the reviewer (and so their keyring) is untouched
    assert session.get(Reviewer, inspector.id) is not None
    # And the audit log says what happened, with counts and no content, and still verifies
    (destroyed_entry,) = audit_entries(session, "report_destroyed")
    assert (destroyed_entry.actor, destroyed_entry.subject) == (ACTOR, str(old))
    assert json.loads(destroyed_entry.detail) == {"messages": 2, "notes": 1, "files": 2}
    (run_entry,) = audit_entries(session, "retention_run")
    assert json.loads(run_entry.detail) == {
        "retention_days": RETENTION_DAYS,
        "cutoff": CUTOFF.isoformat(),
        "destroyed": 1,
        "blob_files": 2,
        "orphans": 0,
        "skipped": 0,
        "problems": 0,
    }
    assert run_entry.sequence > destroyed_entry.sequence
    assert verify_chain(session).ok


def test_only_closed_reports_with_a_closing_date_on_or_before_the_cutoff_are_due(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given reports closed on the cutoff, the day after it, with no date, and one open report
    # that has a closing date left over
    on_cutoff = plain_report(session, inspectorate_identity, closed_on=CUTOFF)
    plain_report(session, inspectorate_identity, closed_on=CUTOFF + datetime.timedelta(days=1))
    plain_report(session, inspectorate_identity, closed_on=None)
    plain_report(session, inspectorate_identity, status=ReportStatus.ASSESSING)
    oldest = plain_report(session, inspectorate_identity, closed_on=LONG_AGO)

    # When the due reports are listed
    due = due_for_destruction(session, today=TODAY, retention_days=RETENTION_DAYS)

    # Then only the closed reports closed on or before the cutoff are, oldest first
    assert due == [oldest, on_cutoff]


def test_destroy_report_skips_a_report_that_vanished_or_was_reopened(
    session: Session, blobs: BlobStore, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a report listed as due, then reopened by an inspector, and an id with no report
    reopened = plain_report(session, inspectorate_identity)
    assert due_for_destruction(session, today=TODAY, retention_days=RETENTION_DAYS)
    report = session.get(Report, reopened)
    assert report is not None
    report.status, report.closed_on = ReportStatus.ASSESSING, None
    session.commit()

    # When each is destroyed
    # Then neither is, and nothing is recorded
    with pytest.raises(ReportNotDue):
        destroy_report(session, reopened, blobs, closed_on_or_before=CUTOFF)
    session.rollback()
    with pytest.raises(ReportGone):
        destroy_report(session, uuid.uuid4(), blobs)
    session.rollback()
    assert rows_of(session, reopened)["reports"] == 1
    assert audit_entries(session, "report_destroyed") == []


@SQLITE_ONLY
def test_sqlite_files_no_longer_hold_the_reports_ciphertext(
    client: FlaskClient,
    session: Session,
    settings: Settings,
    blobs: BlobStore,
    inspector: Reviewer,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given a closed report whose ciphertexts are in the database's files
    report_id = submit(client, session, inspectorate_identity, inspector, canary="sqlite")
    close(session, report_id, LONG_AGO)
    report = stored(session, blobs, report_id)
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    assert all(_found_in(database, ciphertext) for ciphertext in report.ciphertexts)

    # When retention runs
    run(session, blobs)

    # Then no piece of any of them is left in the database file or its WAL
    assert not any(_found_in(database, ciphertext) for ciphertext in report.ciphertexts)


@SQLITE_ONLY
def test_without_a_checkpoint_a_destroyed_row_stays_in_the_sqlite_wal(
    session: Session,
    settings: Settings,
    blobs: BlobStore,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    """Why `run_retention` checkpoints: secure_delete zeroes the row in a new WAL frame, but
    the frames holding the original stay in the WAL file until it is truncated."""
    # Given a closed report, destroyed on its own (no checkpoint)
    report_id = plain_report(session, inspectorate_identity)
    report = stored(session, blobs, report_id)
    destroy_report(session, report_id, blobs)
    transaction.finish(session)
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    assert _found_in(database, report.ciphertexts[0])

    # When the WAL is checkpointed and truncated
    assert retention.checkpoint_sqlite(session) is None

    # Then the ciphertext is gone
    assert not _found_in(database, report.ciphertexts[0])


def test_a_blob_file_is_all_zeros_when_it_is_unlinked(
    client: FlaskClient,
    session: Session,
    blobs: BlobStore,
    inspector: Reviewer,
    inspectorate_identity: crypto.HybridIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a closed report with two files, and every unlink watched
    report_id = submit(client, session, inspectorate_identity, inspector, canary="zeros")
    close(session, report_id, LONG_AGO)
    paths = stored(session, blobs, report_id).blob_paths
    sizes = {path.name: path.stat().st_size for path in paths}
    seen: dict[str, bytes] = {}
    real_unlink = os.unlink

    def watching_unlink(path: os.PathLike[str] | str, *args: object, **kwargs: object) -> None:
        seen[Path(path).name] = Path(path).read_bytes()
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", watching_unlink)

    # When retention runs
    run(session, blobs)

    # Then each file held only zeros, as many as it had bytes, when it was unlinked
    assert {name: len(content) for name, content in seen.items()} == sizes
    assert all(content == bytes(len(content)) for content in seen.values())


def test_overwrite_and_unlink_zeroes_a_file_of_several_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file of three chunks and a bit, and unlinks watched
    path = tmp_path / "blob.age"
    path.write_bytes(os.urandom(3 * blob_store.CHUNK_SIZE + 5))
    seen: list[bytes] = []
    real_unlink = os.unlink
    monkeypatch.setattr(
        os, "unlink", lambda target: (seen.append(Path(target).read_bytes()), real_unlink(target))
    )

    # When it is overwritten and unlinked
    overwrite_and_unlink(path)

    # Then it was zeros to its full length, and is gone
    assert seen == [bytes(3 * blob_store.CHUNK_SIZE + 5)]
    assert not path.exists()


def test_overwrite_and_unlink_refuses_to_follow_a_symbolic_link(tmp_path: Path) -> None:
    # Given a blob name that is a link to some other file
    target = tmp_path / "precious.txt"
    target.write_bytes(b"keep me")
    link = tmp_path / "blob.age"
    link.symlink_to(target)

    # When it is overwritten
    # Then it is refused, and the file it points to is untouched
    with pytest.raises(OSError) as raised:
        overwrite_and_unlink(link)
    assert raised.value.errno == errno.ELOOP
    assert target.read_bytes() == b"keep me"


def test_a_failed_commit_leaves_the_report_and_every_file_untouched(
    client: FlaskClient,
    session: Session,
    blobs: BlobStore,
    inspector: Reviewer,
    inspectorate_identity: crypto.HybridIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a closed report with files, and a database whose next commit fails
    report_id = submit(client, session, inspectorate_identity, inspector, canary="commit")
    close(session, report_id, LONG_AGO)
    paths = stored(session, blobs, report_id).blob_paths
    digests = {path: _digest(path) for path in paths}
    rows = rows_of(session, report_id)
    _fail_next_commit(session, monkeypatch)

    # When retention runs
    result = run(session, blobs)

    # Then the report was not destroyed: every row is there, every file unchanged
    assert result.destroyed == 0
    assert result.problems == [
        f"report {report_id}: not destroyed (OperationalError); the next run tries again"
    ]
    assert rows_of(session, report_id) == rows
    assert {path: _digest(path) for path in paths} == digests
    assert audit_entries(session, "report_destroyed") == []
    # And the next run destroys it
    assert run(session, blobs).destroyed == 1
    assert not any(path.exists() for path in paths)


def test_a_blob_that_cannot_be_removed_is_reported_then_removed_by_the_next_run(
    client: FlaskClient,
    session: Session,
    blobs: BlobStore,
    inspector: Reviewer,
    inspectorate_identity: crypto.HybridIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a closed report whose first file cannot be overwritten once its rows are gone
    report_id = submit(client, session, inspectorate_identity, inspector, canary="orphan")
    close(session, report_id, LONG_AGO)
    stuck, other = stored(session, blobs, report_id).blob_paths
    real_overwrite = blob_store.overwrite_and_unlink

    def failing_once(path: Path) -> None:
        if path == stuck and not failing_once.failed:  # type: ignore[attr-defined]
            failing_once.failed = True  # type: ignore[attr-defined]
            raise OSError(errno.EIO, "Input/output error")
        real_overwrite(path)

    failing_once.failed = False  # type: ignore[attr-defined]
    monkeypatch.setattr(blob_store, "overwrite_and_unlink", failing_once)

    # When retention runs
    first = run(session, blobs)

    # Then the report is destroyed, and the file left behind is reported
    assert (first.destroyed, first.blob_files_removed) == (1, 1)
    assert first.problems == [
        f"blob file {stuck.name}: not removed (Input/output error); "
        "the next run removes it as an orphan"
    ]
    assert rows_of(session, report_id)["reports"] == 0
    assert stuck.exists() and not other.exists()
    # And the next run, once the file has been left alone for an hour, removes it
    age(stuck)
    second = run(session, blobs)
    assert (second.destroyed, second.orphans_removed, second.problems) == (0, 1, [])
    assert not stuck.exists()
    assert verify_chain(session).ok


def test_an_old_orphan_blob_is_removed_and_a_young_one_is_left_for_its_upload(
    session: Session, blobs: BlobStore, settings: Settings
) -> None:
    # Given an orphan blob untouched for two hours, and a just-published one and a staged one
    # (an upload still in progress), none referred to by any attachment
    settings.blobs.mkdir(parents=True, exist_ok=True)
    old = blobs.path_of(uuid.uuid4())
    old.write_bytes(b"age-encryption.org/v1\n" + os.urandom(100))
    age(old)
    young = blobs.path_of(uuid.uuid4())
    young.write_bytes(os.urandom(100))
    staged = settings.blobs / f".{uuid.uuid4()}.age.part"
    staged.write_bytes(os.urandom(100))

    # When retention runs
    result = run(session, blobs)

    # Then only the old orphan is removed
    assert result.orphans_removed == 1
    assert not old.exists()
    assert young.exists() and staged.exists()
    assert result.problems == []


def test_running_twice_is_harmless(
    session: Session, blobs: BlobStore, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given two due reports
    plain_report(session, inspectorate_identity)
    plain_report(session, inspectorate_identity)

    # When retention runs twice
    first, second = run(session, blobs), run(session, blobs)

    # Then the first destroys both, the second finds nothing, and both runs are logged
    assert (first.destroyed, first.problems) == (2, [])
    assert (second.destroyed, second.skipped, second.problems) == (0, 0, [])
    assert not second.removed_anything
    assert len(audit_entries(session, "report_destroyed")) == 2
    assert len(audit_entries(session, "retention_run")) == 2
    assert verify_chain(session).ok


def test_two_runs_at_once_destroy_each_report_once_without_problems(
    settings: Settings, session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    signing = session.info  # each run signs its entries, as on the review host
    # Given eight due reports, and two runs starting together on their own connections
    due = {plain_report(session, inspectorate_identity) for _ in range(8)}
    barrier = threading.Barrier(2)
    results: list[RetentionReport] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        engine = make_engine(settings.database_url)
        try:
            with Session(engine, info=signing) as own:
                due_for_destruction(own, today=TODAY, retention_days=RETENTION_DAYS)
                own.rollback()
                barrier.wait()
                results.append(run(own, BlobStore(settings.blobs)))
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    # When both run
    _in_threads(one_run, one_run)

    # Then between them every report was destroyed exactly once, and neither saw a problem
    assert errors == []
    assert sum(result.destroyed for result in results) == len(due)
    assert [result.problems for result in results] == [[], []]
    destroyed = [entry.subject for entry in audit_entries(session, "report_destroyed")]
    assert sorted(destroyed) == sorted(str(report_id) for report_id in due)
    assert len(audit_entries(session, "retention_run")) == 2
    assert verify_chain(session).ok


def _found_in(database: Path, ciphertext: bytes) -> bool:
    """Whether any 32-byte piece of `ciphertext` is in the database file or its WAL (pieces,
    because a value longer than a page is split across pages)."""
    stored = b"".join(
        path.read_bytes()
        for path in (database, database.with_name(database.name + "-wal"))
        if path.exists()
    )
    pieces = [ciphertext[start : start + 32] for start in range(0, len(ciphertext) - 31, 32)]
    return any(piece in stored for piece in pieces)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fail_next_commit(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    real_commit = session.commit

    def failing_commit() -> None:
        monkeypatch.setattr(session, "commit", real_commit)
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(session, "commit", failing_commit)


def _in_threads(*targets: Callable[[], None]) -> None:
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
