"""Administrators: creating and revoking reviewer accounts, and rotating the keys."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from portal.custody import epochs
from portal.models import KeyEpoch, Reviewer, Role
from portal.request_db import get_session
from portal.review.context import current_time, review_context
from portal.review.forms import ConfirmForm, NewAccountForm
from portal.review.guard import current_reviewer, reader_keys, requires
from portal.services import reviewers, transaction
from portal.services.audit import AuditAction, record

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.get("/accounts")
@requires(Role.ADMIN)
def accounts() -> str:
    listed = get_session().scalars(select(Reviewer).order_by(Reviewer.username)).all()
    return render_template("accounts.html", accounts=listed, form=ConfirmForm(), now=current_time())


@blueprint.route("/accounts/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_account() -> str:
    form = NewAccountForm()
    if not form.validate_on_submit():
        return render_template("new_account.html", form=form)
    db, now = get_session(), current_time()
    try:
        reviewer, code = reviewers.create_account(
            db,
            username=form.username.data,
            role=Role(form.role.data),
            epoch_keys=reader_keys(),
            policy=review_context().accounts,
            host_key=review_context().host_key,
            now=now,
        )
    except reviewers.UsernameTaken as taken:
        form.username.errors = [f"{str(taken).capitalize()}."]
        return render_template("new_account.html", form=form)
    record(
        db,
        actor=current_reviewer().username,
        action=AuditAction.ACCOUNT_CREATED,
        subject=reviewer.username,
        detail={"role": reviewer.role.value},
        now=now,
    )
    transaction.finish(db)
    return render_template(
        "account_created.html", reviewer=reviewer, code=code, expires=reviewer.enrolment_expires_at
    )


@blueprint.post("/accounts/<uuid:account_id>/revoke")
@requires(Role.ADMIN)
def revoke(account_id: uuid.UUID) -> str:
    form, db, now = ConfirmForm(), get_session(), current_time()
    reviewer = db.get(Reviewer, account_id) or abort(404)
    if not form.validate_on_submit():
        abort(400)
    if reviewer.id == current_reviewer().id:
        abort(409)
    reviewers.revoke(db, reviewer, now=now)
    record(
        db,
        actor=current_reviewer().username,
        action=AuditAction.ACCOUNT_REVOKED,
        subject=reviewer.username,
        now=now,
    )
    transaction.finish(db)
    return render_template("account_revoked.html", reviewer=reviewer)


@blueprint.get("/keys")
@requires(Role.ADMIN)
def keys() -> str:
    """The key epochs, and the button that starts a new one."""
    return _render_keys(ConfirmForm())


def _render_keys(form: ConfirmForm, status: int = 200) -> str:
    listed = get_session().scalars(select(KeyEpoch).order_by(KeyEpoch.number.desc())).all()
    return render_template("keys.html", epochs=listed, form=form), status  # type: ignore[return-value]


@blueprint.post("/keys/rotate")
@requires(Role.ADMIN)
def rotate() -> str:
    """A new key epoch for every reader and the recovery recipient (no secret needed), and
    the recipients file the submission host needs, written in this host's keys folder."""
    form, db, now = ConfirmForm(), get_session(), current_time()
    if not form.validate_on_submit():
        abort(400)
    try:
        epoch = epochs.rotate(db, today=now.date())
    except epochs.EpochError as error:
        form.form_errors.append(f"{str(error).capitalize()}.")
        return _render_keys(form, status=409)
    record(
        db,
        actor=current_reviewer().username,
        action=AuditAction.KEYS_ROTATED,
        detail={"epoch": epoch.number},
        now=now,
    )
    transaction.finish(db)
    # Only once the epoch is kept (see `portal keys rotate`).
    path = epochs.write_recipients_file(review_context().keys_dir, epoch)
    return render_template("keys_rotated.html", epoch=epoch, path=path)
