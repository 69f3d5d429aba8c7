"""The inbox and the dashboard: filters, deadlines, paging, and small counts suppressed."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Priority, Report, ReportKind, ReportStatus, Role
from portal.services.dashboard import dashboard_csv, dashboard_tables, neutralised
from portal.services.documents import seal_document
from portal.services.inbox import Deadlines, InboxFilters, inbox_page
from tests.review.conftest import START, Clock, reviewer_row, sign_in

TODAY = START.date()
DEADLINES = Deadlines(datetime.timedelta(days=7), datetime.timedelta(days=91))


def add_reports(
    session: Session, identity: crypto.HybridIdentity, count: int, **columns: object
) -> list[Report]:
    content = seal_document({"version": 1, "answers": {}}, [identity.recipient()])
    reports = [
        Report(
            kind=columns.get("kind", ReportKind.WORKLOAD),
            received_on=columns.get("received_on", TODAY),
            region=columns.get("region"),
            status=columns.get("status", ReportStatus.NEW),
            priority=columns.get("priority", Priority.NORMAL),
            assignee_id=columns.get("assignee_id"),
            urgent=bool(columns.get("urgent", False)),
            content=content,
        )
        for _ in range(count)
    ]
    session.add_all(reports)
    session.commit()
    return reports


def test_filters_narrow_the_inbox_and_overdue_means_a_missed_deadline(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    add_reports(session, inspectorate_identity, 3, region="london")
    add_reports(
        session,
        inspectorate_identity,
        2,
        region="wales",
        kind=ReportKind.RISK_RATING,
        received_on=TODAY - datetime.timedelta(days=8),
    )
    add_reports(
        session,
        inspectorate_identity,
        1,
        status=ReportStatus.ASSESSING,
        received_on=TODAY - datetime.timedelta(days=100),
    )
    add_reports(
        session,
        inspectorate_identity,
        1,
        status=ReportStatus.CLOSED,
        received_on=TODAY - datetime.timedelta(days=200),
    )

    def total(**filters: object) -> int:
        page = inbox_page(session, InboxFilters(**filters), deadlines=DEADLINES, today=TODAY)
        return page.total

    assert total() == 7
    assert total(region="london") == 3
    assert total(kind=ReportKind.RISK_RATING) == 2
    assert total(status=ReportStatus.CLOSED) == 1
    # Two not acknowledged within 7 days, one still open after 91 days; the closed one is not
    assert total(overdue=True) == 3


def test_pages_hold_50_reports_newest_first(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    for age in range(120):
        add_reports(
            session, inspectorate_identity, 1, received_on=TODAY - datetime.timedelta(days=age)
        )

    first = inbox_page(session, InboxFilters(), deadlines=DEADLINES, today=TODAY)
    last = inbox_page(session, InboxFilters(), deadlines=DEADLINES, today=TODAY, page=99)

    assert (first.total, first.pages, len(first.rows)) == (120, 3, 50)
    dates = [row.report.received_on for row in first.rows]
    assert dates == sorted(dates, reverse=True) and dates[0] == TODAY
    assert (last.page, len(last.rows)) == (3, 20)
    assert first.rows[10].acknowledge.overdue is True
    assert first.rows[0].acknowledge.overdue is False


def test_the_inbox_page_filters_by_assignee_and_shows_deadline_badges(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    client = review_app.test_client()
    sign_in(client, make_account("ada", Role.INSPECTOR), clock)
    ada = reviewer_row(session, "ada")
    add_reports(session, inspectorate_identity, 2, assignee_id=ada.id, urgent=True)
    add_reports(session, inspectorate_identity, 1, received_on=TODAY - datetime.timedelta(days=30))

    mine = client.get(f"/?assignee={ada.id}").text
    unassigned = client.get("/?assignee=unassigned").text
    nonsense = client.get("/?status=nonsense&assignee=not-a-uuid&page=-4").text

    assert "2 reports match these filters" in mine and "Urgent" in mine
    assert "1 report match these filters" in unassigned
    assert "Acknowledge overdue since" in unassigned
    assert "3 reports" in nonsense  # unknown values are ignored, not an error


@pytest.mark.parametrize(("count", "shown"), [(0, "fewer than 5"), (4, "fewer than 5"), (5, "5")])
def test_dashboard_counts_below_five_are_suppressed(
    session: Session, inspectorate_identity: crypto.HybridIdentity, count: int, shown: str
) -> None:
    add_reports(session, inspectorate_identity, count, region="london")
    add_reports(session, inspectorate_identity, 7, region="wales")

    regions = dict(next(t for t in dashboard_tables(session) if t.title == "Region").rows)

    assert regions["London"] == shown
    assert regions["Wales"] == "7"
    assert all(value == "fewer than 5" or int(value) >= 5 for value in regions.values())


def test_the_csv_export_is_the_same_table_with_formula_cells_neutralised(
    review_app: Flask,
    make_account,
    clock: Clock,
    session: Session,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    add_reports(session, inspectorate_identity, 6, region="north-east")
    client = review_app.test_client()
    sign_in(client, make_account("ada"), clock)

    response = client.get("/dashboard/export.csv")

    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert ["Region", "North East", "6"] in rows
    assert response.text == dashboard_csv(dashboard_tables(session))
    for hostile in ['=HYPERLINK("http://evil.example")', "+1", "-1+1", "@SUM(A1)", "\tx"]:
        assert neutralised(hostile) == "'" + hostile
    assert neutralised("London") == "London"
