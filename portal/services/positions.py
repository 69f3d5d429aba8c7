"""Positions in a report's conversation and notes that concurrent writers never share.

A submitter's follow-up and an inspector's reply can arrive at the same moment. Each takes the
next position after the highest one stored; without a lock both would read the same highest
position, and the second commit would break the unique (report, position) constraint and fail.
So the writer first takes a lock for that report's list, held until its transaction ends, and
only then reads the highest position: the second writer waits, then sees the first's row.
"""

from __future__ import annotations

import hashlib
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
    on any table. SQLite: a write that changes nothing takes the database's write lock; it must
    come before the read, since a transaction that read first cannot write once another has.
    """
    table = position.class_.__tablename__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(table, report_id)}
        )
    elif dialect == "sqlite":
        session.execute(text(f"UPDATE {table} SET position = position WHERE 0 = 1"))  # noqa: S608
    last = session.scalar(
        select(func.coalesce(func.max(position), 0)).where(report_column == report_id)
    )
    return int(last or 0) + 1


def _lock_key(table: str, report_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for one report's list. Two lists sharing a key (odds
    of 2**-64) would only take turns, never clash."""
    digest = hashlib.sha256(f"portal/{table}/{report_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
