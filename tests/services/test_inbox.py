"""The inbox: every filter against what the test seeded, deadlines at their boundaries, and
pages that together hold each report exactly once.

Expected answers are worked out here from the seeded rows, in plain Python, not with the
service's own SQL. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime
import itertools
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Priority, Report, ReportKind, ReportStatus, Reviewer, Role
from portal.services.documents import seal_document
from portal.services.inbox import UNASSIGNED, Deadlines, InboxFilters, InboxPage, inbox_page
from tests.services.conftest import NOW, TODAY

ACKNOWLEDGE_DAYS, FEEDBACK_DAYS = 7, 91
DEADLINES = Deadlines(
    datetime.timedelta(days=ACKNOWLEDGE_DAYS), datetime.timedelta(days=FEEDBACK_DAYS)
)
# Ages either side of each deadline, and on it.
AGES = (0, 6, 7, 8, 90, 91, 92)


@dataclass(frozen=True)
class Seeded:
    id: uuid.UUID
    age: int
    kind: ReportKind
    status: ReportStatus
    priority: Priority
    region: str | None
    assignee_id: uuid.UUID | None
    acknowledged: bool

    @property
    def overdue(self) -> bool:
        """A deadline has passed: not acknowledged within 7 days, or not closed within 91."""
        acknowledged = self.acknowledged or self.status is not ReportStatus.NEW
        return (not acknowledged and self.age > ACKNOWLEDGE_DAYS) or (
            self.status is not ReportStatus.CLOSED and self.age > FEEDBACK_DAYS
        )


@pytest.fixture
def seeded(session: Session, inspectorate_identity: crypto.HybridIdentity) -> list[Seeded]:
    """Reports of every age around the deadlines, in a spread of kinds, states and owners."""
    inspector = Reviewer(username="ada", role=Role.INSPECTOR, created_at=NOW)
    session.add(inspector)
    session.flush()
    content = seal_document({"version": 1, "answers": {}}, [inspectorate_identity.recipient()])
    statuses = [ReportStatus.NEW, ReportStatus.ASSESSING, ReportStatus.CLOSED]
    kinds, priorities = list(ReportKind), list(Priority)
    regions = [None, "wales", "london"]
    seeded = []
    for n, (age, status) in enumerate(itertools.product(AGES, statuses)):
        spec = Seeded(
            id=uuid.uuid4(),
            age=age,
            kind=kinds[n % len(kinds)],
            status=status,
            priority=priorities[n % len(priorities)],
            region=regions[n % len(regions)],
            assignee_id=inspector.id if n % 2 else None,
            acknowledged=status is ReportStatus.NEW and n % 4 == 0,
        )
        received = TODAY - datetime.timedelta(days=age)
        session.add(
            Report(
                id=spec.id,
                kind=spec.kind,
                received_on=received,
                status=spec.status,
                priority=spec.priority,
                region=spec.region,
                assignee_id=spec.assignee_id,
                acknowledged_on=received if spec.acknowledged else None,
                closed_on=TODAY if status is ReportStatus.CLOSED else None,
                content=content,
            )
        )
        seeded.append(spec)
    session.commit()
    return seeded


def every_row(session: Session, filters: InboxFilters) -> InboxPage:
    return inbox_page(
        session, filters, deadlines=DEADLINES, today=TODAY, page_size=len(AGES) * 3 + 1
    )


def test_each_filter_and_their_combinations_find_exactly_the_matching_reports(
    session: Session, seeded: list[Seeded]
) -> None:
    # Given seeded reports, one inspector holding every other one
    inspector_id = next(spec.assignee_id for spec in seeded if spec.assignee_id)
    cases = [
        (InboxFilters(), lambda spec: True),
        (InboxFilters(status=ReportStatus.NEW), lambda spec: spec.status is ReportStatus.NEW),
        (InboxFilters(kind=ReportKind.WORKLOAD), lambda spec: spec.kind is ReportKind.WORKLOAD),
        (InboxFilters(priority=Priority.HIGH), lambda spec: spec.priority is Priority.HIGH),
        (InboxFilters(region="wales"), lambda spec: spec.region == "wales"),
        (InboxFilters(assignee=inspector_id), lambda spec: spec.assignee_id == inspector_id),
        (InboxFilters(assignee=UNASSIGNED), lambda spec: spec.assignee_id is None),
        (InboxFilters(overdue=True), lambda spec: spec.overdue),
        (
            InboxFilters(status=ReportStatus.ASSESSING, assignee=UNASSIGNED, overdue=True),
            lambda spec: (
                spec.status is ReportStatus.ASSESSING and spec.assignee_id is None and spec.overdue
            ),
        ),
        (
            InboxFilters(kind=ReportKind.OTHER, region="london", priority=Priority.LOW),
            lambda spec: (
                spec.kind is ReportKind.OTHER
                and spec.region == "london"
                and spec.priority is Priority.LOW
            ),
        ),
    ]

    for filters, matches in cases:
        # When the inbox is filtered
        page = every_row(session, filters)

        # Then it holds exactly the reports the test expects, and counts them
        expected = {spec.id for spec in seeded if matches(spec)}
        assert {row.report.id for row in page.rows} == expected, filters
        assert page.total == len(expected), filters
    assert 0 < sum(spec.overdue for spec in seeded) < len(seeded)  # the premise of the test


def test_each_rows_deadlines_say_what_the_seeded_report_should(
    session: Session, seeded: list[Seeded]
) -> None:
    # When the whole inbox is read
    rows = {row.report.id: row for row in every_row(session, InboxFilters()).rows}

    # Then each row's age and deadlines follow from when it arrived and where it stands
    for spec in seeded:
        row = rows[spec.id]
        received = TODAY - datetime.timedelta(days=spec.age)
        acknowledged = spec.acknowledged or spec.status is not ReportStatus.NEW
        closed = spec.status is ReportStatus.CLOSED
        assert row.age_days == spec.age
        assert row.acknowledge.due_on == received + datetime.timedelta(days=ACKNOWLEDGE_DAYS)
        assert row.feedback.due_on == received + datetime.timedelta(days=FEEDBACK_DAYS)
        assert (row.acknowledge.met, row.feedback.met) == (acknowledged, closed)
        # a deadline is missed the day after it, not on it
        assert row.acknowledge.overdue == (not acknowledged and spec.age > ACKNOWLEDGE_DAYS)
        assert row.feedback.overdue == (not closed and spec.age > FEEDBACK_DAYS)
        # and the overdue filter agrees with the badges shown
        assert spec.overdue == (row.acknowledge.overdue or row.feedback.overdue)


def test_pages_hold_each_report_once_newest_first_even_among_same_day_reports(
    session: Session, seeded: list[Seeded]
) -> None:
    # Given reports three of which arrived on each day, read four to a page (so same-day
    # reports straddle the pages)
    size = 4
    pages = [
        inbox_page(
            session, InboxFilters(), deadlines=DEADLINES, today=TODAY, page=n, page_size=size
        )
        for n in range(1, -(-len(seeded) // size) + 1)
    ]

    # Then the pages together hold every report exactly once, newest first
    ids = [row.report.id for page in pages for row in page.rows]
    assert sorted(ids) == sorted(spec.id for spec in seeded)
    ages = [row.age_days for page in pages for row in page.rows]
    assert ages == sorted(ages)
    assert {page.pages for page in pages} == {len(pages)}
    assert [len(page.rows) for page in pages[:-1]] == [size] * (len(pages) - 1)


@pytest.mark.parametrize(("asked", "shown"), [(0, 1), (-4, 1), (99, "last")])
def test_a_page_out_of_range_shows_the_nearest_one(
    session: Session, seeded: list[Seeded], asked: int, shown: int | str
) -> None:
    page = inbox_page(
        session, InboxFilters(), deadlines=DEADLINES, today=TODAY, page=asked, page_size=5
    )

    last = -(-len(seeded) // 5)
    assert page.page == (last if shown == "last" else shown)
    assert page.pages == last
    assert len(page.rows) == min(5, len(seeded) - (page.page - 1) * 5)


def test_an_empty_inbox_is_one_empty_page(session: Session) -> None:
    page = inbox_page(session, InboxFilters(), deadlines=DEADLINES, today=TODAY, page=3)

    assert (page.rows, page.total, page.page, page.pages) == ([], 0, 1, 1)
