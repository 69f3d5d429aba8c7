"""Alembic environment: runs the portal's migrations on the database named in the config."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, event

from portal.db import make_engine
from portal.models import Base

config = context.config


class ForeignKeyViolation(RuntimeError):
    """A migration left rows pointing at rows that do not exist; it was rolled back."""


def _without_foreign_key_enforcement(dbapi_connection: Any, _record: Any) -> None:
    """SQLite alters a table by copying it, dropping the original and renaming the copy. With
    foreign keys enforced, dropping `reports` deletes every row that refers to it (ON DELETE
    CASCADE): messages, files and notes would vanish. SQLite's documented procedure for altering
    tables turns enforcement off and checks the keys before committing (`_check_foreign_keys`).
    The setting cannot change inside a transaction, so it is made as the connection opens."""
    dbapi_connection.execute("PRAGMA foreign_keys=OFF")


def _check_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        tables = sorted({str(violation[0]) for violation in violations})
        raise ForeignKeyViolation(f"rows with broken foreign keys in: {', '.join(tables)}")


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    is_sqlite = engine.dialect.name == "sqlite"
    if is_sqlite:
        # Runs after make_engine's own listener, which turns enforcement on.
        event.listen(engine, "connect", _without_foreign_key_enforcement)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                # SQLite alters tables by copying them; batch mode does that for us.
                render_as_batch=is_sqlite,
                # The portal's engine emits BEGIN itself on SQLite, so DDL is transactional there
                # too: a migration that fails half-way leaves the schema as it was.
                transactional_ddl=True,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if is_sqlite:
                    _check_foreign_keys(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported: run `portal db upgrade`")
run_migrations_online()
