"""Committing rows together with their blobs: both are kept, or neither is."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from portal.services.blobs import NewBlob


def commit_with_blobs(session: Session, blobs: Sequence[NewBlob]) -> None:
    """Flush the session, publish `blobs`, then commit.

    If anything fails, the transaction is rolled back and every blob deleted before the error
    goes on: a submitter told "not saved" must find nothing saved. Blobs are published before
    the commit, so a commit that succeeds never refers to a blob that is not there.
    """
    try:
        session.flush()
        for blob in blobs:
            blob.publish()
        session.commit()
    except BaseException:
        session.rollback()
        for blob in blobs:
            blob.discard()
        raise
    for blob in blobs:
        blob.blur_times()
