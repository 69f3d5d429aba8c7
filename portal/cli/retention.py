"""`portal retention run`: destroy reports closed long enough ago, made to run daily from cron.

The command owns the run's transactions: one per report destroyed (its rows, and its
`report_destroyed` audit entry, with its blob files destroyed once that has committed), and one
for the run's own `retention_run` entry. What destroying a report means, and in which order
things happen, is in `portal.services.retention`.
"""

from __future__ import annotations

import collections
import datetime
import uuid
from dataclasses import dataclass, field

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.cli.common import (
    CLI_ACTOR,
    database_session,
    require_current_schema,
    settings_from_env,
)
from portal.services import retention, transaction
from portal.services.audit import AuditAction, AuditLogBusy, record
from portal.services.blobs import BlobStore, StorageUnavailable
from portal.services.retention import ORPHAN_MIN_AGE, NothingToDestroy


@click.group("retention")
def retention_group() -> None:
    """Destroy closed reports once their retention period has passed."""


@retention_group.command("run")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Destroy reports closed at least this many days ago (default: PORTAL_RETENTION_DAYS, "
    "else 365).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Only say how many reports would be destroyed and when they were closed.",
)
@click.option("--verbose", is_flag=True, help="Print the summary even when nothing was done.")
def retention_run(days: int | None, dry_run: bool, verbose: bool) -> None:
    """Destroy every report closed DAYS or more days ago: its rows, its per-report keys and its
    files (overwritten, then unlinked). Orphan blob files left by an earlier run go too.

    Made for cron: silent when there is nothing to do (unless --verbose), one summary line when
    something was destroyed, and the problems on stderr with exit status 1 if any. Each run is
    recorded in the audit log (retention_run, and report_destroyed for each report).
    """
    settings = settings_from_env()
    require_current_schema(settings.database_url)
    retention_days = days or settings.retention_days
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    blobs = BlobStore(settings.blobs)
    with database_session(settings) as session:
        if dry_run:
            _retention_dry_run(session, blobs, today=now.date(), retention_days=retention_days)
            return
        report = run_retention(
            session,
            blobs,
            today=now.date(),
            retention_days=retention_days,
            actor=CLI_ACTOR,
            now=now,
        )
    if report.removed_anything or report.problems or verbose:
        click.echo(_retention_summary(report, retention_days))
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    if report.problems:
        raise SystemExit(1)


