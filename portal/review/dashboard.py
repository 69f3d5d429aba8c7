"""The dashboard: counts of reports, small numbers suppressed, and the same table as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from portal.request_db import get_session
from portal.review.context import current_time
from portal.review.guard import READERS, current_reviewer, requires
from portal.services import transaction
from portal.services.audit import AuditAction, record
from portal.services.dashboard import SMALL_COUNT, dashboard_csv, dashboard_tables

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@blueprint.get("")
@requires(*READERS)
def dashboard() -> str:
    return render_template(
        "dashboard.html", tables=dashboard_tables(get_session()), small_count=SMALL_COUNT
    )


@blueprint.get("/export.csv")
@requires(*READERS)
def export() -> Response:
    db = get_session()
    csv_text = dashboard_csv(dashboard_tables(db))
    record(
        db,
        actor=current_reviewer().username,
        action=AuditAction.DASHBOARD_EXPORTED,
        now=current_time(),
    )
    transaction.finish(db)
    return Response(
        csv_text,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="report-counts.csv"'},
    )
