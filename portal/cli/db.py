"""`portal db`: apply or roll back the database schema (Alembic, through portal.migrate)."""

from __future__ import annotations

import click

from portal import migrate
from portal.cli.common import settings_from_env


@click.group()
def db() -> None:
    """Apply or roll back the database schema."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    database_url = settings_from_env().database_url
    migrate.upgrade(database_url, revision)
    _echo_revision(database_url)


@db.command()
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ("base" empties it)."""
    database_url = settings_from_env().database_url
    migrate.downgrade(database_url, revision)
    _echo_revision(database_url)


def _echo_revision(database_url: str) -> None:
    """Say where the database ended up: read back, not assumed from the revision asked for."""
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