@dataclass(frozen=True)
class RetentionReport:
    """What `run_retention` did."""

    cutoff: datetime.date
    """Reports closed on or before this date were due."""
    destroyed: int = 0
    blob_files_removed: int = 0
    orphans_removed: int = 0
    skipped: int = 0
    """Due reports another run destroyed first, or that were reopened: not problems."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def removed_anything(self) -> bool:
        return bool(self.destroyed or self.blob_files_removed or self.orphans_removed)


def run_retention(
    session: Session,
    blobs: BlobStore,
    *,
    today: datetime.date,
    retention_days: int,
    actor: str,
    now: datetime.datetime,
    orphan_min_age: datetime.timedelta = ORPHAN_MIN_AGE,
) -> RetentionReport:
    """Destroy every report due on `today`, after first removing orphan blob files left by
    earlier runs; then checkpoint SQLite, and record one `retention_run` audit entry.

    Never raises for a report that fails: each failure is a line in `problems`, and the
    report is tried again next run. The session must have no transaction open.
    """
    if session.in_transaction():
        raise ValueError("run_retention runs its own transactions: commit or roll back first")
    cutoff = retention.cutoff_date(today, retention_days)
    orphans_removed, problems = retention.remove_orphans(session, blobs, min_age=orphan_min_age)
    due = retention.due_for_destruction(session, today=today, retention_days=retention_days)
    # End the read: on SQLite a transaction that has read cannot write once another has.
    session.rollback()
    destroyed = files_removed = skipped = 0
    for report_id in due:
        try:
            finished = _destroy_one(
                session, report_id, blobs, actor=actor, now=now, closed_on_or_before=cutoff
            )
        except NothingToDestroy:
            session.rollback()
            skipped += 1
            continue
        except (SQLAlchemyError, AuditLogBusy, StorageUnavailable) as error:
            session.rollback()
            problems.append(
                f"report {report_id}: not destroyed ({_kind_of(error)}); the next run tries again"
            )
            continue
        destroyed += 1
        files_removed += finished.blobs_destroyed
        problems.extend(finished.problems)
    if destroyed and (problem := retention.checkpoint_sqlite(session)):
        problems.append(problem)
    report = RetentionReport(
        cutoff=cutoff,
        destroyed=destroyed,
        blob_files_removed=files_removed,
        orphans_removed=orphans_removed,
        skipped=skipped,
        problems=problems,
    )
    if problem := _record_run(session, report, retention_days=retention_days, actor=actor, now=now):
        problems.append(problem)
    return report


def _destroy_one(
    session: Session,
    report_id: uuid.UUID,
    blobs: BlobStore,
    *,
    actor: str,
    now: datetime.datetime,
    closed_on_or_before: datetime.date,
) -> transaction.Finished:
    """Destroy one report and record it, in one transaction of its own."""
    result = retention.destroy_report(
        session, report_id, blobs, closed_on_or_before=closed_on_or_before
    )
    record(
        session,
        actor=actor,
        action=AuditAction.REPORT_DESTROYED,
        subject=str(report_id),
        detail={"messages": result.messages, "notes": result.notes, "files": result.files},
        now=now,
    )
    return transaction.finish(session)


def _record_run(
    session: Session,
    report: RetentionReport,
    *,
    retention_days: int,
    actor: str,
    now: datetime.datetime,
) -> str | None:
    """Record the run and commit; a problem line if that failed, else None."""
    try:
        record(
            session,
            actor=actor,
            action=AuditAction.RETENTION_RUN,
            detail={
                "retention_days": retention_days,
                "cutoff": report.cutoff.isoformat(),
                "destroyed": report.destroyed,
                "blob_files": report.blob_files_removed,
                "orphans": report.orphans_removed,
                "skipped": report.skipped,
                "problems": len(report.problems),
            },
            now=now,
        )
        transaction.finish(session)
    except (SQLAlchemyError, AuditLogBusy, StorageUnavailable) as error:
        session.rollback()
        return f"this run was not recorded in the audit log ({_kind_of(error)})"
    return None


def _kind_of(error: Exception) -> str:
    """The kind of a failure, for a problem line: the message of a database error may quote
    SQL, so only its type is given (the storage failure underneath, where there is one)."""
    if isinstance(error, StorageUnavailable) and error.__cause__ is not None:
        return type(error.__cause__).__name__
    return type(error).__name__


def _retention_dry_run(
    session: Session, blobs: BlobStore, *, today: datetime.date, retention_days: int
) -> None:
    due = retention.due_reports(session, today=today, retention_days=retention_days)
    orphans = retention.orphan_blobs(session, blobs)
    cutoff = retention.cutoff_date(today, retention_days)
    click.echo(
        f"Would destroy {_count(len(due), 'report')} closed on or before {cutoff} "
        f"(retention {retention_days} days), and {_count(len(orphans), 'orphan blob file')}."
    )
    by_date = collections.Counter(closed_on for _, closed_on in due)
    for closed_on, reports in sorted(by_date.items()):
        click.echo(f"  closed {closed_on}: {_count(reports, 'report')}")


def _retention_summary(report: RetentionReport, retention_days: int) -> str:
    summary = (
        f"Destroyed {_count(report.destroyed, 'report')} closed on or before {report.cutoff} "
        f"(retention {retention_days} days): {_count(report.blob_files_removed, 'blob file')} "
        f"and {_count(report.orphans_removed, 'orphan blob file')} overwritten and removed"
    )
    if report.skipped:
        summary += f", {report.skipped} skipped (already destroyed or reopened)"
    if report.problems:
        summary += f"; {_count(len(report.problems), 'problem')}"
    return summary + "."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
