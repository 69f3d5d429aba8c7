"""Committing rows together with their blobs: both are kept, or neither is."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from portal.services.blobs import NewBlob

STORAGE_FAILURES = (OSError, OperationalError, InterfaceError)
"""What a full disk, an unwritable blob folder or an unreachable database raises."""


class StorageUnavailable(Exception):
    """The blob folder or the database could not take what was sent: nothing of it was kept.

    A fault of the server's storage, not of the request, and usually passing (a database
    restarting, a disk being cleared): the submitter is told to try again later."""


@contextlib.contextmanager
def storage_failures_reported(what: str) -> Iterator[None]:
    """Turn a storage failure inside the block into `StorageUnavailable`, saying `what` failed."""
    try:
        yield
    except STORAGE_FAILURES as error:
        raise StorageUnavailable(what) from error


def commit_with_blobs(session: Session, blobs: Sequence[NewBlob]) -> None:
    """Flush the session, publish `blobs`, then commit.

    If anything fails, the transaction is rolled back and every blob deleted before the error
    goes on: a submitter told "not saved" must find nothing saved. Blobs are published before
    the commit, so a commit that succeeds never refers to a blob that is not there. A storage
    failure goes on as `StorageUnavailable`.
    """
    with storage_failures_reported("the rows and files could not be stored"):
        try:
            session.flush()
            for blob in blobs:
                blob.publish()
            session.commit()
        except BaseException:
            try:
                session.rollback()  # may fail too, when the database has gone away
            finally:
                for blob in blobs:
                    blob.discard()
            raise
    for blob in blobs:
        blob.blur_times()
