"""The public submission site. It holds public recipients only: no identity, no review code."""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from werkzeug.exceptions import ServiceUnavailable

from portal import errors, sanitize
from portal.config import Settings
from portal.instance import load_or_create_secret_key
from portal.recipients import KeysError, read_recipients
from portal.services.blobs import BlobStore, StorageUnavailable
from portal.services.codenames import CodenameHasher
from portal.services.intake import UploadPolicy
from portal.submit import context, followup, uploads, views
from portal.submit.throttle import RateLimiter
from portal.web import build_app

_ACCEPTING = "portal.accepting"
CODENAME_SALT_FILE = "codename-salt"
RETRY_AFTER_SECONDS = 300
"""What a submitter is told to wait when storage fails: long enough for a restart to finish."""


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
    app.register_error_handler(StorageUnavailable, _storage_unavailable)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(followup.blueprint)
    return app


def _refuse_without_recipients() -> None:
    if not current_app.extensions[_ACCEPTING] and request.endpoint != "static":
        abort(503)


def _storage_unavailable(error: StorageUnavailable) -> tuple[str, int, list[tuple[str, str]]]:
    """503 rather than 500: the request was sound and trying again later may work. The page
    says that nothing was saved, which `transaction.finish` and the upload clean-up made true."""
    # A handled error is not logged by Flask; this is (its type and stack, never its message).
    current_app.logger.error("A submission was not saved: storage failed", exc_info=error)
    return errors.render_error_page(ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS))
