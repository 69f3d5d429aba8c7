"""`portal audit`: check the audit log's hash chain and every stored ciphertext, and show the
newest reviewer actions without their detail."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal.cli import audit_heads
from portal.cli.common import (
    CLI_ACTOR,
    database_session,
    require_current_schema,
    settings_from_env,
)
from portal.custody.bindings import binding_key
from portal.custody.host_key import HostKey
from portal.custody.host_key import load_existing as load_existing_host_key
from portal.models import AuditEntry
from portal.services import audit as audit_log
from portal.services import integrity, transaction
from portal.services.binding_audit import BindingScan, scan_bindings
from portal.services.blobs import BlobStore


@click.group()
def audit() -> None:
    """Check the audit log and the stored ciphertexts; show recent reviewer actions."""


@audit.command("verify")
@click.option(
    "--expected-head",
    metavar="HASH",
    help="A head hash printed by an earlier run: report it if it is no longer in the log.",
)
@click.option(
    "--head",
    "head_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed head from `portal audit export-head`: report it if it is no longer in the "
    "log, or if its signature is wrong.",
)
def audit_verify(expected_head: str | None, head_file: Path | None) -> None:
    """Check the audit log's hash chain and signatures, that every stored ciphertext is a
    well-formed age file and, on the review host, that every opened report, message, file and
    note still matches its review-host binding. Exits with status 0 only if nothing is wrong.
    Each run is itself logged (audit_verified), after the checks, unless the database role may
    only read.

    Signatures are checked with the review-host key (on the review host) or the key in the
    head given. Keep a head from `portal audit export-head` off the host and pass it with
    --head next time (or the head hash printed, with --expected-head): entries cut from the
    end of the log can be seen no other way.
    """
    if expected_head is not None and not audit_log.HASH_PATTERN.fullmatch(
        expected_head.strip().lower()
    ):
        raise click.BadParameter("must be a hash of 64 hex digits", param_hint="--expected-head")
    head = audit_heads.read_head(head_file)
    settings = settings_from_env()
    require_current_schema(settings.database_url)
    host_key = load_existing_host_key(settings.instance_dir)
    with database_session(settings) as session:
        chain = audit_log.verify_chain(
            session,
            expected_head=expected_head,
            public_keys=audit_heads.checking_keys(host_key, head),
            signed_head=head,
        )
        stored = integrity.scan_stored_ciphertexts(session, BlobStore(settings.blobs), host_key)
        bindings = _scan_bindings(session, host_key)
        # End the read before writing: on SQLite a write can only start on a fresh snapshot.
        session.rollback()
        ok = chain.ok and stored.ok and (bindings is None or bindings.ok)
        _echo_summary(
            f"Audit log: {chain.entries} entries, {_outcome(chain.problems, 'chain intact')}."
            f" Head: {chain.head_hash}",
            chain.problems,
        )
        click.echo(audit_heads.signature_summary(chain, host_key))
        _echo_summary(
            f"Stored ciphertexts: {stored.checked} checked, "
            f"{_outcome(stored.problems, 'all well-formed age files')}",
            stored.problems,
        )
        if stored.sealed_unchecked:
            click.echo(
                f"  {stored.sealed_unchecked} keyrings sealed under the review-host key were not"
                " checked: run this on the review host to check them."
            )
        _echo_bindings(bindings)
        sequence = _record_check(session, ok=ok, entries=chain.entries)
    if sequence is None:
        # The auditors' read-only role: the checks stand, only their trace is missing.
        click.echo("This check could not be recorded: the database role may not write to the log.")
    else:
        click.echo(f"This check was recorded as audit entry {sequence}.")
    if not ok:
        raise SystemExit(1)


def _scan_bindings(session: Session, host_key: HostKey | None) -> BindingScan | None:
    """The rows' review-host bindings checked, or None off the review host (no host key)."""
    if host_key is None:
        return None
    return scan_bindings(session, binding_key(host_key))


def _echo_bindings(bindings: BindingScan | None) -> None:
    if bindings is None:
        click.echo("Row bindings: not checked (no review-host key): run this on the review host.")
        return
    _echo_summary(
        f"Row bindings: {bindings.checked} bound rows checked, "
        f"{_outcome(bindings.problems, 'all match')}",
        bindings.problems,
    )
    if bindings.unbound:
        click.echo(
            f"  {bindings.unbound} rows not bound yet: no inspector has opened them since"
            " bindings began."
        )


def _record_check(session: Session, *, ok: bool, entries: int) -> int | None:
    """The sequence number of the entry recording this check; None if the database refused
    the write because the role may only read."""
    try:
        entry = audit_log.record(
            session,
            actor=CLI_ACTOR,
            action=audit_log.AuditAction.AUDIT_VERIFIED,
            detail={"ok": ok, "entries": entries},
        )
        sequence = entry.sequence
        transaction.finish(session)
    except audit_log.AuditLogBusy as error:
        raise click.ClickException(f"could not record this check: {error}") from None
    except DBAPIError as error:
        session.rollback()
        if not audit_heads.is_read_only_refusal(error):
            raise
        return None
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
    require_current_schema(settings.database_url)
    with database_session(settings) as session:
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
    if not rows:
        click.echo("The audit log is empty.")
    for row in reversed(rows):
        click.echo(
            f"{row.sequence:>8}  {row.occurred_at:%Y-%m-%dT%H:%M:%S}Z  {_printable(row.actor)}  "
            f"{_printable(row.action)}  {_printable(row.subject or '-')}"
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


audit.add_command(audit_heads.export_head)
