"""Migrations run cleanly up and down, step by step, and leave exactly the models' schema."""

from __future__ import annotations

import datetime
import uuid

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Engine,
    LargeBinary,
    Uuid,
    column,
    func,
    insert,
    inspect,
    select,
    table,
)

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


def test_a_migrated_database_is_a_copy_at_the_newest_revision(database_url: str) -> None:
    """`database_url` is copied from a template migrated once per run, not migrated here: a
    copy that lost the template's last writes (a SQLite log left behind) would fail this."""
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert _tables(database_url) >= set(Base.metadata.tables)


def test_the_migrated_schema_is_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


# --- Data survives every step --------------------------------------------------------------------

REPORT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
SEALED_REPORT = b"age-encryption.org/v1\n(stands in for a report's age file)"


_TYPES = {
    "id": Uuid(),
    "report_id": Uuid(),
    "message_id": Uuid(),
    "received_on": Date(),
    "sent_on": Date(),
    "urgent": Boolean(),
    "content": LargeBinary(),
    "details": LargeBinary(),
}
"""The types of the columns `_rows_at_0002` fills, so values bind alike on both databases."""


def _rows_at_0002(connection: Connection) -> None:
    """A report with a follow-up message and a file, as revision 0002 stores them."""
    message_id = uuid.uuid4()
    day = datetime.date(2026, 11, 2)
    inserts = {
        "reports": {
            "id": REPORT_ID,
            "kind": "other",
            "urgent": False,
            "received_on": day,
            "status": "new",
            "content": SEALED_REPORT,
        },
        "messages": {
            "id": message_id,
            "report_id": REPORT_ID,
            "position": 1,
            "author": "submitter",
            "sent_on": day,
            "content": b"m",
        },
        "attachments": {
            "id": uuid.uuid4(),
            "report_id": REPORT_ID,
            "message_id": message_id,
            "details": b"a",
        },
    }
    for table_name, values in inserts.items():
        columns = (column(name, _TYPES.get(name)) for name in values)
        connection.execute(insert(table(table_name, *columns)).values(values))


def _assert_rows_kept(engine: Engine, revision: str) -> None:
    """Each row is still there, and the report's ciphertext is unchanged wherever `revision`
    keeps it."""
    engine.dispose()  # a fresh connection sees the new schema
    table_name, key = ("reports", "id") if int(revision) < 4 else ("report_contents", "report_id")
    stored = table(table_name, column(key, Uuid()), column("content"))
    with engine.connect() as connection:
        counts = {
            name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in ("reports", "messages", "attachments")
        }
        assert counts == {"reports": 1, "messages": 1, "attachments": 1}, revision
        sealed = connection.execute(select(stored.c.content).where(stored.c[key] == REPORT_ID))
        assert sealed.scalar_one() == SEALED_REPORT, revision


def test_every_step_up_and_down_keeps_the_reports_and_what_refers_to_them(
    empty_database_url: str,
) -> None:
    # Given a database at 0002 holding a report, a message and a file. (SQLite alters a table by
    # copying and dropping it: with foreign keys enforced, dropping `reports` used to delete every
    # message and file through ON DELETE CASCADE.)
    migrate.upgrade(empty_database_url, "0002")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            _rows_at_0002(connection)

        # When the database goes up to the newest schema one step at a time, and back to 0002,
        # then after every step each row is still there
        later = [revision for revision in _revisions_oldest_first() if int(revision) > 2]
        for revision in later:
            migrate.upgrade(empty_database_url, revision)
            _assert_rows_kept(engine, revision)
        for revision in reversed(["0002", *later[:-1]]):
            migrate.downgrade(empty_database_url, revision)
            _assert_rows_kept(engine, revision)
    finally:
        engine.dispose()
