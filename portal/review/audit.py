"""Auditors (and administrators): the audit log, and checking it and the stored ciphertexts."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from portal.custody import audit_signing
from portal.models import AuditEntry, Role
from portal.request_db import get_session
from portal.review.context import binding_key, current_time, review_context
from portal.review.forms import ConfirmForm
from portal.review.guard import current_reviewer, requires
from portal.services import transaction
from portal.services.audit import AuditAction, record, verify_chain
from portal.services.binding_audit import scan_bindings
from portal.services.integrity import check_stored_ciphertexts

blueprint = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 100
AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)


@blueprint.get("")
@requires(*AUDIT_ROLES)
def log() -> str:
    db = get_session()
    total = db.scalar(select(func.count()).select_from(AuditEntry)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    entries = db.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.sequence.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    record(
        db, actor=current_reviewer().username, action=AuditAction.AUDIT_VIEWED, now=current_time()
    )
    transaction.finish(db)
    return render_template(
        "audit_log.html", entries=entries, page=page, pages=pages, total=total, form=ConfirmForm()
    )


@blueprint.post("/verify")
@requires(*AUDIT_ROLES)
def verify() -> str:
    ConfirmForm().validate_on_submit()  # CSRF is checked for every POST before this runs
    db = get_session()
    public_key = audit_signing.signer(review_context().host_key).public_key
    chain = verify_chain(db, public_keys=(public_key,))
    ciphertext_problems = check_stored_ciphertexts(
        db, review_context().blobs, review_context().host_key
    )
    bindings = scan_bindings(db, binding_key())
    record(
        db,
        actor=current_reviewer().username,
        action=AuditAction.AUDIT_VERIFIED,
        detail={
            "ok": chain.ok and not ciphertext_problems and bindings.ok,
            "entries": chain.entries,
        },
        now=current_time(),
    )
    transaction.finish(db)
    return render_template(
        "audit_verified.html",
        chain=chain,
        ciphertext_problems=ciphertext_problems,
        bindings=bindings,
    )
