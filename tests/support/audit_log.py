"""Tampering with the audit log as a database writer would, past its append-only triggers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text


@contextmanager
def past_the_triggers(connection: Connection) -> Iterator[None]:
    """Within this block, `connection`'s transaction may update and delete audit entries.

    As someone able to get round the triggers: on PostgreSQL a superuser (the tests' server
    user) turning triggers off for the transaction (`session_replication_role = replica`); on
    SQLite, anyone who can write the file, dropping them and creating them again afterwards, so
    that the database looks untouched. The caller commits."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        connection.execute(text("SET LOCAL session_replication_role = origin"))
        return
    triggers = connection.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        )
    ).all()
    assert triggers, "the migrated database has no triggers on audit_log"
    for name, _sql in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _name, sql in triggers:
        connection.execute(text(sql))
