"""`portal retention run`: destroy reports closed long enough ago, made to run daily from cron."""

from __future__ import annotations

import collections
import datetime

import click
from sqlalchemy.orm import Session

from portal.cli.common import (
    CLI_ACTOR,
    database_session,
    require_current_schema,
    settings_from_env,
)
from portal.services import retention
from portal.services.blobs import BlobStore


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
        report = retention.run_retention(
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


def _retention_summary(report: retention.RetentionReport, retention_days: int) -> str:
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
