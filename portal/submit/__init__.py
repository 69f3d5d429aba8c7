"""The public submission site. It holds public recipients only: no identity, no review code."""

from __future__ import annotations

from flask import Flask, abort, current_app, request

from portal.config import Settings
from portal.keys import KeysError, read_recipients
from portal.submit import views
from portal.web import build_app

_RECIPIENTS = "portal.recipients"


def create_app(settings: Settings) -> Flask:
    app = build_app(__name__, settings, site="submit")
    try:
        app.extensions[_RECIPIENTS] = read_recipients(settings.keys_dir)
    except KeysError as error:
        # Fail closed: without the inspectorate's key no report can be stored safely.
        app.logger.error("Not accepting reports: %s", error)
        app.extensions[_RECIPIENTS] = None
    app.before_request(_refuse_without_recipients)
    app.register_blueprint(views.blueprint)
    return app


def _refuse_without_recipients() -> None:
    if current_app.extensions[_RECIPIENTS] is None and request.endpoint != "static":
        abort(503)
