"""The inspectors' review site. Only this application may ever handle identity material."""

from __future__ import annotations

from flask import Flask

from portal.config import Settings
from portal.review import views
from portal.web import build_app


def create_app(settings: Settings) -> Flask:
    app = build_app(__name__, settings, site="review")
    app.register_blueprint(views.blueprint)
    return app
