"""Steps a reviewer takes on the review site, shared by the review journey tests.

Fields are found by their ids (the form field names: `username`, `reply-text`, `triage-status`)
and buttons by their words, as a person reads them.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from tests.browser.playwright_api import expect

if TYPE_CHECKING:
    from tests.browser.harness import ReviewerAccount, ReviewVisit

INBOX_HEADING = "Inbox"


def sign_in(visit: ReviewVisit, account: ReviewerAccount, *, steps_ahead: int = 0) -> None:
    """Sign in with the account's password and the code its app shows; land on the inbox."""
    assert visit.goto("/sign-in") == 200
    page = visit.page
    page.locator("#username").fill(account.username)
    page.locator("#password").fill(account.password)
    page.locator("#code").fill(account.code(steps_ahead=steps_ahead))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name=INBOX_HEADING, exact=True)).to_be_visible()
    expect(page).to_have_url(f"{visit.site.url}/")


def totp_secret_from(text: str) -> bytes:
    """The key an authenticator app takes typed in (base32 in groups of four), as bytes."""
    compact = "".join(text.split()).upper()
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def share_sign_in(source: ReviewVisit, target: ReviewVisit) -> None:
    """Give `target`'s context the session cookie of `source`'s: the same reviewer, signed in
    once (a TOTP code works once), seen through a second browser context."""
    target.context.add_cookies(source.context.cookies())  # type: ignore[arg-type]
