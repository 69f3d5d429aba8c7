"""`portal keys`: create the inspectorate's keys once, show the public part, and recover an
administrator from the recovery file when no one can sign in any more."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto
from portal.cli.common import (
    CLI_ACTOR,
    database_session,
    given_passphrase,
    require_current_schema,
    settings_from_env,
)
from portal.cli.users import add_account, recovery_identity, recovery_options
from portal.crypto.keys import AnyIdentity
from portal.crypto.scrypt import DEFAULT_WORK_FACTOR, MAX_WORK_FACTOR
from portal.custody import epochs, recovery
from portal.custody.bindings import binding_key
from portal.custody.host_key import HostKey
from portal.custody.host_key import load_existing as load_existing_host_key
from portal.models import EpochState, KeyEpoch, Role
from portal.recipients import read_recipients
from portal.services import rekeying, transaction
from portal.services.audit import AuditAction, record
from portal.services.blobs import BlobStore

MAX_PASSES = 3
"""Passes over everything stored before giving up on ciphertexts still arriving for a
retiring epoch."""


@click.group()
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
    help=f"Where to write the recovery file (default: the keys folder's {recovery.RECOVERY_FILE}).",
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
    passphrase = given or recovery.new_recovery_passphrase()
    created = recovery.create_keys(
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


@keys.command("rotate")
def keys_rotate() -> None:
    """Start a new key epoch: a new identity, granted to every reader and to the recovery
    recipient, with no password or passphrase needed. Writes the new recipients file, for the
    submission host; until it has it, reports go on to the previous epoch, which stays
    readable. Run it after revoking an account."""
    settings = settings_from_env()
    require_current_schema(settings.database_url)
    today = datetime.datetime.now(datetime.UTC).date()
    with database_session(settings) as session:
        try:
            epoch = epochs.rotate(session, today=today)
        except epochs.EpochError as error:
            raise click.ClickException(str(error)) from None
        record(
            session,
            actor=CLI_ACTOR,
            action=AuditAction.KEYS_ROTATED,
            detail={"epoch": epoch.number},
        )
        transaction.finish(session)
        # Only once the epoch is kept: a recipients file naming an epoch that was rolled back
        # would seal reports to a key nobody holds.
        number = epoch.number
        path = epochs.write_recipients_file(settings.keys_dir, epoch)
    click.echo(f"Key epoch {number} is current; {number - 1} stays readable.")
    click.echo(f"Copy {path} to the submission host's keys folder and restart it: until then")
    click.echo(f"new reports go to epoch {number - 1}. Then run `portal keys rekey`.")


@keys.command("rekey")
@recovery_options
def keys_rekey(passphrase_file: Path | None, recovery_file: Path | None) -> None:
    """Move every stored ciphertext off the previous key epochs onto the current one by
    rewriting age headers (no report or file is decrypted), then retire those epochs: their
    grants are destroyed. Resumable: run it again after any interruption. Run it once the
    submission host has the current recipients file. Needs the recovery passphrase."""
    settings = settings_from_env()
    require_current_schema(settings.database_url)
    identity = recovery_identity(settings, given_passphrase(passphrase_file), recovery_file)
    with database_session(settings) as session:
        host_key = load_existing_host_key(settings.instance_dir)
        move, retiring = _planned_move(session, identity, host_key)
        if move is None:
            click.echo("Nothing to re-key: no previous key epoch is waiting to be retired.")
            return
        moved, blob_bytes = 0, 0
        for _ in range(MAX_PASSES):
            # Until a pass finds nothing left: reports the submission host sealed to a retiring
            # epoch meanwhile are moved by the next pass.
            progress = _run_pass(session, BlobStore(settings.blobs), move)
            moved, blob_bytes = moved + progress.moved, blob_bytes + progress.blob_bytes
            if progress.moved == 0:
                break
        else:
            raise click.ClickException(
                "ciphertexts keep arriving for a retiring epoch: give the submission host the "
                "current recipients file, then run this again"
            )
        for epoch in retiring:
            epochs.retire(session, epoch)
            record(
                session,
                actor=CLI_ACTOR,
                action=AuditAction.EPOCH_RETIRED,
                detail={"epoch": epoch.number, "moved": moved},
            )
        numbers = ", ".join(str(epoch.number) for epoch in retiring)
        transaction.finish(session)
    click.echo(
        f"Moved {moved} ciphertexts ({blob_bytes / 2**20:.1f} MiB of files) to the current "
        f"epoch; retired epoch(s) {numbers}: their grants are destroyed."
    )


def _planned_move(
    session: Session, identity: AnyIdentity, host_key: HostKey | None
) -> tuple[rekeying.Move | None, list[KeyEpoch]]:
    """What to move where, from the recovery recipient's grants; (None, []) if nothing."""
    current = epochs.current_epoch(session)
    retiring = list(session.scalars(select(KeyEpoch).where(KeyEpoch.state == EpochState.PREVIOUS)))
    if current is None or not retiring:
        return None, []
    held = epochs.keys_held(session, identity, reviewer_id=None)
    missing = [epoch.number for epoch in [current, *retiring] if epoch.number not in held]
    if missing:
        raise click.ClickException(
            f"the recovery file opens no grant of epoch(s) {missing}: is it this portal's?"
        )
    move = rekeying.Move(
        old=[held[epoch.number] for epoch in retiring],
        new=[crypto.parse_recipient(current.recipient)],
        readers=list(held.values()),
        bindings=None if host_key is None else binding_key(host_key),
    )
    return move, retiring


def _run_pass(session: Session, blobs: BlobStore, move: rekeying.Move) -> rekeying.Progress:
    """One pass over everything stored, each batch committed as it is done."""
    total = rekeying.count(session)
    progress = rekeying.Progress()
    # On a terminal a bar; elsewhere (cron, a pipe) click writes the label once.
    with click.progressbar(length=total, label="Re-keying", file=sys.stderr) as bar:
        for progress in rekeying.batches(session, blobs, move):
            transaction.finish(session)
            bar.update(progress.done - bar.pos)
    return progress


@keys.command("recover")
@click.argument("username")
@recovery_options
def keys_recover(username: str, passphrase_file: Path | None, recovery_file: Path | None) -> None:
    """Create a new administrator from the recovery file, when no administrator can sign in."""
    add_account(
        settings_from_env(),
        username=username,
        role=Role.ADMIN,
        passphrase=given_passphrase(passphrase_file),
        recovery_file=recovery_file,
        enrolled=False,
        action=AuditAction.KEYS_RECOVERED,
    )
