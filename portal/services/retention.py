"""Retention: a closed report is destroyed a set number of days after it was closed.

What destroying a report removes
--------------------------------
Its row, with its messages, notes, attachment rows and links to other reports; its per-report
key material, which lives in the row (the codename's hash, and the reply recipient derived from
the codename); and its attachments' blob files, each overwritten with zeros before it is
unlinked. The audit log keeps that it happened (`report_destroyed`, with counts, never content)
and each run (`retention_run`). Reviewer keyrings are not per report and are never touched.

Failure order
-------------
The rows and the audit entry go in one transaction; the blob files are overwritten only after
it has committed:

- If anything fails before or during the commit, the transaction is rolled back and no file has
  been touched: the report is whole and is tried again next run.
- If a file cannot be overwritten or unlinked after the commit, the report is already gone and
  the file left behind is ciphertext that no row refers to. That is reported as a problem, and
  every run begins by overwriting and unlinking such orphan blob files (`remove_orphans`).

The other order (files first) would be worse: a commit failing after the files were wiped
would leave a report that still exists, and may have been reopened, with its files destroyed.

What overwriting achieves, honestly
-----------------------------------
Overwriting a file in place and then unlinking it removes its bytes from the file as the
filesystem presents it, and from the blocks it occupies on a simple filesystem and a spinning
disk. It does not guarantee the old bytes are gone: journaling filesystems may keep copies in
the journal, copy-on-write filesystems (btrfs, ZFS) and snapshots write the zeros elsewhere, and
SSDs remap blocks, so the old ciphertext can survive in blocks nothing points to any more.
Backups keep it too. The same holds for SQLite's deleted pages in a journal or on an SSD, and
for PostgreSQL, which leaves deleted rows in its pages until VACUUM reuses the space (and in
its WAL archives and backups).

What protects a destroyed report is that everything left behind is age ciphertext. Note what
that ciphertext is encrypted to: reports, notes and attachments to the inspectorate's
long-lived recipient, messages to it and to the submitter's reply key (derived from the
codename). The per-report material deleted with the row (the codename's hash and the reply
recipient) unlinks the codename from the report, but it is not a key to these ciphertexts:
anyone holding a copy of the old blocks and the inspectorate's identity could still decrypt
them. Making leftover copies unreadable would need a per-report data key that is itself
destroyed (crypto-shredding), which the portal's format does not have.

SQLite
------
The portal's connections set `secure_delete=ON`, so deleted rows are overwritten with zeros;
but in WAL mode the zeroed pages are written to the WAL, and the old pages stay in the database
file, and earlier WAL frames keep the original content, until a checkpoint. `portal retention run`
therefore ends with `PRAGMA wal_checkpoint(TRUNCATE)`, which copies the zeroed pages into the
database file and empties the WAL (truncation frees the WAL's blocks without overwriting them,
with the caveats above).

Running from cron
-----------------
A run is idempotent: a second run finds nothing left to do. Two runs at once are safe: each
report is destroyed under a lock (PostgreSQL: the row's lock; SQLite: the database's write
lock, taken before the report is read), so the second run finds the row gone and skips it,
which is not a problem. A report reopened between listing and destroying is skipped too. Orphan
blob files are removed only once untouched for ORPHAN_MIN_AGE, so a run never destroys the
blob of an upload still in progress.
"""

from __future__ import annotations

import datetime
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, text
from sqlalchemy.orm import Session

from portal.models import (
    Attachment,
    Message,
    Note,
    Report,
    ReportContent,
    ReportLink,
    ReportStatus,
)
from portal.services import transaction
from portal.services.blobs import BlobStore

ORPHAN_MIN_AGE = datetime.timedelta(hours=1)
"""An orphan blob file is removed only once it has not been written to for this long. Blobs
are published just before their row commits, and staged while an upload arrives: a young file
with no row may belong to a request still in progress, and must not be destroyed under it."""


class NothingToDestroy(Exception):
    """`destroy_report` found nothing to do; the report (if any) is left as it is."""


class ReportGone(NothingToDestroy):
    """The report is no longer there: another run (or an administrator) destroyed it first."""


class ReportNotDue(NothingToDestroy):
    """The report is not closed, or was closed after the given date (it may have been reopened
    since it was listed)."""


@dataclass(frozen=True)
class DestroyedReport:
    """What `destroy_report` removed, and what it could not."""

    report_id: uuid.UUID
    messages: int
    notes: int
    files: int
    """Attachment rows deleted; each had a blob file."""
    links: int


def cutoff_date(today: datetime.date, retention_days: int) -> datetime.date:
    """The last closing date that is due on `today`. Raises ValueError below one day."""
    if retention_days < 1:
        raise ValueError("retention must be at least one day")
    return today - datetime.timedelta(days=retention_days)


def due_reports(
    session: Session, *, today: datetime.date, retention_days: int
) -> list[tuple[uuid.UUID, datetime.date]]:
    """Closed reports due for destruction, with their closing dates, oldest first.

    A report with no closing date is never due, whatever its status.
    """
    cutoff = cutoff_date(today, retention_days)
    rows = session.execute(
        select(Report.id, Report.closed_on)
        .where(
            Report.status == ReportStatus.CLOSED,
            Report.closed_on.is_not(None),
            Report.closed_on <= cutoff,
        )
        .order_by(Report.closed_on, Report.id)
    )
    return [(report_id, closed_on) for report_id, closed_on in rows if closed_on is not None]


