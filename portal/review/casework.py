"""One report: reading it, its files, the conversation, notes and triage."""

from __future__ import annotations

import mimetypes
import unicodedata
import uuid
from collections.abc import Iterator
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from portal import crypto, domain
from portal.models import Attachment, Author, Outcome, Priority, Report, ReportStatus
from portal.request_db import get_session
from portal.review.context import (
    binding_key,
    current_time,
    review_context,
    sealing_recipients,
)
from portal.review.forms import LinkForm, NoteForm, ReplyForm, TriageForm
from portal.review.guard import READERS, current_reviewer, reader_keys, requires
from portal.services import casework, reviewers, transaction
from portal.services.audit import AuditAction, record
from portal.services.bindings import BOUND_DETAIL, CaseReader
from portal.services.followup import FollowUpClosed, add_message
from portal.services.inbox import deadline_states

blueprint = Blueprint("casework", __name__, url_prefix="/reports")
# Types a browser may be told a download is; everything else is sent as opaque bytes.
SAFE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "text/plain"})


def _identities() -> list[crypto.Identity]:
    return list(reader_keys().values())


def _report(report_id: uuid.UUID) -> Report:
    return get_session().get(Report, report_id) or abort(404)


def _audit(action: AuditAction, report: Report, **detail: str | int | bool | None) -> None:
    record(
        get_session(),
        actor=current_reviewer().username,
        action=action,
        subject=str(report.id),
        detail=detail or None,
        now=current_time(),
    )


@blueprint.get("/<uuid:report_id>")
@requires(*READERS)
def report(report_id: uuid.UUID) -> str:
    return _render_report(_report(report_id))


def _render_report(
    report: Report,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    triage_form: TriageForm | None = None,
    link_form: LinkForm | None = None,
    status: int = 200,
) -> str:
    db = get_session()
    reader = _reader(report)
    case = casework.open_case(report, reader)
    _audit(AuditAction.REPORT_VIEWED, report, **_bound(reader))
    transaction.finish(db)
    acknowledge, feedback = deadline_states(
        report, review_context().deadlines, current_time().date()
    )
    return render_template(
        "report.html",
        report=report,
        report_problem=case.problem,
        answers=casework.answer_rows(case.document) if case.document is not None else [],
        region_label=domain.label_of(domain.REGIONS, report.region or ""),
        attachments=case.attachments,
        thread=case.thread,
        notes=case.notes,
        related=casework.related_reports(db, report),
        acknowledge=acknowledge,
        feedback=feedback,
        reply_form=reply_form or ReplyForm(prefix="reply"),
        note_form=note_form or NoteForm(prefix="note"),
        triage_form=triage_form or _triage_form(report),
        link_form=link_form or LinkForm(prefix="link"),
    ), status  # type: ignore[return-value]


def _reader(report: Report, *, binding: bool = True) -> CaseReader:
    return CaseReader(get_session(), report, _identities(), binding_key(), binding=binding)


def _bound(reader: CaseReader) -> dict[str, int]:
    """The audit detail of a view that bound rows: how many (see `portal.services.bindings`)."""
    return {BOUND_DETAIL: reader.bound} if reader.bound else {}


def _refused(report: Report, what: str, problem: str) -> tuple[str, int]:
    """The plain page refusing `what` because a row of `report` failed its integrity check.
    Nothing is kept of the request (the transaction is not finished)."""
    current_app.logger.warning(
        "Report %s: %s refused, a row failed its integrity check", report.id, what
    )
    return render_template("integrity_refused.html", report=report, what=what, problem=problem), 409


def _triage_form(report: Report) -> TriageForm:
    """The triage controls, showing the report's state (or, on a POST, what was sent)."""
    form = TriageForm(
        prefix="triage",
        data={
            "status": report.status.value,
            "priority": report.priority.value,
            "assignee": str(report.assignee_id or ""),
            "labels": report.labels,
            "outcome": report.outcome.value if report.outcome else "",
        },
    )
    accounts = [
        (str(account.id), account.username)
        for account in reviewers.assignable_accounts(get_session())
    ]
    form.assignee.choices = [("", "Nobody"), *accounts]
    return form


