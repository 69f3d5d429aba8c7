"""English and Welsh on the public site (Flask-Babel).

The language is chosen with a link (`?lang=cy`) and remembered in the site's session cookie,
which is deleted when the browser closes. The browser's own language header is not consulted:
Tor Browser always sends the same one, and a page should not change under a submitter's feet.
"""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel

from portal.config import PROJECT_ROOT

TRANSLATIONS_DIR = PROJECT_ROOT / "portal" / "translations"
LANGUAGES = {"en": "English", "cy": "Cymraeg"}
DEFAULT_LANGUAGE = "en"
_SESSION_KEY = "lang"


def init_app(app: Flask, *, bilingual: bool) -> None:
    """Flask-Babel for `app`: English and Welsh if `bilingual` (the public site), else English."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    if not bilingual:
        Babel(app)
        return
    Babel(app, locale_selector=current_language)
    app.before_request(_remember_language_choice)
    app.context_processor(lambda: {"languages": LANGUAGES, "current_language": current_language()})


def current_language() -> str:
    chosen = request.args.get("lang") or session.get(_SESSION_KEY)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _remember_language_choice() -> None:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session[_SESSION_KEY] = chosen
