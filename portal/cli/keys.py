"""`portal keys`: create the inspectorate's keys once, show the public part, and recover an
administrator from the recovery file when no one can sign in any more."""

from __future__ import annotations

from pathlib import Path

import click

from portal.cli.common import given_passphrase, settings_from_env
from portal.cli.users import add_account, recovery_options
from portal.crypto.scrypt import DEFAULT_WORK_FACTOR, MAX_WORK_FACTOR
from portal.custody import recovery
from portal.models import Role
from portal.recipients import read_recipients
from portal.services.audit import AuditAction


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