@blueprint.get("/<uuid:report_id>/files/<uuid:attachment_id>")
@requires(*READERS)
def download(report_id: uuid.UUID, attachment_id: uuid.UUID) -> Response | tuple[str, int]:
    """The file, decrypted as it is sent; always a download, never shown in the browser."""
    report = _report(report_id)
    attachment = get_session().get(Attachment, attachment_id)
    if attachment is None or attachment.report_id != report.id:
        abort(404)
    details = casework.read_attachment(attachment, _reader(report, binding=False))
    if isinstance(details, casework.Withheld):
        return _refused(report, "this download", details.problem)
    identities = _identities()
    try:
        chunks = casework.open_attachment(review_context().blobs, details, identities)
    except casework.BlobMismatch:
        current_app.logger.error("Attachment %s: its blob does not match it", attachment.id)
        abort(500)
    _audit(AuditAction.ATTACHMENT_DOWNLOADED, report, attachment=str(attachment.id))
    transaction.finish(get_session())
    content_type = details.content_type if details.content_type in SAFE_TYPES else None
    return Response(
        _released(chunks),
        content_type=content_type or "application/octet-stream",
        headers={
            "Content-Disposition": _attachment_disposition(details.name, content_type),
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def _released(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from chunks


def _attachment_disposition(name: str, content_type: str | None) -> str:
    """`attachment` with a file name no browser can be tricked by: control and bidirectional
    characters and path separators removed, an ASCII fallback, and the UTF-8 name encoded."""
    cleaned = (
        "".join(
            "_" if unicodedata.category(ch)[0] == "C" or ch in '/\\"' else ch for ch in name
        ).strip(". ")
        or "file"
    )
    extension = mimetypes.guess_extension(content_type) if content_type else None
    if extension and not cleaned.lower().endswith(extension):
        cleaned += extension
    ascii_name = cleaned.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(cleaned)}"


@blueprint.post("/<uuid:report_id>/reply")
@requires(*READERS)
def reply(report_id: uuid.UUID) -> str | tuple[str, int] | BaseResponse:
    report, form = _report(report_id), ReplyForm(prefix="reply")
    if not form.validate_on_submit():
        return _render_report(report, reply_form=form, status=400)
    db = get_session()
    reader = _reader(report)
    # Every row is checked (and bound on first read) before the reply, which is bound at once.
    case = casework.open_case(report, reader)
    if case.problem is not None:
        return _refused(report, "this reply", case.problem)
    try:
        message = add_message(
            db,
            report,
            author=Author.INSPECTOR,
            text=form.text.data,
            recipients=sealing_recipients(db),
            today=current_time().date(),
        )
    except FollowUpClosed:
        form.text.errors = ["The submitter has ended follow-up: no reply can reach them."]
        return _render_report(report, reply_form=form, status=400)
    reader.bind_new(message)
    _audit(AuditAction.REPLY_SENT, report, **_bound(reader))
    transaction.finish(db)
    return redirect(url_for("casework.report", report_id=report.id, _anchor="conversation"))


@blueprint.post("/<uuid:report_id>/notes")
@requires(*READERS)
def note(report_id: uuid.UUID) -> str | BaseResponse:
    report, form = _report(report_id), NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _render_report(report, note_form=form, status=400)
    db = get_session()
    reader = _reader(report)
    casework.open_case(report, reader)  # earlier rows are bound before the new note is
    note = casework.add_note(
        db,
        report,
        author=current_reviewer(),
        text=form.text.data,
        recipients=sealing_recipients(db),
        today=current_time().date(),
    )
    reader.bind_new(note)
    _audit(AuditAction.NOTE_ADDED, report, **_bound(reader))
    transaction.finish(db)
    return redirect(url_for("casework.report", report_id=report.id, _anchor="notes"))


@blueprint.post("/<uuid:report_id>/triage")
@requires(*READERS)
def triage(report_id: uuid.UUID) -> str | BaseResponse:
    report = _report(report_id)
    form = _triage_form(report)
    if not form.validate_on_submit():
        return _render_report(report, triage_form=form, status=400)
    try:
        changes = casework.change_triage(
            report,
            casework.Triage(
                status=ReportStatus(form.status.data),
                priority=Priority(form.priority.data),
                assignee_id=uuid.UUID(form.assignee.data) if form.assignee.data else None,
                labels=form.labels.data or "",
                outcome=Outcome(form.outcome.data) if form.outcome.data else None,
            ),
            today=current_time().date(),
        )
    except casework.TriageError as error:
        form.status.errors = [f"{str(error).capitalize()}."]
        return _render_report(report, triage_form=form, status=400)
    if changes:
        _audit(AuditAction.TRIAGE_CHANGED, report, **changes)
    transaction.finish(get_session())
    return redirect(url_for("casework.report", report_id=report.id, _anchor="triage"))


@blueprint.post("/<uuid:report_id>/links")
@requires(*READERS)
def link(report_id: uuid.UUID) -> str | BaseResponse:
    report, form = _report(report_id), LinkForm(prefix="link")
    if form.validate_on_submit():
        try:
            casework.link_reports(get_session(), report, uuid.UUID(form.reference.data.strip()))
        except ValueError:
            form.reference.errors = ["That is not a report reference."]
        except casework.TriageError as error:
            form.reference.errors = [f"{str(error).capitalize()}."]
        else:
            _audit(AuditAction.TRIAGE_CHANGED, report, related=form.reference.data.strip())
            transaction.finish(get_session())
            return redirect(url_for("casework.report", report_id=report.id, _anchor="related"))
    return _render_report(report, link_form=form, status=400)
