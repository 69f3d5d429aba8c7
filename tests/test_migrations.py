"""Migrations run cleanly up and down, step by step, and leave exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from portal import migrate
from portal.db import make_engine
from portal.models import Base


def _tables(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _revisions_oldest_first() -> list[str]:
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def test_upgrade_downgrade_upgrade_runs_cleanly(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) >= set(Base.metadata.tables)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()

    migrate.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}
    assert migrate.current_revision(empty_database_url) is None

    migrate.upgrade(empty_database_url)
    assert migrate.current_revision(empty_database_url) == migrate.head_revision()


def test_every_revision_steps_up_and_back_down(empty_database_url: str) -> None:
    revisions = _revisions_oldest_first()
    assert revisions, "there is at least one migration"
    previous = "base"
    for revision in revisions:
        migrate.upgrade(empty_database_url, revision)
        assert migrate.current_revision(empty_database_url) == revision
        migrate.downgrade(empty_database_url, previous)
        migrate.upgrade(empty_database_url, revision)
        previous = revision


def test_the_migrated_schema_is_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []
