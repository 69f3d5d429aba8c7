"""The end of an action's transaction, in one place: `finish`.

Each transaction has one owner: the view or command that performs the action. Services add
rows and flush, and hand the transaction what must happen around its commit: blobs to publish
just before it (`stage`), blob files to destroy just after it (`destroy_after_commit`). They
never commit. The owner records the action's audit entry, then calls `finish`, so an action,
its files and its audit entry are kept together or not at all: a submitter told "not saved"
finds nothing saved, and no reply is ever kept without its audit entry.

What is staged travels with the SQLAlchemy session (`Session.info`), and is forgotten when the
transaction it belongs to rolls back (not when a savepoint inside it does), so it can never be
published by a later, unrelated commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from portal.services.blobs import BlobStore, NewBlob, storage_failures_reported

_STAGED = "portal.staged_blobs"
_DOOMED = "portal.doomed_blobs"


@dataclass(frozen=True)
class Finished:
    """What happened after the commit: blob files destroyed, and those that could not be."""

    blobs_destroyed: int = 0
    problems: tuple[str, ...] = ()


def stage(session: Session, blob: NewBlob) -> None:
    """Publish `blob` when the session's transaction is finished; discard it if that fails."""
    # Begin the transaction now if it has not begun: SQLAlchemy reports the rollback only of a
    # transaction that has begun, and the blob must be forgotten by that rollback.
    session.connection()
    session.info.setdefault(_STAGED, []).append(blob)


def destroy_after_commit(session: Session, store: BlobStore, path: Path) -> None:
    """Overwrite and unlink the blob file at `path` once the transaction has committed.

    After, never before: if the commit failed, the rows would still refer to a destroyed file.
    """
    session.connection()  # as in `stage`: a rollback from here on spares the file
    session.info.setdefault(_DOOMED, []).append((store, path))


def finish(session: Session) -> Finished:
    """Flush, publish the staged blobs, commit; then destroy the doomed blob files.

    If anything fails up to and including the commit, the transaction is rolled back and every
    staged blob deleted before the error goes on (a storage failure as `StorageUnavailable`).
    Blobs are published before the commit, so a commit that succeeds never refers to a blob
    that is not there. Nothing after the commit raises, since what was asked is then kept: a
    blob file that cannot be destroyed (the rows are gone; an orphan for the next run) or whose
    times cannot be blurred is reported in `problems`.
    """
    staged: list[NewBlob] = session.info.pop(_STAGED, [])
    doomed: list[tuple[BlobStore, Path]] = session.info.pop(_DOOMED, [])
    with storage_failures_reported("the rows and files could not be stored"):
        try:
            session.flush()
            for blob in staged:
                blob.publish()
            session.commit()
        except BaseException:
            try:
                session.rollback()  # may fail too, when the database has gone away
            finally:
                for blob in staged:
                    blob.discard()
            raise
    destroyed, problems = 0, []
    for blob in staged:
        try:
            blob.blur_times()
        except OSError as error:
            problems.append(f"blob file {blob.id}: times not blurred ({error.strerror or error})")
    for store, path in doomed:
        removed, failures = store.destroy([path])
        destroyed += removed
        problems.extend(failures)
    return Finished(blobs_destroyed=destroyed, problems=tuple(problems))


@event.listens_for(Session, "after_soft_rollback")
def _forget_staged(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back transaction keeps nothing: its staged blobs are discarded (an upload's
    own clean-up would find them too) and its doomed files are spared. A savepoint rolled back
    inside it (as `audit.record` does when it retries) changes nothing of that."""
    if previous_transaction.parent is not None:
        return
    for blob in session.info.pop(_STAGED, []):
        blob.discard()
    session.info.pop(_DOOMED, None)
