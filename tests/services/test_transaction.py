"""The end of a transaction: staged blobs published just before the commit, doomed blob files
destroyed just after it, and nothing kept of either when the transaction fails.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from portal.models import Report, ReportKind
from portal.services import transaction
from portal.services.blobs import BlobStore, NewBlob, StorageUnavailable
from tests.services.conftest import TODAY, files_in


def add_report(session: Session, codename_hash: bytes | None = None) -> uuid.UUID:
    report = Report(
        kind=ReportKind.OTHER,
        received_on=TODAY,
        content=b"age ciphertext stand-in",
        codename_hash=codename_hash,
    )
    session.add(report)
    return report.id


def staged_blob(blobs: BlobStore, content: bytes = b"ciphertext") -> NewBlob:
    blob = blobs.create()
    blob.write(content)
    return blob


def reports_seen_by_another_connection(engine: Engine) -> int:
    with Session(engine) as other:
        return other.scalar(select(func.count()).select_from(Report)) or 0


def commit_watched(monkeypatch: pytest.MonkeyPatch, look: Callable[[], object]) -> list[object]:
    """Make `Session.commit` note what `look` sees at the moment of commit, then commit."""
    seen: list[object] = []
    commit = Session.commit

    def watched(self: Session) -> None:
        seen.append(look())
        commit(self)

    monkeypatch.setattr(Session, "commit", watched)
    return seen


def failing_commit(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def fail(self: Session) -> None:
        raise error

    monkeypatch.setattr(Session, "commit", fail)


def test_staged_blobs_are_published_before_the_commit_and_kept_with_it(
    session: Session, engine: Engine, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a row and the blob it needs, staged
    add_report(session)
    blob = staged_blob(blobs)
    transaction.stage(session, blob)
    at_commit = commit_watched(monkeypatch, lambda: blobs.path_of(blob.id).exists())

    # When the transaction is finished
    transaction.finish(session)

    # Then the blob had its real name when the commit came, and both are kept
    assert at_commit == [True]
    assert files_in(blobs) == [f"{blob.id}.age"]
    assert reports_seen_by_another_connection(engine) == 1
    # and the published file keeps only its day, now the row refers to it
    modified = datetime.datetime.fromtimestamp(blobs.path_of(blob.id).stat().st_mtime, datetime.UTC)
    assert (modified.hour, modified.minute, modified.second) == (0, 0, 0)


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("COMMIT", {}, Exception("server closed the connection")),
        OSError(28, "No space left on device"),
    ],
    ids=["database-gone", "disk-full"],
)
def test_a_storage_failure_at_commit_keeps_neither_rows_nor_blobs(
    session: Session,
    engine: Engine,
    blobs: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    # Given two staged blobs and their row, and a commit that fails after they were published
    add_report(session)
    staged = [staged_blob(blobs), staged_blob(blobs)]
    for blob in staged:
        transaction.stage(session, blob)
    failing_commit(monkeypatch, failure)

    # When the transaction is finished
    with pytest.raises(StorageUnavailable) as raised:
        transaction.finish(session)
    monkeypatch.undo()

    # Then the caller is told storage failed, and nothing was kept: no row, no file
    assert raised.value.__cause__ is failure
    assert files_in(blobs) == []
    assert reports_seen_by_another_connection(engine) == 0
    # and the session is usable again, with nothing left staged for a later commit
    add_report(session)
    transaction.finish(session)
    assert files_in(blobs) == []
    assert reports_seen_by_another_connection(engine) == 1


def test_a_row_the_database_refuses_discards_the_blobs_and_is_not_a_storage_failure(
    session: Session, engine: Engine, blobs: BlobStore
) -> None:
    """A constraint broken is a fault of the rows, not of storage: the error goes on as it is."""
    # Given a committed report, and a second one claiming the same codename hash with a blob
    add_report(session, codename_hash=b"\x01" * 32)
    transaction.finish(session)
    add_report(session, codename_hash=b"\x01" * 32)
    transaction.stage(session, staged_blob(blobs))

    # When the transaction is finished, then the database's refusal is raised unchanged
    with pytest.raises(IntegrityError):
        transaction.finish(session)

    # and the blob is gone with the row
    assert files_in(blobs) == []
    assert reports_seen_by_another_connection(engine) == 1


def test_a_blob_that_cannot_be_published_keeps_its_row_from_being_committed(
    session: Session, engine: Engine, blobs: BlobStore
) -> None:
    # Given a row whose staged blob has vanished from disk (a folder cleared under the portal)
    add_report(session)
    kept, lost = staged_blob(blobs), staged_blob(blobs)
    for blob in (kept, lost):
        transaction.stage(session, blob)
    lost.discard()

    # When the transaction is finished
    with pytest.raises(StorageUnavailable):
        transaction.finish(session)

    # Then the row is not committed, and the blob published before it is taken back
    assert reports_seen_by_another_connection(engine) == 0
    assert files_in(blobs) == []


def test_a_rollback_discards_what_was_staged_so_a_later_commit_publishes_nothing_stale(
    session: Session, engine: Engine, blobs: BlobStore
) -> None:
    # Given a row and a blob staged in a transaction that is then rolled back
    add_report(session)
    transaction.stage(session, staged_blob(blobs))
    session.rollback()

    # When an unrelated transaction is finished in the same session
    add_report(session)
    transaction.finish(session)

    # Then the rolled-back blob was deleted and never published
    assert files_in(blobs) == []
    assert reports_seen_by_another_connection(engine) == 1


def test_a_rollback_before_any_work_also_discards_what_was_staged(
    session: Session, blobs: BlobStore
) -> None:
    # Given a blob staged in a session that has done nothing else yet, then a rollback
    transaction.stage(session, staged_blob(blobs))
    session.rollback()

    # When an unrelated transaction is finished in the same session
    add_report(session)
    transaction.finish(session)

    # Then the blob was not published with it
    assert files_in(blobs) == []


def test_a_savepoint_rolled_back_keeps_the_outer_transactions_blobs(
    session: Session, engine: Engine, blobs: BlobStore, tmp_path: Path
) -> None:
    # Given a row with a staged blob, and a blob file to destroy after the commit
    add_report(session)
    blob = staged_blob(blobs)
    transaction.stage(session, blob)
    doomed = tmp_path / "doomed.age"
    doomed.write_bytes(b"old ciphertext")
    transaction.destroy_after_commit(session, blobs, doomed)

    # When a savepoint inside the transaction is rolled back, and the transaction finished
    savepoint = session.begin_nested()
    add_report(session)
    savepoint.rollback()
    finished = transaction.finish(session)

    # Then the outer transaction's row came with its blob, and the doomed file went
    assert reports_seen_by_another_connection(engine) == 1
    assert files_in(blobs) == [f"{blob.id}.age"]
    assert (finished.blobs_destroyed, doomed.exists()) == (1, False)


def test_a_file_is_destroyed_only_after_the_commit(
    session: Session, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a blob file whose row is being deleted
    blob = staged_blob(blobs, b"ciphertext of a report past retention")
    blob.publish()
    path = blobs.path_of(blob.id)
    add_report(session)
    transaction.destroy_after_commit(session, blobs, path)
    at_commit = commit_watched(monkeypatch, path.exists)

    # When the transaction is finished
    finished = transaction.finish(session)

    # Then the file was still there at the commit, and is gone after it
    assert at_commit == [True]
    assert not path.exists()
    assert (finished.blobs_destroyed, finished.problems) == (1, ())


def test_a_failed_commit_destroys_no_file(
    session: Session, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows that refer to the file are still there: it must be too, byte for byte."""
    # Given a blob file to destroy after a commit that fails
    blob = staged_blob(blobs, b"still needed")
    blob.publish()
    path = blobs.path_of(blob.id)
    add_report(session)
    transaction.destroy_after_commit(session, blobs, path)
    failing_commit(monkeypatch, OperationalError("COMMIT", {}, Exception("gone")))

    # When the transaction is finished
    with pytest.raises(StorageUnavailable):
        transaction.finish(session)
    monkeypatch.undo()

    # Then the file is untouched, and a later commit does not destroy it either
    assert path.read_bytes() == b"still needed"
    add_report(session)
    assert transaction.finish(session).blobs_destroyed == 0
    assert path.read_bytes() == b"still needed"


