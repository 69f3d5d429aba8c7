"""The `portal` command: the database, and (as the portal grows) keys, accounts and audits."""

from __future__ import annotations

import collections
import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import migrate
from portal.cli_accounts import keys_recover, users
from portal.cli_common import given_passphrase, settings_from_env
from portal.config import ConfigError
from portal.crypto.scrypt import DEFAULT_WORK_FACTOR, MAX_WORK_FACTOR
from portal.custody import recovery as custody
from portal.db import make_engine
from portal.files import UnsafeFolder
from portal.models import AuditEntry
from portal.recipients import KeysError, read_recipients
from portal.services import audit as audit_log
from portal.services import integrity, retention
from portal.services.blobs import BlobStore


class _PortalGroup(click.Group):
    """Turns the portal's expected errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, UnsafeFolder, KeysError, custody.CustodyError) as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_PortalGroup)
def main() -> None:
    """Manage the probation reporting portal. Settings come from PORTAL_* variables."""


@main.group()
def db() -> None:
    """Apply or roll back the database schema."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    database_url = settings_from_env().database_url
    migrate.upgrade(database_url, revision)
    click.echo(
        f"Database is at revision {migrate.current_revision(database_url) or 'base (empty)'}."
    )


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ("base" empties it)."""
    database_url = settings_from_env().database_url
    migrate.downgrade(database_url, revision)
    click.echo(
        f"Database is at revision {migrate.current_revision(database_url) or 'base (empty)'}."
    )


@db.command()
@click.argument("message")
def revision(message: str) -> None:
    """For developers: draft a migration from the models' differences with the database."""
    path = migrate.draft_revision(settings_from_env().database_url, message)
    click.echo(f"Drafted {path}: read it, tidy it, and add a test if it moves data.")


@db.command()
def current() -> None:
    """Say which revision the database is at, and whether that is the newest."""
    revision = migrate.current_revision(settings_from_env().database_url)
    head = migrate.head_revision()
    if revision == head:
        click.echo(f"{revision} (up to date)")
    else:
        click.echo(f"{revision or 'empty'} (newest is {head}: run `portal db upgrade`)")


@main.group()
def keys() -> None:
    """The inspectorate's keys: create them once, show the public part."""


@keys.command("init")
@click.option("--x25519", "classic", is_flag=True, help="Classic X25519 instead of post-quantum.")
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the recovery passphrase from this file instead of generating one.",
)
@click.option(
    "--recovery-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where to write the recovery file (default: the keys folder's {custody.RECOVERY_FILE}).",
)
@click.option("--development", is_flag=True, help="Label the keys as development keys.")
@click.option(
    "--work-factor",
    type=click.IntRange(10, MAX_WORK_FACTOR),
    default=DEFAULT_WORK_FACTOR,
    show_default=True,
    help="scrypt cost (log2 N) protecting the recovery file.",
)
def keys_init(
    classic: bool,
    passphrase_file: Path | None,
    recovery_file: Path | None,
    development: bool,
    work_factor: int,
) -> None:
    """Create the inspectorate's identity: its recipient goes to the keys folder, the identity
    only into a recovery file encrypted under a passphrase.

    The passphrase is generated and shown once, unless given with --passphrase-file or the
    PORTAL_RECOVERY_PASSPHRASE variable (for automation; it is then never printed).
    """
    settings = settings_from_env()
    given = given_passphrase(passphrase_file)
    passphrase = given or custody.new_recovery_passphrase()
    created = custody.create_keys(
        settings.keys_dir,
        passphrase,
        kind="x25519" if classic else "pq",
        recovery_path=recovery_file,
        development=development,
        work_factor=work_factor,
    )
    kind = "X25519" if classic else "post-quantum"
    label = " DEVELOPMENT" if development else ""
    click.echo(f"Created the inspectorate's{label} {kind} key.")
    click.echo(f"  Public recipient: {created.recipients_path}  (the submission site reads this)")
    click.echo(
        f"  Recovery file:    {created.recovery_path}  (keep it offline, away from both sites)"
    )
    if given is None:
        click.echo("Recovery passphrase, shown only this once. Write it down and keep it apart")
        click.echo("from the recovery file: without both, no report can ever be read again.")
        click.echo(f"\n    {passphrase}\n")


@keys.command("show")
def keys_show() -> None:
    """Print the recipients reports are encrypted to."""
    for recipient in read_recipients(settings_from_env().keys_dir):
        click.echo(str(recipient))


