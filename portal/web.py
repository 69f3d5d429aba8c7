"""What both sites share: one function that builds a Flask app with the portal's baseline."""

from __future__ import annotations

from flask import Flask, Request
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from portal import db, errors, i18n, logs, request_db, security
from portal.config import PROJECT_ROOT, Settings
from portal.instance import load_or_create_secret_key

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


class PortalRequest(Request):
    """A request whose form holds named fields only.

    A multipart part without a `name` would otherwise reach `request.form` under the key None,
    and Flask-WTF's CSRF check crashes on it (a 500). Such a part is dropped, so the request is
    judged on what remains (no token: the plain 400 page).
    """

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for attribute in ("form", "files"):
            fields = self.__dict__.get(attribute)
            if fields is not None and None in fields:
                self.__dict__[attribute] = self.parameter_storage_class(
                    (key, value) for key, value in fields.items(multi=True) if key is not None
                )


def build_app(import_name: str, settings: Settings, *, site: str) -> Flask:
    """A Flask app for `site` ("submit" or "review") with its own templates, secret key and
    cookie, CSRF protection, security headers, plain error pages, anonymous logs and database."""
    app = Flask(import_name, static_folder=STATIC_DIR, static_url_path="/static")
    app.request_class = PortalRequest
    # Each site sees its own template folder, plus the shared layout pieces under "common/".
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(TEMPLATES_DIR / site),
            PrefixLoader({"common": FileSystemLoader(TEMPLATES_DIR / "common")}),
        ]
    )
    app.config.update(
        SECRET_KEY=load_or_create_secret_key(settings.instance_dir, f"{site}-secret-key"),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        # Flask-WTF's HTTPS check wants a Referer from this site, but both sites send
        # Referrer-Policy: no-referrer, so browsers send none. The session's token and its
        # SameSite=Strict cookie are the protection.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.extensions["portal.settings"] = settings
    logs.configure()
    security.init_app(app, cookie_name=f"portal-{site}", plain_http=settings.plain_http)
    CSRFProtect(app)
    i18n.init_app(app, bilingual=site == "submit")
    errors.init_app(app)
    request_db.init_app(app, db.make_engine(settings.database_url, lock_on_begin=True))
    return app
