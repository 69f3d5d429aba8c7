"""Plain-language error pages: every HTTP error, and every unexpected failure, gets one."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


@dataclass(frozen=True)
class ErrorPage:
    title: str
    explanation: str


ERROR_PAGES: dict[int, ErrorPage] = {
    400: ErrorPage(
        "There was a problem with what your browser sent",
        "The page could not accept it. This can happen when a form was open for a long time, "
        "was sent twice, or was sent from another site.",
    ),
    403: ErrorPage("You cannot open this page", "You do not have permission to see it."),
    404: ErrorPage(
        "Page not found",
        "If you typed the web address, check it is correct. If you followed a link, it may be "
        "out of date.",
    ),
    405: ErrorPage(
        "This page cannot be used that way",
        "Go back and use the links and buttons on the page.",
    ),
    413: ErrorPage(
        "What you sent is too large",
        "It was over the size limit. Files are the usual cause: try fewer or smaller files.",
    ),
    429: ErrorPage(
        "Too many requests at the moment",
        "The service is busy. Wait a few minutes, then try again.",
    ),
    500: ErrorPage("Sorry, there is a problem with the service", "Try again later."),
    503: ErrorPage("Sorry, the service is unavailable", "Try again later."),
}
GENERIC_ERROR_PAGE = ErrorPage("Sorry, something went wrong", "Go back and try again.")


def init_app(app: Flask) -> None:
    """Render `error.html` from the app's own templates for every HTTP error and crash."""
    # Unhandled exceptions reach this handler as InternalServerError (500), a subclass.
    app.register_error_handler(HTTPException, _render_error_page)


def _render_error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    page = ERROR_PAGES.get(code, GENERIC_ERROR_PAGE)
    return render_template("error.html", code=code, page=page), code
