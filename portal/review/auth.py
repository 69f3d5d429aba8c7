"""Signing in, enrolling, changing password and signing out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.accounts import passwords, qr, totp
from portal.models import Reviewer, Role
from portal.request_db import get_session
from portal.review.context import current_time, review_context
from portal.review.forms import (
    ChangePasswordForm,
    EnrolForm,
    EnrolSetupForm,
    SignInForm,
)
from portal.review.guard import (
    current_open_session,
    current_reviewer,
    end_session,
    public,
    requires,
    store_ticket,
)
from portal.services import reviewers, transaction
from portal.services.audit import AuditAction, record
from portal.services.review_sessions import (
    SignInRefused,
    open_session,
)
from portal.services.review_sessions import (
    sign_in as check_sign_in,
)

blueprint = Blueprint("auth", __name__)
ISSUER = "Probation concerns review"
SIGN_IN_REFUSED = "The username, password or code is not right."


@blueprint.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> str | Response:
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("sign_in.html", form=form)
    context, db, now = review_context(), get_session(), current_time()
    try:
        reviewer, keyring = check_sign_in(
            db,
            username=form.username.data,
            password=form.password.data,
            totp_code=form.code.data,
            account_policy=context.accounts,
            session_policy=context.sessions,
            host_key=context.host_key,
            now=now,
        )
    except SignInRefused:
        record(
            db,
            actor=_known_username(form.username.data),
            action=AuditAction.SIGN_IN_FAILED,
            now=now,
        )
        transaction.finish(db)
        form.form_errors.append(SIGN_IN_REFUSED)
        return render_template("sign_in.html", form=form)
    ticket = open_session(db, reviewer, keyring, host_key=context.host_key, now=now)
    record(db, actor=reviewer.username, action=AuditAction.SIGN_IN, now=now)
    transaction.finish(db)
    store_ticket(ticket)
    return redirect(url_for(_home_endpoint(reviewer.role)))


def _known_username(typed: str) -> str:
    """The account a failed sign-in named, if it exists. Whatever else was typed is not kept:
    people sometimes type a password into the username field."""
    username = typed.strip().lower()
    exists = get_session().scalar(select(Reviewer.id).where(Reviewer.username == username))
    return username if exists else "(no such account)"


def _home_endpoint(role: Role) -> str:
    return "audit.log" if role is Role.AUDITOR else "inbox.inbox"


@blueprint.post("/sign-out")
@requires(*Role)
def sign_out() -> str:
    reviewer = current_reviewer()
    record(get_session(), actor=reviewer.username, action=AuditAction.SIGN_OUT, now=current_time())
    end_session()
    transaction.finish(get_session())
    return render_template("signed_out.html")


@blueprint.route("/enrol", methods=["GET", "POST"])
@public
def enrol() -> str | Response:
    form = EnrolForm()
    if not form.validate_on_submit():
        return render_template("enrol.html", form=form)
    context, db, now = review_context(), get_session(), current_time()
    try:
        reviewer, keyring = reviewers.open_enrolment(
            db,
            username=form.username.data,
            code=form.code.data,
            policy=context.accounts,
            host_key=context.host_key,
            now=now,
        )
    except reviewers.EnrolmentRefused as refusal:
        form.form_errors.append(f"{str(refusal).capitalize()}.")
        return render_template("enrol.html", form=form)
    ticket = open_session(db, reviewer, keyring, host_key=context.host_key, now=now, enrolling=True)
    transaction.finish(db)
    store_ticket(ticket)
    return redirect(url_for("auth.enrol_setup"))


@blueprint.route("/enrol/set-up", methods=["GET", "POST"])
def enrol_setup() -> str | Response:
    """Only an enrolling session reaches this page (see guard.ENROLLING_ENDPOINTS)."""
    opened, form = current_open_session(), EnrolSetupForm()
    reviewer, keyring = opened.reviewer, opened.keyring
    if form.validate_on_submit():
        db, now = get_session(), current_time()
        try:
            reviewers.finish_enrolment(
                db,
                reviewer,
                keyring,
                password=form.password.data,
                totp_code=form.code.data,
                policy=review_context().accounts,
                host_key=review_context().host_key,
                now=now,
            )
        except passwords.WeakPassword as weak:
            form.password.errors = [str(weak)]
        except reviewers.WrongTotpCode as wrong:
            form.code.errors = [f"{str(wrong).capitalize()}."]
        else:
            end_session()
            ticket = open_session(
                db, reviewer, keyring, host_key=review_context().host_key, now=now
            )
            record(db, actor=reviewer.username, action=AuditAction.ENROLLED, now=now)
            transaction.finish(db)
            store_ticket(ticket)
            return redirect(url_for(_home_endpoint(reviewer.role)))
    uri = totp.provisioning_uri(keyring.totp_secret, account=reviewer.username, issuer=ISSUER)
    return render_template(
        "enrol_setup.html",
        form=form,
        username=reviewer.username,
        qr_code=qr.qr_svg(uri),
        secret=totp.secret_text(keyring.totp_secret),
        suggestion=_suggested_passphrase(reviewer.username),
    )


@blueprint.route("/account/password", methods=["GET", "POST"])
@requires(*Role)
def change_password() -> str | Response:
    form, reviewer = ChangePasswordForm(), current_reviewer()
    if form.validate_on_submit():
        try:
            reviewers.change_password(
                get_session(),
                reviewer,
                current=form.current.data,
                new=form.password.data,
                policy=review_context().accounts,
                host_key=review_context().host_key,
                keep_session=current_open_session().row.id,
            )
        except passwords.WeakPassword as weak:
            form.password.errors = [str(weak)]
        except reviewers.AccountError as error:
            form.current.errors = [f"{str(error).capitalize()}."]
        else:
            record(
                get_session(),
                actor=reviewer.username,
                action=AuditAction.PASSWORD_CHANGED,
                now=current_time(),
            )
            transaction.finish(get_session())
            return render_template("password_changed.html")
    return render_template(
        "change_password.html", form=form, suggestion=_suggested_passphrase(reviewer.username)
    )


def _suggested_passphrase(username: str) -> str | None:
    """A fresh passphrase the policy accepts, to show as an example beside a new password.

    Made for each page and never kept: the reviewer may type it, or one like it. None (no
    example shown) only for a username no generated passphrase suits.
    """
    try:
        return passwords.generate_passphrase(username=username)
    except passwords.WeakPassword:
        return None
