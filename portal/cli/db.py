"""`portal db`: apply or roll back the database schema (Alembic, through portal.migrate), and
give each site its own PostgreSQL role (portal.database_roles)."""

from __future__ import annotations

import os

import click

from portal import database_roles, migrate
from portal.cli.common import settings_from_env
from portal.db import make_engine

PASSWORD_VARIABLES = {
    "submit": "PORTAL_DB_SUBMIT_PASSWORD",
    "review": "PORTAL_DB_REVIEW_PASSWORD",
    "audit": "PORTAL_DB_AUDIT_PASSWORD",
}
_PREFIX_OPTION = click.option(
    "--prefix",
    default=database_roles.DEFAULT_PREFIX,
    show_default=True,
    help="The roles are named PREFIX_submit, PREFIX_review and PREFIX_audit.",
)


@click.group()
def db() -> None:
    """Apply or roll back the database schema."""


@db.command()
@click.argument("revision", default="head")
@_PREFIX_OPTION
def upgrade(revision: str, prefix: str) -> None:
    """Migrate the database up to REVISION (default: the newest).

    On PostgreSQL, when the sites' roles exist (`portal db roles`), their grants are applied
    again, so a table the migration added is covered at once."""
    database_url = settings_from_env().database_url
    migrate.upgrade(database_url, revision)
    _echo_revision(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            if not database_roles.roles_exist(connection, prefix):
                return
            database_roles.grant_privileges(connection, prefix=prefix)
    finally:
        engine.dispose()
    click.echo(f"Grants applied again to the roles {prefix}_submit, _review and _audit.")


@db.command()
@_PREFIX_OPTION
def roles(prefix: str) -> None:
    """PostgreSQL: create or correct the sites' roles and apply their grants (idempotent).

    Run it as the owner of the schema, after `portal db upgrade`. A role's password comes from
    PORTAL_DB_SUBMIT_PASSWORD, PORTAL_DB_REVIEW_PASSWORD or PORTAL_DB_AUDIT_PASSWORD when set
    (and is then changed to it); a role created without one gets a random password, printed
    once as its connection URL. An existing role otherwise keeps its password."""
    database_url = settings_from_env().database_url
    if not database_url.startswith("postgresql"):
        raise click.ClickException("database roles need PostgreSQL; SQLite has no roles")
    passwords = {
        site: os.environ[variable]
        for site, variable in PASSWORD_VARIABLES.items()
        if os.environ.get(variable)
    }
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            applied = database_roles.apply_roles(
                connection, database_url, prefix=prefix, passwords=passwords
            )
    except database_roles.RolesError as error:
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()
    for name in database_roles.role_names(prefix):
        state = "created" if name in applied.created else "exists"
        click.echo(f"{name}: {state}, grants applied")
    for name, url in applied.generated_urls.items():
        click.echo(f"PORTAL_DATABASE_URL for {name} (shown once, not stored): {url}")


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
