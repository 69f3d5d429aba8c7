"""The audit log is append-only in the database itself: any connection that has not removed the
triggers (every PostgreSQL role but the owner and superusers) can add entries, never change or
remove one. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import AuditEntry
from portal.services.audit import AuditAction, record, verify_chain

REFUSALS = {
    "update": "UPDATE audit_log SET actor = 'someone-else'",
    "delete": "DELETE FROM audit_log",
    "delete one": "DELETE FROM audit_log WHERE sequence = (SELECT max(sequence) FROM audit_log)",
    "renumber": "UPDATE audit_log SET sequence = sequence + 100",
    "strip signatures": "UPDATE audit_log SET head_signature = NULL",
}


@pytest.mark.parametrize("statement", REFUSALS.values(), ids=REFUSALS.keys())
def test_changing_or_removing_an_entry_is_refused_by_the_database(
    session: Session, engine: Engine, statement: str
) -> None:
    # Given two entries
    for _ in range(2):
        record(session, actor="inspector", action=AuditAction.REPORT_VIEWED)
    session.commit()

    # When an ordinary connection (here the server's superuser, triggers on) changes them
    with pytest.raises(IntegrityError, match="audit_log is append-only"), engine.begin() as db:
        db.execute(text(statement))

    # Then nothing changed, and entries can still be appended
    record(session, actor="inspector", action=AuditAction.SIGN_OUT)
    session.commit()
    assert verify_chain(session).ok
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 3


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
def test_truncating_the_log_is_refused_on_postgresql(session: Session, engine: Engine) -> None:
    record(session, actor="inspector", action=AuditAction.REPORT_VIEWED)
    session.commit()

    refused = pytest.raises(IntegrityError, match="audit_log is append-only: TRUNCATE refused")
    with refused, engine.begin() as db:
        db.execute(text("TRUNCATE audit_log"))

    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1
