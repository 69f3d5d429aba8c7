"""The models against a real database: values round-trip, and the database enforces the rules."""

from __future__ import annotations

import datetime
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import Report, ReportKind, ReportStatus


def _report(**overrides: object) -> Report:
    fields: dict[str, object] = {
        "kind": ReportKind.WORKLOAD,
        "received_on": datetime.date(2026, 11, 23),
        "content": b"age-encryption.org/v1\n...",
    }
    return Report(**(fields | overrides))


def test_a_report_round_trips_with_defaults(session: Session) -> None:
    report = _report(urgent=True)
    session.add(report)
    session.commit()
    session.expunge_all()

    stored = session.scalars(select(Report)).one()

    assert isinstance(stored.id, uuid.UUID) and stored.id.version == 4
    assert stored.kind is ReportKind.WORKLOAD
    assert stored.status is ReportStatus.NEW
    assert stored.urgent is True
    assert stored.received_on == datetime.date(2026, 11, 23)
    assert stored.content == b"age-encryption.org/v1\n..."


def test_report_identifiers_do_not_follow_arrival_order(session: Session) -> None:
    reports = [_report() for _ in range(20)]
    session.add_all(reports)
    session.commit()

    identifiers = [report.id for report in reports]
    assert len(set(identifiers)) == 20
    assert identifiers != sorted(identifiers)


@pytest.mark.parametrize(("column", "value"), [("kind", "gossip"), ("status", "deleted")])
def test_the_database_refuses_an_unknown_kind_or_status(
    session: Session, column: str, value: str
) -> None:
    values = {"kind": "other", "status": "new"} | {column: value}
    statement = text(
        "INSERT INTO reports (id, kind, urgent, received_on, status) "
        "VALUES (:id, :kind, false, :day, :status)"
    )

    with pytest.raises(IntegrityError):
        session.execute(
            statement,
            {"id": uuid.uuid4().hex, "day": datetime.date(2026, 1, 1), **values},
        )
