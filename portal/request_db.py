"""Each web request's database session, created on first use and closed when it ends.

Closing rolls back whatever the request did not finish (`portal.services.transaction.finish`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

_EXTENSION = "portal.db"


def init_app(app: Flask, engine: Engine) -> None:
    """Give `app` a session per application context, closed (and rolled back) at teardown."""
    app.extensions[_EXTENSION] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def add_session_info(app: Flask, info: Mapping[str, object]) -> None:
    """Give every later request session of `app` these `Session.info` entries (the review
    site's audit signer, for one), without this module knowing what they are."""
    factory: sessionmaker[Session] = app.extensions[_EXTENSION]
    factory.configure(info={**factory.kw.get("info", {}), **info})


def get_engine(app: Flask) -> Engine:
    """The engine behind `app`'s sessions."""
    return cast(Engine, app.extensions[_EXTENSION].kw["bind"])


def get_session() -> Session:
    """The database session of the current request, created on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[_EXTENSION]()
    return cast(Session, g.db_session)


def _close_session(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
