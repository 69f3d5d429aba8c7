"""Routes that tests add to an application to exercise its shared machinery (CSRF, errors).

They live in the tests only: neither site ships a route that crashes or accepts a bare form.
"""

from __future__ import annotations

from typing import NoReturn

from flask import Blueprint, Flask, abort
from flask_wtf.csrf import generate_csrf

from portal.review.guard import public

ACCEPTED = "probe accepted the form"
CRASH_MESSAGE = "canary-3b1f in an exception message"

blueprint = Blueprint("probe", __name__, url_prefix="/probe")


@blueprint.get("/form")
def form_page() -> str:
    return generate_csrf()


@blueprint.post("/form")
def form_post() -> str:
    return ACCEPTED


@blueprint.get("/abort/<int:code>")
def abort_with(code: int) -> NoReturn:
    abort(code)


@blueprint.get("/crash")
def crash() -> NoReturn:
    raise RuntimeError(CRASH_MESSAGE)


def add_probes(app: Flask) -> Flask:
    """Register the probe routes on `app` (before its first request) and return it.

    They are marked public, so the review site's deny-by-default guard lets them through:
    they exercise the machinery every page shares, not access control (tested on its own).
    """
    app.register_blueprint(blueprint)
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(f"{blueprint.name}."):
            public(view)
    return app