def due_for_destruction(
    session: Session, *, today: datetime.date, retention_days: int
) -> list[uuid.UUID]:
    """The ids of closed reports closed on or before `today - retention_days`, oldest first."""
    return [
        report_id
        for report_id, _ in due_reports(session, today=today, retention_days=retention_days)
    ]


def destroy_report(
    session: Session,
    report_id: uuid.UUID,
    blobs: BlobStore,
    *,
    closed_on_or_before: datetime.date | None = None,
) -> DestroyedReport:
    """Delete a closed report's rows, and have its blob files destroyed once that commits.

    Never commits: the caller records `report_destroyed` in the audit log and finishes the
    transaction (`transaction.finish`), whose result says which blob files were destroyed and
    which could not be. The report must still be closed, and closed on or before
    `closed_on_or_before` if given: else ReportNotDue. ReportGone if it no longer exists.
    Either way nothing was changed.

    On SQLite, the deleted rows stay readable in the WAL until a checkpoint: `portal retention run`
    takes care of that (see `checkpoint_sqlite`).
    """
    attachment_ids, counts = _delete_rows(session, report_id, closed_on_or_before)
    for attachment_id in attachment_ids:
        transaction.destroy_after_commit(session, blobs, blobs.path_of(attachment_id))
    return DestroyedReport(report_id=report_id, **counts)


def _delete_rows(
    session: Session, report_id: uuid.UUID, closed_on_or_before: datetime.date | None
) -> tuple[list[uuid.UUID], dict[str, int]]:
    """Lock the report, check it is due, collect its attachment ids and delete its rows.

    The children are deleted explicitly rather than left to the foreign keys' ON DELETE
    CASCADE: the result is the same on both databases, and it does not depend on a SQLite
    connection having `foreign_keys=ON` (a connection made outside `make_engine` would not).
    """
    if session.get_bind().dialect.name == "sqlite":
        # Take the write lock before reading, so what is read below is the latest state and
        # the writes that follow cannot fail on a stale snapshot (see audit._wait_for_turn).
        session.execute(text("UPDATE reports SET status = status WHERE 0 = 1"))
    # PostgreSQL: lock the row; a concurrent run waits here, then finds it gone.
    row = session.execute(
        select(Report.status, Report.closed_on).where(Report.id == report_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise ReportGone(f"report {report_id} no longer exists")
    status, closed_on = row
    if (
        status is not ReportStatus.CLOSED
        or closed_on is None
        or (closed_on_or_before is not None and closed_on > closed_on_or_before)
    ):
        raise ReportNotDue(f"report {report_id} is not closed, or not long enough")
    attachment_ids = list(
        session.scalars(select(Attachment.id).where(Attachment.report_id == report_id))
    )
    counts = {
        # Attachments first: some belong to messages as well as to the report.
        "files": _delete(session, delete(Attachment).where(Attachment.report_id == report_id)),
        "messages": _delete(session, delete(Message).where(Message.report_id == report_id)),
        "notes": _delete(session, delete(Note).where(Note.report_id == report_id)),
        "links": _delete(
            session,
            delete(ReportLink).where(
                or_(ReportLink.report_id == report_id, ReportLink.related_id == report_id)
            ),
        ),
    }
    _delete(session, delete(ReportContent).where(ReportContent.report_id == report_id))
    if _delete(session, delete(Report).where(Report.id == report_id)) != 1:
        raise ReportGone(f"report {report_id} no longer exists")  # pragma: no cover - locked
    return attachment_ids, counts


def _delete(session: Session, statement: Any) -> int:
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast(CursorResult[Any], result).rowcount


def orphan_blobs(
    session: Session, blobs: BlobStore, *, min_age: datetime.timedelta = ORPHAN_MIN_AGE
) -> list[Path]:
    """Blob files no attachment row refers to, untouched for at least `min_age`.

    Reads in the session's transaction and ends it (a rollback), so a write can follow.
    """
    # Listed before the rows are read: a blob whose row commits in between is then known.
    listed = set(blobs.orphans(set()))
    known = set(session.scalars(select(Attachment.id)))
    session.rollback()
    oldest_allowed = time.time() - min_age.total_seconds()
    orphans = []
    for path in sorted(blobs.orphans(known)):
        try:
            old_enough = path.lstat().st_mtime <= oldest_allowed
        except FileNotFoundError:
            continue
        if path in listed and old_enough:
            orphans.append(path)
    return orphans


def remove_orphans(
    session: Session, blobs: BlobStore, *, min_age: datetime.timedelta = ORPHAN_MIN_AGE
) -> tuple[int, list[str]]:
    """Overwrite and unlink every orphan blob file (see `orphan_blobs`): how many, problems."""
    return blobs.destroy(orphan_blobs(session, blobs, min_age=min_age))


def checkpoint_sqlite(session: Session) -> str | None:
    """On SQLite, move every page out of the WAL and truncate it; a problem line, or None.

    Without this, rows deleted under `secure_delete` stay readable in the WAL (and the old
    pages in the database file) until SQLite's next automatic checkpoint, which never
    truncates the WAL. A no-op on PostgreSQL.
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return None
    # A raw connection: outside any transaction, which a checkpoint cannot run inside.
    connection = engine.raw_connection()  # type: ignore[union-attr]
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _log_frames, _checkpointed = cursor.fetchone() or (1, 0, 0)
        cursor.close()
    finally:
        connection.close()
    if busy:
        return (
            "SQLite checkpoint could not finish (other connections were reading): destroyed "
            "rows may stay in the WAL file until the next run"
        )
    return None
