"""Every public page passes axe-core, in English and in Welsh, and fits a 320 px wide screen.

axe-core needs script, and Chromium with JavaScript disabled runs no timers, so axe.run() never
settles there: these checks use a context with JavaScript on (see `scripted_visit`). The pages
have no script of their own and a CSP of script-src 'none', so they are the same pages.
The narrow-screen checks need no script of the page's, and run with JavaScript off.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from portal.models import Author
from portal.services.codenames import new_codename
from tests.browser.harness import BrowserVisit
from tests.browser.playwright_api import Axe, expect
from tests.browser.steps import CODENAME, send_short_report, sign_in

pytestmark = pytest.mark.gunicorn

LANGUAGES = ["en", "cy"]
NARROWEST_SCREEN = 320
SUBMIT = "main form button[type=submit]"
MESSAGE_FORM = "form[action$='/follow-up/message']"

Opener = Callable[[BrowserVisit, str], None]
"""Brings the visit's page to the state under test, in the language given."""


def _get(path: str, status: int = 200) -> Opener:
    def open_page(visit: BrowserVisit, lang: str) -> None:
        assert visit.goto(f"{path}?lang={lang}") == status

    return open_page


def _empty_submit(path: str) -> Opener:
    def open_page(visit: BrowserVisit, lang: str) -> None:
        _get(path)(visit, lang)
        visit.page.locator(SUBMIT).click()
        expect(visit.page.locator(".error-summary")).to_be_visible()

    return open_page


def _confirmation(visit: BrowserVisit, lang: str) -> None:
    send_short_report(visit, "A report for the accessibility check", lang=lang)
    expect(visit.page.locator(CODENAME)).to_be_visible()


def _sign_in_error(visit: BrowserVisit, lang: str) -> None:
    _get("/follow-up")(visit, lang)
    visit.page.locator("#codename").fill(new_codename())
    visit.page.locator(SUBMIT).click()
    expect(visit.page.locator(".error-summary")).to_be_visible()


def _thread(visit: BrowserVisit, lang: str) -> None:
    """The conversation, holding a reply from an inspector and an answer from the submitter."""
    codename = send_short_report(visit, "A report for the accessibility check", lang=lang)
    report_id = visit.site.report_id_for(codename)
    visit.site.add_message(report_id, Author.INSPECTOR, "Thank you.\n\nWhich month was it?")
    visit.site.add_message(report_id, Author.SUBMITTER, "In March.")
    sign_in(visit, codename, lang=lang)
    expect(visit.page.locator(".thread-entry")).to_have_count(2)


def _message_sent(visit: BrowserVisit, lang: str) -> None:
    codename = send_short_report(visit, "A report for the accessibility check", lang=lang)
    sign_in(visit, codename, lang=lang)
    visit.page.locator("#message").fill("One more thing.")
    visit.page.locator(f"{MESSAGE_FORM} button[type=submit]").click()
    expect(visit.page.locator(".panel-confirmation")).to_be_visible()


def _end_follow_up(visit: BrowserVisit, lang: str) -> None:
    codename = send_short_report(visit, "A report for the accessibility check", lang=lang)
    sign_in(visit, codename, lang=lang)
    visit.page.locator("a[href$='/follow-up/end']").click()
    expect(visit.page.locator("form[action$='/follow-up/end']")).to_be_visible()


def _follow_up_ended(visit: BrowserVisit, lang: str) -> None:
    _end_follow_up(visit, lang)
    visit.page.locator("form[action$='/follow-up/end'] button[type=submit]").click()
    expect(visit.page.locator("form[action$='/follow-up/end']")).to_have_count(0)


PAGES: dict[str, Opener] = {
    "start": _get("/"),
    "staying-safe": _get("/staying-safe"),
    "what-we-keep": _get("/what-we-keep"),
    "choose-kind": _get("/report"),
    "choose-kind-error": _empty_submit("/report"),
    "risk-rating-form": _get("/report/risk-rating"),
    "risk-rating-form-error": _empty_submit("/report/risk-rating"),
    "workload-form": _get("/report/workload"),
    "workload-form-error": _empty_submit("/report/workload"),
    "other-form": _get("/report/other"),
    "other-form-error": _empty_submit("/report/other"),
    "confirmation": _confirmation,
    "follow-up-sign-in": _get("/follow-up"),
    "follow-up-sign-in-error": _sign_in_error,
    "follow-up-thread": _thread,
    "follow-up-message-sent": _message_sent,
    "follow-up-end": _end_follow_up,
    "follow-up-ended": _follow_up_ended,
    "not-found": _get(f"/no-such-page-{uuid.uuid4().hex[:8]}", status=404),
}


def describe(violations: list[dict[str, Any]]) -> str:
    """Each violated rule with its impact and help, and every failing element's target."""
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"]:
            target = " >> ".join(str(selector) for selector in node["target"])
            html = " ".join(str(node.get("html", "")).split())
            lines.append(f"    {target}    {html[:160]}")
            summary = [line.strip() for line in str(node.get("failureSummary", "")).splitlines()]
            fixes = "; ".join(line for line in summary if line).replace(":; ", ": ")
            lines.append(f"        {fixes}")
    return "\n".join(lines)


def _language(request: pytest.FixtureRequest, lang: str) -> str:
    if lang == "cy":
        request.getfixturevalue("welsh_catalogue")
    return lang


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_accessibility_violations(
    scripted_visit: BrowserVisit, request: pytest.FixtureRequest, name: str, lang: str
) -> None:
    visit = scripted_visit
    # Given a public page in the chosen language, in the state a submitter sees it
    PAGES[name](visit, _language(request, lang))

    # When axe-core checks it
    results = Axe().run(visit.page)

    # Then the page says which language it is in
    assert visit.page.locator("html").get_attribute("lang") == lang
    # ...axe finds nothing to fix
    violations = results.response["violations"]
    assert not violations, f"axe-core on {name} ({lang}, {visit.page.url}):\n" + describe(
        violations
    )
    # ...and nothing was fetched from another origin
    visit.requests.assert_all_to_portal()


NARROW_PAGES = ["start", "risk-rating-form", "workload-form", "other-form"]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", NARROW_PAGES)
def test_page_fits_a_320_px_screen(
    visit: BrowserVisit, request: pytest.FixtureRequest, name: str, lang: str
) -> None:
    # Given a screen 320 CSS pixels wide, the narrowest WCAG 1.4.10 (Reflow) asks for
    visit.page.set_viewport_size({"width": NARROWEST_SCREEN, "height": 640})

    # When the page opens there
    PAGES[name](visit, _language(request, lang))

    # Then nothing is wider than the screen: there is no scrolling sideways
    assert visit.page.locator("html").get_attribute("lang") == lang
    width = visit.page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROWEST_SCREEN, (
        f"{name} ({lang}) is {width} px wide at {NARROWEST_SCREEN} px: it scrolls sideways"
    )
    visit.requests.assert_all_to_portal()
