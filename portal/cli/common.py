"""What every `portal` subcommand shares: settings from the environment, a given passphrase, a
database session, the actor its audit entries name, and the schema check before any query."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import click
from sqlalchemy.orm import Session

from portal import migrate
from portal.config import Settings
from portal.custody import audit_signing
from portal.custody.host_key import load_existing as load_existing_host_key
from portal.db import make_engine
from portal.files import ensure_private_dir
from portal.services import audit as audit_log

CLI_ACTOR = "portal-cli"
"""The actor of audit entries written by this command."""


def settings_from_env() -> Settings:
    """The PORTAL_* settings, with the instance folder made private before anything uses it."""
    settings = Settings.from_env()
    ensure_private_dir(settings.instance_dir)
    return settings


def given_passphrase(passphrase_file: Path | None) -> str | None:
    """The recovery passphrase from --passphrase-file or PORTAL_RECOVERY_PASSPHRASE, if given."""
    if passphrase_file is not None:
        return passphrase_file.read_text(encoding="utf-8").strip("\r\n")
    return os.environ.get("PORTAL_RECOVERY_PASSPHRASE") or None


@contextlib.contextmanager
def database_session(settings: Settings) -> Iterator[Session]:
    """A session on a fresh engine for the settings' database, disposed of afterwards.

    A command runs once and exits, so it owns its engine: disposing of it closes every pooled
    connection at once (on PostgreSQL, none lingers until the process ends). The session commits
    nothing itself: each command commits what it means to keep.

    On the review host (where the review-host key is), the audit entries the command appends
    are signed, as the review site's are; elsewhere they are appended unsigned, and
    `portal audit verify` reports them until a signed entry follows.
    """
    host_key = load_existing_host_key(settings.instance_dir)
    signer = audit_signing.signer(host_key) if host_key is not None else None
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, info=audit_log.session_info(signer)) as session:
            yield session
    finally:
        engine.dispose()


def require_current_schema(database_url: str) -> None:
    """Stop with one line unless the database is at the newest revision: a command that reads
    an older schema would fail half-way, or (worse) write rows the migration has not shaped."""
    revision, head = migrate.current_revision(database_url), migrate.head_revision()
    if revision != head:
        raise click.ClickException(
            f"the database is at revision {revision or 'base (empty)'}, not {head}: "
            "run `portal db upgrade`"
        )
