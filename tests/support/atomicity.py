"""Making the audit log refuse entries, and comparing everything stored before and after.

Used to prove that an action and its audit entry are kept together or not at all, from the
review pages (tests/review/test_audit_atomicity.py) and the command line
(tests/cli/test_audit_atomicity.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal.models import Base


@contextmanager
def audit_writes_fail() -> Iterator[None]:
    """Every INSERT into the audit log fails, as it would on a full disk."""

    def refuse(
        _connection: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise OperationalError(statement, parameters, OSError(28, "No space left on device"))

    event.listen(Engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", refuse)


def state_of(session: Session, blob_dir: Path) -> dict[str, list[str]]:
    """Every row of every table, and every file in the blob folder, comparable as text.

    A review session's last-seen time is left out: it moves at the start of every request,
    before any action, in a transaction of its own.
    """
    session.rollback()  # a fresh transaction sees what others committed
    state = {}
    for table in Base.metadata.sorted_tables:
        columns = [
            column
            for column in table.columns
            if (table.name, column.name) != ("review_sessions", "last_seen_at")
        ]
        state[table.name] = sorted(repr(tuple(row)) for row in session.execute(select(*columns)))
    state["blob files"] = sorted(p.name for p in blob_dir.iterdir()) if blob_dir.is_dir() else []
    return state
