"""The public submission site. It holds public recipients only: no identity, no review code."""

from __future__ import annotations

from flask import Flask, abort, current_app, request

from portal import sanitize
from portal.config import Settings
from portal.instance import load_or_create_secret_key
from portal.recipients import KeysError, read_recipients
from portal.services.blobs import BlobStore
from portal.services.codenames import CodenameHasher
from portal.services.intake import UploadPolicy
from portal.submit import context, followup, uploads, views
from portal.submit.throttle import RateLimiter
from portal.web import build_app

_ACCEPTING = "portal.accepting"
CODENAME_SALT_FILE = "codename-salt"


def create_app(settings: Settings) -> Flask:
    app = build_app(__name__, settings, site="submit")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_submission_bytes
    sanitize.init_app(app)
    try:
        recipients = read_recipients(settings.keys_dir)
    except KeysError as error:
        # Fail closed: without the inspectorate's key no report can be stored safely.
        app.logger.error("Not accepting reports: %s", error)
        recipients = ()
    app.extensions[_ACCEPTING] = bool(recipients)
    context.install(
        app,
        context.SubmitContext(
            recipients=recipients,
            hasher=CodenameHasher(
                salt=load_or_create_secret_key(settings.instance_dir, CODENAME_SALT_FILE),
                cost=settings.codename_hash_cost,
                reply_kind="x25519" if recipients and recipients[0].kind == "classic" else "pq",
            ),
            submissions=RateLimiter(settings.submissions_per_minute),
            codename_attempts=RateLimiter(settings.codename_attempts_per_minute),
            max_files=settings.max_files,
            max_file_bytes=settings.max_file_bytes,
        ),
    )
    uploads.init_app(
        app,
        UploadPolicy(
            store=BlobStore(settings.blobs),
            recipients=recipients,
            max_file_bytes=settings.max_file_bytes,
            max_files=settings.max_files,
        ),
    )
    app.before_request(_refuse_without_recipients)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(followup.blueprint)
    return app


def _refuse_without_recipients() -> None:
    if not current_app.extensions[_ACCEPTING] and request.endpoint != "static":
        abort(503)
