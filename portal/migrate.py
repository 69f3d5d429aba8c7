"""Schema migrations (Alembic), driven from Python so no alembic.ini is needed."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from portal.config import PROJECT_ROOT, ConfigError
from portal.db import make_engine

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for the portal's migrations against `database_url`."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise ConfigError(
            f"no migrations at {MIGRATIONS_DIR}: install the portal from its checkout"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini syntax treats % as interpolation; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def draft_revision(database_url: str, message: str) -> str:
    """Write a new migration comparing the models with `database_url`; return its file's path.

    Revisions are numbered 0001, 0002, ... so the folder reads in order."""
    next_id = f"{int(head_revision()) + 1:04d}"
    script = command.revision(
        alembic_config(database_url), message=message, autogenerate=True, rev_id=next_id
    )
    return script.path  # type: ignore[union-attr]


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision in the migrations folder."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise ConfigError(f"no migrations at {MIGRATIONS_DIR}")
    return head
