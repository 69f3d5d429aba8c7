"""The inspectors' inbox: reports newest first, filtered, paged, with their deadlines.

Everything here reads clear triage columns only; nothing is decrypted to list reports, so the
inbox stays fast however many there are (the columns it filters on are indexed).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.models import Priority, Report, ReportKind, ReportStatus

PAGE_SIZE = 50
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Deadlines:
    acknowledge_within: datetime.timedelta
    feedback_within: datetime.timedelta


@dataclass(frozen=True)
class InboxFilters:
    status: ReportStatus | None = None
    kind: ReportKind | None = None
    priority: Priority | None = None
    assignee: uuid.UUID | str | None = None
    """An account's id, UNASSIGNED, or None for anyone."""
    region: str | None = None
    overdue: bool = False


@dataclass(frozen=True)
class DeadlineState:
    due_on: datetime.date
    met: bool
    overdue: bool


@dataclass(frozen=True)
class InboxRow:
    report: Report
    age_days: int
    acknowledge: DeadlineState
    feedback: DeadlineState


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    pages: int


def deadline_states(
    report: Report, deadlines: Deadlines, today: datetime.date
) -> tuple[DeadlineState, DeadlineState]:
    """Where a report stands against the acknowledgement and feedback deadlines."""
    acknowledge_due = report.received_on + deadlines.acknowledge_within
    acknowledged = report.acknowledged_on is not None or report.status is not ReportStatus.NEW
    feedback_due = report.received_on + deadlines.feedback_within
    closed = report.status is ReportStatus.CLOSED
    return (
        DeadlineState(acknowledge_due, acknowledged, not acknowledged and today > acknowledge_due),
        DeadlineState(feedback_due, closed, not closed and today > feedback_due),
    )


def overdue_condition(deadlines: Deadlines, today: datetime.date) -> ColumnElement[bool]:
    """SQL for "a deadline has passed": not acknowledged in time, or still open too long."""
    return or_(
        and_(
            Report.status == ReportStatus.NEW,
            Report.acknowledged_on.is_(None),
            Report.received_on < today - deadlines.acknowledge_within,
        ),
        and_(
            Report.status != ReportStatus.CLOSED,
            Report.received_on < today - deadlines.feedback_within,
        ),
    )


def _filtered(
    query: Select, filters: InboxFilters, deadlines: Deadlines, today: datetime.date
) -> Select:
    if filters.status is not None:
        query = query.where(Report.status == filters.status)
    if filters.kind is not None:
        query = query.where(Report.kind == filters.kind)
    if filters.priority is not None:
        query = query.where(Report.priority == filters.priority)
    if filters.assignee == UNASSIGNED:
        query = query.where(Report.assignee_id.is_(None))
    elif filters.assignee is not None:
        query = query.where(Report.assignee_id == filters.assignee)
    if filters.region is not None:
        query = query.where(Report.region == filters.region)
    if filters.overdue:
        query = query.where(overdue_condition(deadlines, today))
    return query


def inbox_page(
    session: Session,
    filters: InboxFilters,
    *,
    deadlines: Deadlines,
    today: datetime.date,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> InboxPage:
    total = session.scalar(
        _filtered(select(func.count()).select_from(Report), filters, deadlines, today)
    )
    pages = max(1, -(-(total or 0) // page_size))
    page = min(max(1, page), pages)
    reports = session.scalars(
        _filtered(select(Report), filters, deadlines, today)
        .options(joinedload(Report.assignee))
        .order_by(Report.received_on.desc(), Report.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    rows = [
        InboxRow(
            report, (today - report.received_on).days, *deadline_states(report, deadlines, today)
        )
        for report in reports
    ]
    return InboxPage(rows=rows, total=total or 0, page=page, pages=pages)