@main.group()
def audit() -> None:
    """Check the audit log and the stored ciphertexts; show recent reviewer actions."""


CLI_ACTOR = "portal-cli"
"""The actor of audit entries written by this command."""


@audit.command("verify")
@click.option(
    "--expected-head",
    metavar="HASH",
    help="A head hash printed by an earlier run: report it if it is no longer in the log.",
)
def audit_verify(expected_head: str | None) -> None:
    """Check the audit log's hash chain and that every stored ciphertext is a well-formed age
    file. Exits with status 0 only if nothing is wrong. Each run is itself logged
    (audit_verified), after the checks.

    Write down the head hash it prints and pass it with --expected-head next time: entries cut
    from the end of the log can be seen no other way.
    """
    if expected_head is not None and not audit_log.HASH_PATTERN.fullmatch(
        expected_head.strip().lower()
    ):
        raise click.BadParameter("must be a hash of 64 hex digits", param_hint="--expected-head")
    settings = settings_from_env()
    _require_current_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            chain = audit_log.verify_chain(session, expected_head=expected_head)
            stored = integrity.scan_stored_ciphertexts(session, BlobStore(settings.blobs))
            # End the read before writing: on SQLite a write can only start on a fresh snapshot.
            session.rollback()
            ok = chain.ok and stored.ok
            _echo_summary(
                f"Audit log: {chain.entries} entries, {_outcome(chain.problems, 'chain intact')}."
                f" Head: {chain.head_hash}",
                chain.problems,
            )
            _echo_summary(
                f"Stored ciphertexts: {stored.checked} checked, "
                f"{_outcome(stored.problems, 'all well-formed age files')}",
                stored.problems,
            )
            sequence = _record_check(session, ok=ok, entries=chain.entries)
    finally:
        engine.dispose()
    click.echo(f"This check was recorded as audit entry {sequence}.")
    if not ok:
        raise SystemExit(1)


def _record_check(session: Session, *, ok: bool, entries: int) -> int:
    try:
        entry = audit_log.record(
            session,
            actor=CLI_ACTOR,
            action=audit_log.AuditAction.AUDIT_VERIFIED,
            detail={"ok": ok, "entries": entries},
        )
    except audit_log.AuditLogBusy as error:
        raise click.ClickException(f"could not record this check: {error}") from None
    sequence = entry.sequence
    session.commit()
    return sequence


@audit.command("show")
@click.option(
    "--last",
    "count",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many of the newest entries to show.",
)
def audit_show(count: int) -> None:
    """Print the newest entries: sequence, UTC time, actor, action and subject (never detail)."""
    settings = settings_from_env()
    _require_current_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(
                    AuditEntry.sequence,
                    AuditEntry.occurred_at,
                    AuditEntry.actor,
                    AuditEntry.action,
                    AuditEntry.subject,
                )
                .order_by(AuditEntry.sequence.desc())
                .limit(count)
            ).all()
    finally:
        engine.dispose()
    if not rows:
        click.echo("The audit log is empty.")
    for row in reversed(rows):
        click.echo(
            f"{row.sequence:>8}  {row.occurred_at:%Y-%m-%dT%H:%M:%S}Z  {_printable(row.actor)}  "
            f"{_printable(row.action)}  {_printable(row.subject or '-')}"
        )


@main.group("retention")
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
    _require_current_schema(settings.database_url)
    retention_days = days or settings.retention_days
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    blobs = BlobStore(settings.blobs)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
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
    finally:
        engine.dispose()
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


def _require_current_schema(database_url: str) -> None:
    revision, head = migrate.current_revision(database_url), migrate.head_revision()
    if revision != head:
        raise click.ClickException(
            f"the database is at revision {revision or 'base (empty)'}, not {head}: "
            "run `portal db upgrade`"
        )


def _outcome(problems: list[str], all_well: str) -> str:
    if not problems:
        return all_well
    return f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"


def _echo_summary(summary: str, problems: list[str]) -> None:
    click.echo(summary)
    for problem in problems:
        click.echo(f"  {problem}")


def _printable(value: str) -> str:
    """`value` with control characters replaced, so a stored name cannot drive the terminal."""
    return "".join(character if character.isprintable() else "?" for character in value)


main.add_command(users)
keys.add_command(keys_recover)
