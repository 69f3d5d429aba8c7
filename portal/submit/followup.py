"""Follow-up pages: the codename opens the submitter's conversation with the inspectors.

The reply key derived from the codename exists only inside the request that was given the
codename: the conversation is decrypted and shown in the answer to that request. What the
session cookie keeps afterwards is which report may receive a message, never a key, so reading
the conversation again takes the codename again.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.models import Author, Report
from portal.request_db import get_session
from portal.services import transaction
from portal.services.codenames import InvalidCodename
from portal.services.followup import (
    FollowUpClosed,
    add_message,
    end_follow_up,
    find_report,
    read_thread,
)
from portal.submit.context import submit_context, take_submission_slot, utc_today
from portal.submit.forms import CodenameForm, ConfirmForm, MessageForm
from portal.submit.uploads import received_files

blueprint = Blueprint("followup", __name__, url_prefix="/follow-up")
_SESSION_KEY = "follow_up_report"


@blueprint.route("", methods=["GET", "POST"])
def sign_in() -> str:
    form = CodenameForm()
    if not form.validate_on_submit():
        return render_template("followup_sign_in.html", form=form)
    context = submit_context()
    if not context.codename_attempts.allow():
        abort(429)
    try:
        keys = context.hasher.derive(form.codename.data)
    except InvalidCodename:
        keys = None
    report = find_report(get_session(), keys.lookup) if keys else None
    if keys is None or report is None:
        form.codename.errors = [
            _("No report matches that codename. Check each word and try again.")
        ]
        return render_template("followup_sign_in.html", form=form)
    session[_SESSION_KEY] = str(report.id)
    thread = read_thread(get_session(), report, [keys.reply_identity])
    return render_template(
        "followup_thread.html", report=report, thread=thread, message_form=MessageForm()
    )


@blueprint.route("/message", methods=["GET", "POST"])
def message() -> str | Response:
    report = _signed_in_report()
    if report is None:
        return redirect(url_for("followup.sign_in"))
    form = MessageForm()
    if not form.validate_on_submit():
        return render_template("followup_message.html", form=form)
    take_submission_slot()
    try:
        add_message(
            get_session(),
            report,
            author=Author.SUBMITTER,
            text=form.message.data,
            files=received_files(form.attachments.data),
            recipients=submit_context().recipients,
            today=utc_today(),
        )
    except FollowUpClosed:
        return _leave_page()
    transaction.finish(get_session())
    return render_template("followup_sent.html", form=ConfirmForm())


@blueprint.route("/end", methods=["GET", "POST"])
def end() -> str | Response:
    report = _signed_in_report()
    if report is None:
        return redirect(url_for("followup.sign_in"))
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("followup_end.html", form=form)
    end_follow_up(report)
    transaction.finish(get_session())
    session.pop(_SESSION_KEY, None)
    return render_template(
        "followup_done.html",
        heading=_("Follow-up has ended"),
        explanation=_(
            "Your codename no longer works. Inspectors keep your report and can still act on it."
        ),
    )


@blueprint.post("/leave")
def leave() -> str:
    ConfirmForm().validate_on_submit()  # CSRF is checked for every POST before this runs
    return _leave_page()


def _leave_page() -> str:
    session.pop(_SESSION_KEY, None)
    return render_template(
        "followup_done.html",
        heading=_("You have left your report"),
        explanation=_("To read replies or send a message again, you will need your codename."),
    )


def _signed_in_report() -> Report | None:
    """The report this browser opened with its codename, if follow-up on it is still open."""
    try:
        report_id = uuid.UUID(session.get(_SESSION_KEY, ""))
    except ValueError:
        return None
    report = get_session().get(Report, report_id)
    if report is None or not report.follow_up_open:
        session.pop(_SESSION_KEY, None)
        return None
    return report
