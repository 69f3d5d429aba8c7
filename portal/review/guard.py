"""Deny by default: every review page needs a signed-in reviewer of a role it names.

A view is reachable only if it is marked: `@public` for the few pages used to sign in, or
`@requires(Role...)` for everything else. An unmarked view answers 403 to everyone, so a page
added without thinking about access is closed, not open.

The reviewer's cookie holds their session's ticket (token and key). Each request resumes the
session, decrypting the keyring for that request only; `g.keyring` is gone when it ends.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from portal.custody.epochs import EpochKeys, keys_held
from portal.models import Reviewer, Role
from portal.request_db import get_session
from portal.review.context import current_time, review_context
from portal.services import transaction
from portal.services.review_sessions import (
    OpenSession,
    SessionTicket,
    close_session,
    resume_session,
)

View = TypeVar("View", bound=Callable[..., Any])
_TICKET = "ticket"
_ROLES_ATTRIBUTE = "allowed_roles"
_PUBLIC_ATTRIBUTE = "public"
# Pages an account half way through enrolment may see.
ENROLLING_ENDPOINTS = frozenset({"auth.enrol_setup", "auth.sign_out"})


def public(view: View) -> View:
    setattr(view, _PUBLIC_ATTRIBUTE, True)
    return view


def requires(*roles: Role) -> Callable[[View], View]:
    def mark(view: View) -> View:
        setattr(view, _ROLES_ATTRIBUTE, frozenset(roles))
        return view

    return mark


READERS = (Role.INSPECTOR, Role.ADMIN)
"""Roles that may read report contents. Auditors never may."""


def init_app(app: Flask) -> None:
    app.before_request(_authenticate)


def current_reviewer() -> Reviewer:
    return current_open_session().reviewer


def current_open_session() -> OpenSession:
    return cast(OpenSession, g.open_session)


def reader_keys() -> EpochKeys:
    """The live epochs' identities the signed-in reader's grants open, for this request only;
    403 for an account that holds none (an auditor)."""
    keys = g.get("reader_keys")
    if keys is None:
        identity = current_open_session().keyring.identity
        if identity is None:
            abort(403)
        keys = keys_held(get_session(), identity, reviewer_id=current_reviewer().id)
        g.reader_keys = keys
    return cast(EpochKeys, keys)


def store_ticket(ticket: SessionTicket) -> None:
    session.clear()
    session[_TICKET] = {"token": ticket.token, "key": base64.b64encode(ticket.key).decode()}


def end_session() -> None:
    """Delete the server-side session and forget the cookie's ticket. Does not commit."""
    ticket = _ticket()
    if ticket is not None:
        close_session(get_session(), ticket)
    session.clear()
    g.pop("open_session", None)


def _ticket() -> SessionTicket | None:
    stored = session.get(_TICKET)
    if not isinstance(stored, dict):
        return None
    try:
        return SessionTicket(token=str(stored["token"]), key=base64.b64decode(stored["key"]))
    except (KeyError, ValueError):
        return None


def _authenticate() -> Response | None:
    if request.endpoint is None or request.endpoint == "static":
        return None  # not found, or the stylesheet
    view = current_app.view_functions[request.endpoint]
    if getattr(view, _PUBLIC_ATTRIBUTE, False):
        return None
    ticket = _ticket()
    opened = (
        resume_session(
            get_session(),
            ticket,
            policy=review_context().sessions,
            host_key=review_context().host_key,
            now=current_time(),
        )
        if ticket
        else None
    )
    # The session's last-seen time moves on, or a timed-out session's deletion is kept.
    transaction.finish(get_session())
    if opened is None:
        session.pop(_TICKET, None)  # the CSRF token stays: the sign-in form still works
        return redirect(url_for("auth.sign_in"))
    g.open_session = opened
    if opened.row.enrolling:
        if request.endpoint not in ENROLLING_ENDPOINTS:
            return redirect(url_for("auth.enrol_setup"))
        return None
    allowed: frozenset[Role] = getattr(view, _ROLES_ATTRIBUTE, frozenset())
    if opened.reviewer.role not in allowed:
        abort(403)
    return None
