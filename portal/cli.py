"""The `portal` command: the database, and (as the portal grows) keys, accounts and audits."""

from __future__ import annotations

from typing import Any

import click

from portal import migrate
from portal.config import ConfigError, Settings, ensure_private_dir


class _PortalGroup(click.Group):
    """Turns the portal's expected errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
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
