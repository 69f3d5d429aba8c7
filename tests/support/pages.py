"""Reading what the tests need out of the sites' HTML: a form's CSRF token, a report's codename.

One pattern for each, shared by every test, so that a change to how the templates render them
is mended in one place rather than in each module that had its own copy.
"""

from __future__ import annotations

import re

from werkzeug.test import TestResponse

# Any form's token: `csrf_token`, or a prefixed form's (`reply-csrf_token` on a report page).
# Flask-WTF gives every form of a session the same token, so whichever comes first will do.
_CSRF_TOKEN = re.compile(r'name="[^"]*csrf_token" type="hidden" value="([^"]+)"')
_CODENAME = re.compile(r'class="codename-words">([^<]+)<')

# A page as the tests hold it: a test client's response, or the HTML it read over HTTP.
Page = TestResponse | str | bytes


def _text(page: Page) -> str:
    if isinstance(page, TestResponse):
        return page.get_data(as_text=True)
    return page.decode("utf-8", "replace") if isinstance(page, bytes) else page


def csrf_token_or_none(page: Page) -> str | None:
    """The CSRF token of the first form on `page`, or None for a page without a form."""
    match = _CSRF_TOKEN.search(_text(page))
    return match.group(1) if match else None


def csrf_token(page: Page) -> str:
    """The CSRF token of the first form on `page`; a page without one fails the test."""
    token = csrf_token_or_none(page)
    assert token, "the page has no form with a CSRF token"
    return token


def codename_or_none(page: Page) -> str | None:
    """The codename `page` shows (on the confirmation page), or None."""
    match = _CODENAME.search(_text(page))
    return match.group(1) if match else None


def codename_in(page: Page) -> str:
    """The codename `page` shows; a page without one fails the test."""
    codename = codename_or_none(page)
    assert codename, "the page shows no codename"
    return codename
