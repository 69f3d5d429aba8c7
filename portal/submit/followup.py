"""Follow-up pages: the codename opens the submitter's conversation with the inspectors.

The reply key derived from the codename exists only inside the request that was given the
codename: the conversation is decrypted and shown in the answer to that request. What the
session cookie keeps afterwards is the codename's lookup token, which lets a message be added
(never a key: reading the conversation again takes the codename again). The site reaches the
conversation by that token only (`portal.services.conversations`): on PostgreSQL its database
role can read no table.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.request_db import get_session
from portal.services import transaction
from portal.services.codenames import InvalidCodename
from portal.services.conversations import (
    Conversation,
    add_submitter_message,
    end_conversation,
    open_conversation,
    read_conversation,
)
from portal.services.followup import FollowUpClosed
from portal.submit.context import submit_context, take_submission_slot, utc_today
from portal.submit.forms import CodenameForm, ConfirmForm, MessageForm
from portal.submit.uploads import received_files

blueprint = Blueprint("followup", __name__, url_prefix="/follow-up")
_SESSION_KEY = "follow_up_lookup"


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
    conversation = open_conversation(get_session(), keys.lookup) if keys else None
    if keys is None or conversation is None:
        form.codename.errors = [
            _("No report matches that codename. Check each word and try again.")
        ]
        return render_template("followup_sign_in.html", form=form)
    session[_SESSION_KEY] = keys.lookup.hex()
    thread = read_conversation(get_session(), conversation, [keys.reply_identity])
    return render_template(
        "followup_thread.html",
        received_on=conversation.received_on,
        thread=thread,
        message_form=MessageForm(),
    )


@blueprint.route("/message", methods=["GET", "POST"])
def message() -> str | Response:
    conversation = _signed_in_conversation()
    if conversation is None:
        return redirect(url_for("followup.sign_in"))
    form = MessageForm()
    if not form.validate_on_submit():
        return render_template("followup_message.html", form=form)
    take_submission_slot()
    try:
        add_submitter_message(
            get_session(),
            conversation,
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
    conversation = _signed_in_conversation()
    if conversation is None:
        return redirect(url_for("followup.sign_in"))
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("followup_end.html", form=form)
    end_conversation(get_session(), conversation.lookup)
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


def _signed_in_conversation() -> Conversation | None:
    """The conversation this browser opened with its codename, if follow-up is still open."""
    try:
        lookup = bytes.fromhex(session.get(_SESSION_KEY, ""))
    except (TypeError, ValueError):
        return None
    conversation = open_conversation(get_session(), lookup) if lookup else None
    if conversation is None:
        session.pop(_SESSION_KEY, None)
    return conversation
