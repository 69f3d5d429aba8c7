"""Positions in a report's conversation and notes that concurrent writers never share.

A submitter's follow-up and an inspector's reply can arrive at the same moment. Each takes the
next position after the highest one stored; without a lock both would read the same highest
position, and the second commit would break the unique (report, position) constraint and fail.
So the writer first takes a lock for that report's list, held until its transaction ends, and
only then reads the highest position: the second writer waits, then sees the first's row.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session


def next_position(
    session: Session,
    position: InstrumentedAttribute[int],
    report_column: InstrumentedAttribute[uuid.UUID],
    report_id: uuid.UUID,
) -> int:
    """Lock the report's list (`position`'s table), then return the position after its last.

    PostgreSQL: a transaction-level advisory lock on (list, report), which needs no privilege
    on any table. Its key is computed by the database (`portal_position_lock_key`, migration
    0007), so the follow-up functions the submission role calls take the very same lock.
    SQLite: a write that changes nothing takes the database's write lock; it must come before
    the read, since a transaction that read first cannot write once another has.
    """
    table = position.class_.__tablename__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(portal_position_lock_key(:list, :report_id))"),
            {"list": table, "report_id": report_id},
        )
    elif dialect == "sqlite":
        session.execute(text(f"UPDATE {table} SET position = position WHERE 0 = 1"))  # noqa: S608
    last = session.scalar(
        select(func.coalesce(func.max(position), 0)).where(report_column == report_id)
    )
    return int(last or 0) + 1
