"""Steps a submitter takes in the browser, shared by the journey and accessibility tests.

These find fields by their ids, which stay the same in English and Welsh; the journey tests
find them by their English labels instead, as a person reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.playwright_api import expect

if TYPE_CHECKING:
    from tests.browser.harness import BrowserVisit

CODENAME = ".codename-words"


def send_short_report(visit: BrowserVisit, text: str, *, lang: str = "en") -> str:
    """Send the shortest report there is ("something else"); the codename it was given."""
    assert visit.goto(f"/report/other?lang={lang}") == 200
    page = visit.page
    page.locator("#account").fill(text)
    page.locator("#urgent-1").check()  # "No"
    page.locator("main form button[type=submit]").click()
    codename = page.locator(CODENAME).inner_text()
    assert len(codename.split()) == 8, f"not a codename of eight words: {codename!r}"
    return codename


def sign_in(visit: BrowserVisit, codename: str, *, lang: str = "en") -> None:
    """Enter `codename` on the follow-up page and wait for the conversation to show."""
    assert visit.goto(f"/follow-up?lang={lang}") == 200
    visit.page.locator("#codename").fill(codename)
    visit.page.locator("main form button[type=submit]").click()
    expect(visit.page.locator("form[action$='/follow-up/message']")).to_be_visible()
