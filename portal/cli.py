"""The `portal` command: the database, and (as the portal grows) keys, accounts and audits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from portal import custody, migrate
from portal.config import ConfigError, Settings, ensure_private_dir
from portal.crypto.scrypt import DEFAULT_WORK_FACTOR, MAX_WORK_FACTOR
from portal.keys import KeysError, read_recipients


class _PortalGroup(click.Group):
    """Turns the portal's expected errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, KeysError, custody.CustodyError) as error:
            raise click.ClickException(str(error)) from None


def _settings() -> Settings:
    settings = Settings.from_env()
    ensure_private_dir(settings.instance_dir)
    return settings


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
    database_url = _settings().database_url
    migrate.upgrade(database_url, revision)
    click.echo(
        f"Database is at revision {migrate.current_revision(database_url) or 'base (empty)'}."
    )


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ("base" empties it)."""
    database_url = _settings().database_url
    migrate.downgrade(database_url, revision)
    click.echo(
        f"Database is at revision {migrate.current_revision(database_url) or 'base (empty)'}."
    )


@db.command()
@click.argument("message")
def revision(message: str) -> None:
    """For developers: draft a migration from the models' differences with the database."""
    path = migrate.draft_revision(_settings().database_url, message)
    click.echo(f"Drafted {path}: read it, tidy it, and add a test if it moves data.")


@db.command()
def current() -> None:
    """Say which revision the database is at, and whether that is the newest."""
    revision = migrate.current_revision(_settings().database_url)
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
    settings = _settings()
    given = _given_passphrase(passphrase_file)
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


def _given_passphrase(passphrase_file: Path | None) -> str | None:
    if passphrase_file is not None:
        return passphrase_file.read_text(encoding="utf-8").strip("\r\n")
    return os.environ.get("PORTAL_RECOVERY_PASSPHRASE") or None


@keys.command("show")
def keys_show() -> None:
    """Print the recipients reports are encrypted to."""
    for recipient in read_recipients(_settings().keys_dir):
        click.echo(str(recipient))
