"""Counts of reports for the dashboard and its CSV export, with small numbers suppressed.

A count of one or two reports from a region in a month can point at a person, so every count
below SMALL_COUNT is shown as "fewer than 5", on screen and in the export alike.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import domain
from portal.models import Report, ReportKind, ReportStatus

SMALL_COUNT = 5
SUPPRESSED = "fewer than 5"
NO_REGION = "Not given"
# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

KIND_LABELS = {
    ReportKind.RISK_RATING: "Pressure to lower a risk rating",
    ReportKind.WORKLOAD: "Unmanageable workload",
    ReportKind.OTHER: "Something else",
}


@dataclass(frozen=True)
class CountTable:
    title: str
    rows: list[tuple[str, str]]
    """(category, count as shown), suppression applied."""


def shown(count: int) -> str:
    return SUPPRESSED if count < SMALL_COUNT else str(count)


def _table(title: str, counts: Iterable[tuple[str, int]]) -> CountTable:
    return CountTable(title, [(label, shown(count)) for label, count in counts])


def dashboard_tables(session: Session) -> list[CountTable]:
    by_kind = dict(session.execute(select(Report.kind, func.count()).group_by(Report.kind)).all())
    by_status = dict(
        session.execute(select(Report.status, func.count()).group_by(Report.status)).all()
    )
    by_region = dict(
        session.execute(select(Report.region, func.count()).group_by(Report.region)).all()
    )
    by_day = session.execute(
        select(Report.received_on, func.count()).group_by(Report.received_on)
    ).all()
    by_month: Counter[str] = Counter()
    for day, count in by_day:
        by_month[day.strftime("%Y-%m")] += count
    return [
        _table("Kind", ((KIND_LABELS[kind], by_kind.get(kind, 0)) for kind in ReportKind)),
        _table(
            "Status",
            ((status.value.capitalize(), by_status.get(status, 0)) for status in ReportStatus),
        ),
        _table(
            "Region",
            [
                *((str(label), by_region.get(value, 0)) for value, label in domain.REGIONS),
                (NO_REGION, by_region.get(None, 0)),
            ],
        ),
        _table("Month received", sorted(by_month.items(), reverse=True)),
    ]


def neutralised(cell: str) -> str:
    """`cell` made safe to open in a spreadsheet: a leading formula character is escaped."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def dashboard_csv(tables: Iterable[CountTable]) -> str:
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(["table", "category", "reports"])
    for table in tables:
        for category, count in table.rows:
            writer.writerow([neutralised(table.title), neutralised(category), neutralised(count)])
    return output.getvalue()
