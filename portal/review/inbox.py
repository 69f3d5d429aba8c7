"""The inbox: reports newest first, with filters, deadlines and paging."""

from __future__ import annotations

import uuid

from flask import Blueprint, render_template, request

from portal import domain
from portal.models import Priority, ReportKind, ReportStatus
from portal.request_db import get_session
from portal.review.context import current_time, review_context
from portal.review.guard import READERS, requires
from portal.services import reviewers
from portal.services.inbox import UNASSIGNED, InboxFilters, inbox_page

blueprint = Blueprint("inbox", __name__)


@blueprint.get("/")
@requires(*READERS)
def inbox() -> str:
    filters = _filters_from(request.args)
    page = inbox_page(
        get_session(),
        filters,
        deadlines=review_context().deadlines,
        today=current_time().date(),
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "inbox.html",
        page=page,
        filters=filters,
        accounts=reviewers.assignable_accounts(get_session()),
        regions=domain.REGIONS,
        statuses=list(ReportStatus),
        kinds=list(ReportKind),
        priorities=list(Priority),
        unassigned=UNASSIGNED,
        query={key: value for key, value in request.args.items() if key != "page" and value},
    )


def _filters_from(args: dict[str, str]) -> InboxFilters:
    """Filters from the query string; anything unknown is ignored rather than an error."""

    def choice(name: str, enum: type) -> object:
        try:
            return enum(args.get(name, ""))
        except ValueError:
            return None

    assignee: uuid.UUID | str | None = None
    if args.get("assignee") == UNASSIGNED:
        assignee = UNASSIGNED
    elif args.get("assignee"):
        try:
            assignee = uuid.UUID(args["assignee"])
        except ValueError:
            assignee = None
    region = args.get("region") or None
    return InboxFilters(
        status=choice("status", ReportStatus),  # type: ignore[arg-type]
        kind=choice("kind", ReportKind),  # type: ignore[arg-type]
        priority=choice("priority", Priority),  # type: ignore[arg-type]
        assignee=assignee,
        region=region if region in dict(domain.REGIONS) else None,
        overdue=args.get("overdue") == "1",
    )