def test_a_rollback_spares_the_files_it_would_have_destroyed(
    session: Session, blobs: BlobStore
) -> None:
    blob = staged_blob(blobs, b"spared")
    blob.publish()
    path = blobs.path_of(blob.id)
    add_report(session)
    transaction.destroy_after_commit(session, blobs, path)

    session.rollback()
    add_report(session)
    finished = transaction.finish(session)

    assert finished.blobs_destroyed == 0
    assert path.read_bytes() == b"spared"


def test_a_file_that_cannot_be_destroyed_is_a_problem_reported_not_an_error(
    session: Session, engine: Engine, blobs: BlobStore
) -> None:
    # Given two doomed blob names: one is a folder (no file to overwrite), one already gone
    blobs.directory.mkdir(parents=True)
    stuck = blobs.path_of(uuid.uuid4())
    stuck.mkdir()
    gone = blobs.path_of(uuid.uuid4())
    add_report(session)
    for path in (stuck, gone):
        transaction.destroy_after_commit(session, blobs, path)

    # When the transaction is finished
    finished = transaction.finish(session)

    # Then the commit is kept, and only the file that could not be destroyed is reported
    assert reports_seen_by_another_connection(engine) == 1
    assert finished.blobs_destroyed == 0
    assert len(finished.problems) == 1
    assert stuck.name in finished.problems[0]
    assert stuck.exists()
