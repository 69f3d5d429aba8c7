"""Pages of the public submission site: information, and sending a report."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.models import ReportKind
from portal.request_db import get_session
from portal.services import transaction
from portal.services.codenames import new_codename
from portal.services.reports import NewReport, store_report
from portal.submit.context import submit_context, take_submission_slot, utc_today
from portal.submit.forms import REPORT_FORMS, ChooseKindForm, ReportForm
from portal.submit.uploads import received_files

blueprint = Blueprint("submit", __name__)

# Report kinds as they appear in addresses.
KIND_SLUGS = {
    "risk-rating": ReportKind.RISK_RATING,
    "workload": ReportKind.WORKLOAD,
    "other": ReportKind.OTHER,
}
SLUG_OF_KIND = {kind: slug for slug, kind in KIND_SLUGS.items()}
_HEADINGS = {
    ReportKind.RISK_RATING: lambda: _("Report pressure to lower a risk rating"),
    ReportKind.WORKLOAD: lambda: _("Report a workload that cannot be managed safely"),
    ReportKind.OTHER: lambda: _("Report something else"),
}


@blueprint.get("/")
def start() -> str:
    """Who runs the portal, what happens to a report, and where to read how to stay safe."""
    return render_template("start.html")


@blueprint.get("/staying-safe")
def staying_safe() -> str:
    return render_template("staying_safe.html")


@blueprint.get("/what-we-keep")
def what_we_keep() -> str:
    return render_template("what_we_keep.html")


@blueprint.route("/report", methods=["GET", "POST"])
def choose_kind() -> str | Response:
    form = ChooseKindForm()
    if form.validate_on_submit():
        slug = SLUG_OF_KIND[ReportKind(form.kind.data)]
        return redirect(url_for("submit.report", slug=slug))
    return render_template("choose_kind.html", form=form)


@blueprint.route("/report/<slug>", methods=["GET", "POST"])
def report(slug: str) -> str:
    """One report form; on success, the report is stored and its codename shown, once."""
    kind = KIND_SLUGS.get(slug) or abort(404)
    form = REPORT_FORMS[kind]()
    if not form.validate_on_submit():
        return _render_form(form, kind)
    take_submission_slot()
    context = submit_context()
    codename = new_codename()
    store_report(
        get_session(),
        NewReport(
            kind=kind,
            urgent=form.urgent.data == "yes",
            region=form.region.data or None,
            answers=form.answers(),
        ),
        received_files(form.attachments.data),
        recipients=context.recipients,
        codename_keys=context.hasher.derive(codename),
        today=utc_today(),
    )
    transaction.finish(get_session())
    _renew_csrf_token()
    return render_template("confirmation.html", codename=codename, urgent=form.urgent.data == "yes")


def _render_form(form: ReportForm, kind: ReportKind) -> str:
    context = submit_context()
    return render_template(
        "report_form.html",
        form=form,
        heading=_HEADINGS[kind](),
        files_dropped=bool(form.errors),
        max_files=context.max_files,
        max_file_mb=context.max_file_bytes // (1024 * 1024),
    )


def _renew_csrf_token() -> None:
    """A form that was accepted cannot be accepted again: a replay gets the plain 400 page."""
    session.pop("csrf_token", None)
