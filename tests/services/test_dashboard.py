"""The dashboard: counts of the seeded reports, every count under five shown as "fewer than 5".

Expected tables are counted here from the seeded rows, with `collections.Counter`, not with the
service's SQL. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections import Counter

import pytest
from sqlalchemy.orm import Session

from portal import crypto, domain
from portal.models import Report, ReportKind, ReportStatus
from portal.services.dashboard import KIND_LABELS, CountTable, dashboard_csv, dashboard_tables
from portal.services.documents import seal_document
from tests.services.conftest import TODAY

FEWER = "fewer than 5"


def as_shown(count: int) -> str:
    return FEWER if count < 5 else str(count)


def seed(
    session: Session,
    identity: crypto.HybridIdentity,
    rows: list[tuple[ReportKind, ReportStatus, str | None, datetime.date]],
) -> None:
    content = seal_document({"version": 1, "answers": {}}, [identity.recipient()])
    session.add_all(
        Report(kind=kind, status=status, region=region, received_on=day, content=content)
        for kind, status, region, day in rows
    )
    session.commit()


def tables_by_title(session: Session) -> dict[str, dict[str, str]]:
    return {table.title: dict(table.rows) for table in dashboard_tables(session)}


def test_every_table_counts_the_seeded_reports_with_small_counts_suppressed(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given reports spread over kinds, states, regions and three months across a new year,
    # some categories well above five, some at five, some below, some empty
    december, january, march = (
        datetime.date(2025, 12, 30),
        datetime.date(2026, 1, 2),
        datetime.date(2026, 3, 15),
    )
    rows = (
        [(ReportKind.WORKLOAD, ReportStatus.NEW, "wales", january)] * 7
        + [(ReportKind.WORKLOAD, ReportStatus.CLOSED, "london", december)] * 5
        + [(ReportKind.RISK_RATING, ReportStatus.ASSESSING, "london", march)] * 4
        + [(ReportKind.RISK_RATING, ReportStatus.NEW, None, january)] * 2
        + [(ReportKind.RISK_RATING, ReportStatus.NEW, "north-east", march)]
    )
    seed(session, inspectorate_identity, rows)

    # When the dashboard is counted
    tables = tables_by_title(session)

    # Then each table shows every category, with the count the test expects, or "fewer than 5"
    kinds = Counter(kind for kind, _, _, _ in rows)
    statuses = Counter(status for _, status, _, _ in rows)
    regions = Counter(region for _, _, region, _ in rows)
    months = Counter(day.strftime("%Y-%m") for _, _, _, day in rows)
    assert tables["Kind"] == {KIND_LABELS[kind]: as_shown(kinds[kind]) for kind in ReportKind}
    assert tables["Status"] == {
        status.value.capitalize(): as_shown(statuses[status]) for status in ReportStatus
    }
    assert tables["Region"] == {
        **{str(label): as_shown(regions[value]) for value, label in domain.REGIONS},
        "Not given": as_shown(regions[None]),
    }
    assert tables["Month received"] == {month: as_shown(months[month]) for month in months}
    # and the months come newest first
    month_table = next(t for t in dashboard_tables(session) if t.title == "Month received")
    assert [month for month, _ in month_table.rows] == ["2026-03", "2026-01", "2025-12"]
    # the premise: counts of five and over, and under five, are both here
    assert {"5", "7", FEWER} <= {value for table in tables.values() for value in table.values()}


def test_no_number_under_five_is_shown_anywhere(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a handful of reports, each in categories of their own
    seed(
        session,
        inspectorate_identity,
        [
            (ReportKind.OTHER, ReportStatus.REFERRED, "kent-surrey-and-sussex", TODAY),
            (ReportKind.WORKLOAD, ReportStatus.ESCALATED, "south-west", TODAY),
            (ReportKind.RISK_RATING, ReportStatus.CLOSED, "wales", TODAY),
        ],
    )

    # When the dashboard and its export are made
    tables = dashboard_tables(session)
    export = list(csv.reader(io.StringIO(dashboard_csv(tables))))

    # Then every count, on screen and in the export, is either suppressed or at least five
    shown = [count for table in tables for _, count in table.rows]
    exported = [count for _, _, count in export[1:]]
    for counts in (shown, exported):
        assert all(count == FEWER or int(count) >= 5 for count in counts)
    assert exported == shown


def test_the_export_holds_the_tables_row_for_row(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    seed(session, inspectorate_identity, [(ReportKind.OTHER, ReportStatus.NEW, "wales", TODAY)] * 6)
    tables = dashboard_tables(session)

    export = list(csv.reader(io.StringIO(dashboard_csv(tables))))

    assert export[0] == ["table", "category", "reports"]
    assert export[1:] == [
        [table.title, category, count] for table in tables for category, count in table.rows
    ]
    assert ["Region", "Wales", "6"] in export


def recoverable(tables: list[CountTable]) -> list[tuple[str, str, int]]:
    """Suppressed counts an onlooker can work out: where one table has a single suppressed
    cell, and another table, with none, gives away the total."""
    totals = {
        sum(int(count) for _, count in table.rows)
        for table in tables
        if table.rows and all(count != FEWER for _, count in table.rows)
    }
    found = []
    for table in tables:
        hidden = [category for category, count in table.rows if count == FEWER]
        if len(hidden) == 1:
            shown = sum(int(count) for _, count in table.rows if count != FEWER)
            found.extend((table.title, hidden[0], total - shown) for total in totals)
    return found


@pytest.mark.xfail(
    strict=True,
    reason="only primary suppression: a count under five can be worked out by subtraction "
    "when it is the only one hidden in its table and another table shows the total",
)
def test_a_suppressed_count_cannot_be_worked_out_from_the_others(
    session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given fourteen reports in one month: six about risk ratings, five other, three workload
    seed(
        session,
        inspectorate_identity,
        [(ReportKind.RISK_RATING, ReportStatus.NEW, "wales", TODAY)] * 6
        + [(ReportKind.OTHER, ReportStatus.NEW, "wales", TODAY)] * 5
        + [(ReportKind.WORKLOAD, ReportStatus.NEW, "wales", TODAY)] * 3,
    )

    # When the dashboard is shown
    tables = dashboard_tables(session)

    # Then the three workload reports cannot be counted from what it shows (the month's total,
    # fourteen, less the six and five shown)
    assert recoverable(tables) == []
