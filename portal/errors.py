"""Plain-language error pages: every HTTP error, and every unexpected failure, gets one."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from portal.services.blobs import StorageUnavailable

RETRY_AFTER_SECONDS = 300
"""What a person is told to wait when storage fails: long enough for a restart to finish."""


@dataclass(frozen=True)
class ErrorPage:
    title: object
    explanation: object


ERROR_PAGES: dict[int, ErrorPage] = {
    400: ErrorPage(
        _l("There was a problem with what your browser sent"),
        _l(
            "The page could not accept it. This can happen when a form was open for a long time, "
            "was sent twice, or was sent from another site."
        ),
    ),
    403: ErrorPage(
        _l("You cannot open this page"),
        _l("You do not have permission to see it."),
    ),
    404: ErrorPage(
        _l("Page not found"),
        _l(
            "If you typed the web address, check it is correct. If you followed a link, it may be "
            "out of date."
        ),
    ),
    405: ErrorPage(
        _l("This page cannot be used that way"),
        _l("Go back and use the links and buttons on the page."),
    ),
    413: ErrorPage(
        _l("What you sent is too large"),
        _l("It was over the size limit. Files are the usual cause: try fewer or smaller files."),
    ),
    429: ErrorPage(
        _l("Too many requests at the moment"),
        _l("The service is busy. Wait a few minutes, then try again."),
    ),
    500: ErrorPage(
        _l("Sorry, there is a problem with the service"),
        _l("Try again later."),
    ),
    503: ErrorPage(
        _l("Sorry, the service is unavailable"),
        _l("Try again later."),
    ),
}
GENERIC_ERROR_PAGE = ErrorPage(
    _l("Sorry, something went wrong"),
    _l("Go back and try again."),
)


def init_app(app: Flask) -> None:
    """Render `error.html` from the app's own templates for every HTTP error and crash, and a
    503 for a storage failure."""
    # Unhandled exceptions reach this handler as InternalServerError (500), a subclass.
    app.register_error_handler(HTTPException, render_error_page)
    for failure in (StorageUnavailable, OperationalError, InterfaceError):
        app.register_error_handler(failure, _storage_unavailable)


def _storage_unavailable(error: Exception) -> tuple[str, int, list[tuple[str, str]]]:
    """503 rather than 500: the request was sound and trying again later may work. The page
    says that nothing was saved, which `transaction.finish`, the request's rollback and the
    upload clean-up made true."""
    # A handled error is not logged by Flask; this is (its type and stack, never its message,
    # which could quote a path or a submitted value).
    current_app.logger.error("Nothing was saved: storage failed", exc_info=error)
    return render_error_page(ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS))


def render_error_page(error: HTTPException) -> tuple[str, int, list[tuple[str, str]]]:
    """The plain page for `error`, with its status and its headers (such as Retry-After)."""
    code = error.code or 500
    page = ERROR_PAGES.get(code, GENERIC_ERROR_PAGE)
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    return render_template("error.html", code=code, page=page), code, headers
