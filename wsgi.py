"""The two WSGI applications: `gunicorn wsgi:submit_app` and `gunicorn wsgi:review_app`.

Each is built the first time it is asked for, so a process serving one site never builds,
configures or imports the other.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from portal import create_review_app, create_submit_app

_FACTORIES: dict[str, Callable[[], Flask]] = {
    "submit_app": create_submit_app,
    "review_app": create_review_app,
}


def __getattr__(name: str) -> Flask:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    app = factory()
    globals()[name] = app
    return app
