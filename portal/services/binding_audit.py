"""`portal audit verify`'s check of row bindings, on the review host (it needs the host key).

Every report with its messages, files and notes is checked against the review host's bindings
(`portal.services.bindings`): a row whose binding fails is named with what changed, and so is
a row whose binding was removed; rows never opened on the review site are counted as not bound
yet. No document is decrypted: a binding is checked with the review-host key alone.

What this cannot see (trust on first read): a row changed by a database writer before any
inspector opened it is bound as it was found, as if the public host had sent it so. A row
moved from another report still fails its document's check when it is opened (document
version 2), and is never bound then.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.custody.bindings import BindingKey
from portal.models import Report
from portal.services.bindings import Row, binding_problems, reports_recorded_as_bound, row_key

_BATCH = 200


@dataclass(frozen=True)
class BindingScan:
    """What `scan_bindings` found."""

    checked: int
    """Bound rows whose binding was checked."""
    unbound: int
    """Rows not bound yet: never opened on the review site since bindings began."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def scan_bindings(session: Session, key: BindingKey) -> BindingScan:
    """Check every report's rows against their bindings; one line per row that fails, naming
    the table, the row's id and what changed (never a byte of what is stored)."""
    recorded = reports_recorded_as_bound(session)
    statement = (
        select(Report)
        .options(
            selectinload(Report.sealed),
            selectinload(Report.messages),
            selectinload(Report.attachments),
            selectinload(Report.notes),
        )
        .order_by(Report.id)
        .execution_options(yield_per=_BATCH)
    )
    checked = unbound = 0
    problems: list[str] = []
    for report in session.scalars(statement):
        found = binding_problems(report, key, recorded_as_bound=str(report.id) in recorded)
        rows: list[Row] = [report, *report.messages, *report.attachments, *report.notes]
        for row in rows:
            table, row_id = row_key(row)
            problem = found.get((table, row_id))
            if problem is not None:
                problems.append(f"{table}, row {row_id}: {problem}")
            elif row.binding is None:
                unbound += 1
            else:
                checked += 1
    return BindingScan(checked=checked, unbound=unbound, problems=problems)
