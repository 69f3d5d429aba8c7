"""The inspectors' review site. Only this application may ever handle identity material.

Every page but sign-in and enrolment needs a signed-in reviewer with a role the page names
(`portal.review.guard`): access is denied by default.
"""

from __future__ import annotations

import datetime

from flask import Flask, abort, current_app, request

from portal import domain, request_db, sanitize
from portal.config import Settings
from portal.custody import audit_signing
from portal.custody.host_key import KEY_SIZE, HostKey, HostKeyError
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.recipients import KeysError, read_recipients
from portal.review import admin, audit, auth, casework, context, dashboard, guard, inbox
from portal.services import audit as audit_log
from portal.services.blobs import BlobStore
from portal.services.dashboard import KIND_LABELS
from portal.services.inbox import Deadlines
from portal.services.review_sessions import SessionPolicy
from portal.services.reviewers import AccountPolicy
from portal.web import build_app

_ACCEPTING = "portal.review.keys"


def create_app(settings: Settings) -> Flask:
    app = build_app(__name__, settings, site="review")
    sanitize.init_app(app)
    try:
        recipients = read_recipients(settings.keys_dir)
        host_key = load_or_create_host_key(settings.instance_dir)
    except (KeysError, HostKeyError) as error:
        # Fail closed: replies and notes could not be encrypted to the inspectorate, or no
        # keyring could be opened.
        app.logger.error("Review site unavailable: %s", error)
        recipients, host_key = (), HostKey(bytes(KEY_SIZE))
    app.extensions[_ACCEPTING] = bool(recipients) and any(host_key.secret)
    if any(host_key.secret):
        # Every audit entry the site appends is signed (DESIGN decision 10).
        request_db.add_session_info(app, audit_log.session_info(audit_signing.signer(host_key)))
    context.install(
        app,
        context.ReviewContext(
            recipients=recipients,
            blobs=BlobStore(settings.blobs),
            keys_dir=settings.keys_dir,
            host_key=host_key,
            accounts=AccountPolicy(
                password_cost=settings.password_cost,
                keyring_work_factor=settings.keyring_work_factor,
            ),
            sessions=SessionPolicy(
                idle_timeout=datetime.timedelta(minutes=settings.idle_timeout_minutes),
                absolute_timeout=datetime.timedelta(hours=settings.absolute_timeout_hours),
            ),
            deadlines=Deadlines(
                acknowledge_within=datetime.timedelta(days=settings.acknowledge_within_days),
                feedback_within=datetime.timedelta(days=settings.feedback_within_days),
            ),
        ),
    )
    app.before_request(_refuse_without_recipients)
    guard.init_app(app)
    app.context_processor(_labels)
    for module in (auth, inbox, casework, admin, dashboard, audit):
        app.register_blueprint(module.blueprint)
    return app


def _labels() -> dict[str, object]:
    return {
        "kind_labels": KIND_LABELS,
        "region_labels": {value: str(label) for value, label in domain.REGIONS},
    }


def _refuse_without_recipients() -> None:
    if not current_app.extensions[_ACCEPTING] and request.endpoint != "static":
        abort(503)
