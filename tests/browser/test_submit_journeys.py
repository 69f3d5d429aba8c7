"""A submitter's journeys in Chromium with JavaScript off, checked against what was stored.

Each test types unique canaries into the forms, then proves from the database and the blob
folder that what arrived is ciphertext that opens with the inspectorate's identity to exactly
what was typed, and that the browser asked nothing of any origin but the portal's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from portal import crypto
from portal.models import Author, ReportKind
from portal.services.codenames import new_codename
from tests.browser.harness import BrowserVisit
from tests.browser.playwright_api import Locator, Page, expect
from tests.browser.steps import CODENAME, send_short_report

pytestmark = pytest.mark.gunicorn


def canary() -> str:
    return f"canary-{uuid.uuid4().hex[:12]}"


def choose(page: Page, question: str, answer: str) -> None:
    """Tick the answer to a question asked with radios or checkboxes, found by their words."""
    group = page.get_by_role("group", name=question, exact=True)
    group.get_by_label(answer, exact=True).check()


class Answering:
    """Answers a form's questions by their words, and notes what each answer should store.

    Questions named in `skip` are left unanswered, as a person in a hurry would.
    """

    def __init__(self, page: Page, skip: frozenset[str] = frozenset()) -> None:
        self.page = page
        self.skip = skip
        self.expected: dict[str, Any] = {}

    def text(self, name: str, label: str, typed: str, stored: Any = None) -> None:
        if name not in self.skip:
            self.page.get_by_label(label, exact=True).fill(typed)
            self.expected[name] = typed if stored is None else stored

    def radio(self, name: str, question: str, answer: str, stored: str) -> None:
        if name not in self.skip:
            choose(self.page, question, answer)
            self.expected[name] = stored

    def boxes(self, name: str, question: str, answers: dict[str, str]) -> None:
        if name not in self.skip:
            for answer in answers:
                choose(self.page, question, answer)
            self.expected[name] = list(answers.values())

    def select(self, name: str, label: str, option: str, stored: str) -> None:
        if name not in self.skip:
            self.page.get_by_label(label, exact=True).select_option(label=option)
            self.expected[name] = stored


Filler = Callable[[Answering, str], None]


def fill_risk_rating(form: Answering, mark: str) -> None:
    form.radio("rosh_assessed", "What risk of serious harm level did you assess?", "High", "high")
    form.radio("rosh_pressed", "What level were you pressed to record?", "Medium", "medium")
    form.radio("mappa_level", "MAPPA level (optional)", "Level 2", "2")
    form.text("pressed_by", "Who applied the pressure?", f"Senior probation officer {mark}-who")
    form.text("how", "How was the pressure applied?", f"In supervision, twice {mark}-how")
    form.text(
        "reason",
        "What reason was given or implied? (optional)",
        f"So more cases can be allocated {mark}-reason",
    )
    form.select("when_month", "Month", "March", "3")
    form.text("when_year", "Year", "2025", stored=2025)
    form.radio("case_current", "Is the case still current?", "Yes", "yes")
    form.radio("raised", "Did you raise this inside your organisation?", "No", "no")


def fill_workload(form: Answering, mark: str) -> None:
    form.radio("grade", "What is your role?", "Probation officer (PO)", "po")
    form.text("caseload", "How many cases do you hold? (optional)", "72", stored=72)
    form.text(
        "capacity",
        "What capacity does the workload measurement tool show, in per cent? (optional)",
        "145",
        stored=145,
    )
    form.radio(
        "duration",
        "For how long has your workload been like this?",
        "6 to 12 months",
        "6-to-12-months",
    )
    form.boxes(
        "consequences",
        "What has happened because of it? (optional)",
        {
            "Breaches not actioned within six days": "breaches-late",
            "Domestic abuse checks with the police not done": "police-checks",
        },
    )
    form.text(
        "consequences_other",
        "Anything else that has happened (optional)",
        f"Home visits stopped {mark}-other",
    )
    form.radio("raised", "Did you raise this inside your organisation?", "Yes", "yes")
    form.text(
        "raised_outcome",
        "What happened when you raised it? (optional)",
        f"Told to prioritise {mark}-raised",
    )


def fill_other(_form: Answering, _mark: str) -> None:
    """The account and the questions every form asks are all this kind has."""


@dataclass(frozen=True)
class Journey:
    kind: ReportKind
    slug: str
    choice: str
    fill: Filler
    region_label: str
    region: str | None
    urgent: bool


JOURNEYS = [
    Journey(
        ReportKind.RISK_RATING,
        "risk-rating",
        "Pressure to lower a risk rating",
        fill_risk_rating,
        "Wales",
        "wales",
        urgent=False,
    ),
    Journey(
        ReportKind.WORKLOAD,
        "workload",
        "A workload that cannot be managed safely",
        fill_workload,
        "London",
        "london",
        urgent=True,
    ),
    Journey(
        ReportKind.OTHER,
        "other",
        "Something else",
        fill_other,
        "I prefer not to say",
        None,
        urgent=False,
    ),
]


def open_form(visit: BrowserVisit, journey: Journey) -> None:
    """From the start page, the way a submitter gets to the form for `journey`'s kind."""
    page = visit.page
    assert visit.goto("/") == 200
    page.get_by_role("button", name="Start a report").click()
    choose(page, "What do you want to report?", journey.choice)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{visit.site.url}/report/{journey.slug}")


def answer_common_questions(
    form: Answering, journey: Journey, account: str, file_content: bytes
) -> None:
    """What every form asks: the account, the region, whether it is urgent; and a file."""
    form.text("account", "Tell us what happened", account)
    form.page.get_by_label("Probation region (optional)").select_option(label=journey.region_label)
    choose(
        form.page,
        "Is someone at immediate risk of serious harm?",
        "Yes" if journey.urgent else "No",
    )
    form.page.get_by_label("Files (optional)").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": file_content}]
    )


def without_crlf(answers: dict[str, Any]) -> dict[str, Any]:
    """Browsers send a textarea's line breaks as CRLF (HTML's form encoding); people type LF."""
    return {
        name: value.replace("\r\n", "\n") if isinstance(value, str) else value
        for name, value in answers.items()
    }


@pytest.mark.parametrize("journey", JOURNEYS, ids=[journey.slug for journey in JOURNEYS])
def test_report_is_stored_sealed_for_the_inspectorate(
    visit: BrowserVisit, journey: Journey
) -> None:
    page, site, mark = visit.page, visit.site, canary()

    # Given a submitter who chose the kind of report from the start page
    open_form(visit, journey)

    # When they answer its questions, tell what happened, attach a file and send it
    form = Answering(page)
    journey.fill(form, mark)
    account = f"What happened, in my words {mark}-account.\nA second line: dŵr, tân a chân."
    file_content = f"Notes kept at home.\n{mark}-file\n".encode()
    answer_common_questions(form, journey, account, file_content)
    page.get_by_role("button", name="Send report").click()

    # Then the confirmation page shows their codename: eight words
    expect(page.get_by_role("heading", name="Report sent", exact=True)).to_be_visible()
    codename = page.locator(CODENAME).inner_text()
    assert len(codename.split()) == 8
    # ...and, if they said someone is at immediate risk, that the report is marked urgent
    urgent_notice = page.get_by_text("Your report is marked urgent.")
    expect(urgent_notice).to_have_count(1 if journey.urgent else 0)
    # ...the codename opens the stored report, whose content opens with the inspectorate's
    # identity to exactly what was typed and chosen
    report, document = site.unsealed_report(site.report_id_for(codename))
    assert (report.kind, report.urgent, report.region) == (
        journey.kind,
        journey.urgent,
        journey.region,
    )
    assert (document["kind"], document["urgent"], document["region"]) == (
        journey.kind.value,
        journey.urgent,
        journey.region,
    )
    stored = without_crlf(document["answers"])
    assert {name: stored.get(name) for name in form.expected} == form.expected
    # ...the file was kept encrypted, and opens to exactly its bytes
    [(attachment_id, details)] = site.attachments_of(report.id)
    assert (details["name"], details["size"]) == ("notes.txt", len(file_content))
    blob = site.blob_path(attachment_id).read_bytes()
    assert crypto.decrypt(blob, [site.identity]) == file_content
    # ...no canary is on disk in the clear
    assert mark.encode() not in blob
    assert mark.encode() not in site.stored_database_bytes()
    # ...and the browser asked nothing of any other origin
    visit.requests.assert_all_to_portal()


def form_state(page: Page) -> list[tuple[str, str | bool]]:
    """What every field of the page's form holds: text typed, option chosen, box ticked."""
    fields = page.locator("main form").locator(
        "input[type=text], input[type=radio], input[type=checkbox], textarea, select"
    )
    state = fields.evaluate_all(
        "fields => fields.map(field => [field.id,"
        " field.type === 'radio' || field.type === 'checkbox' ? field.checked : field.value])"
    )
    assert all(identifier for identifier, _ in state), "every field has an id for error links"
    return [(str(identifier), value) for identifier, value in state]


@dataclass(frozen=True)
class MissingAnswer:
    journey: Journey
    skipped: str
    message: str
    target: str
    """The id the error summary's link points at: the field, or its group's first option."""
    field: Callable[[Page], Locator]
    """The field as a person finds it by its words: it must be the link's target."""


MISSING_ANSWERS = [
    MissingAnswer(
        JOURNEYS[0],
        "how",
        "Enter how the pressure was applied",
        "how",
        lambda page: page.get_by_label("How was the pressure applied?"),
    ),
    MissingAnswer(
        JOURNEYS[1],
        "grade",
        "Select your role",
        "grade-0",
        lambda page: (
            page.get_by_role("group", name="What is your role?").get_by_role("radio").first
        ),
    ),
    MissingAnswer(
        JOURNEYS[2],
        "account",
        "Enter what happened",
        "account",
        lambda page: page.get_by_label("Tell us what happened"),
    ),
]


@pytest.mark.parametrize(
    "missing", MISSING_ANSWERS, ids=[missing.journey.slug for missing in MISSING_ANSWERS]
)
def test_missing_answer_is_explained_and_everything_typed_is_kept(
    visit: BrowserVisit, missing: MissingAnswer
) -> None:
    page, site, mark = visit.page, visit.site, canary()
    reports_before = site.count_reports()
    blobs_before = set(site.blob_dir.iterdir()) if site.blob_dir.exists() else set()

    # Given a submitter who answers everything on a form but one required question
    open_form(visit, missing.journey)
    form = Answering(page, skip=frozenset({missing.skipped}))
    missing.journey.fill(form, mark)
    answer_common_questions(form, missing.journey, f"{mark}-account", f"{mark}-file".encode())
    typed = form_state(page)

    # When they send it
    page.get_by_role("button", name="Send report").click()

    # Then the error summary says what is missing, linking to that very field
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link")).to_have_count(1)
    link = summary.get_by_role("link", name=missing.message, exact=True)
    expect(link).to_have_attribute("href", f"#{missing.target}")
    expect(missing.field(page)).to_have_attribute("id", missing.target)
    expect(page.locator(f"#{missing.skipped}-error")).to_contain_text(missing.message)
    # ...and says the file must be chosen again, since files are not kept from a failed form
    expect(summary).to_contain_text("Files are not kept when a page has errors")
    # ...every answer they gave is still in its field
    assert form_state(page) == typed
    # ...following the link puts them on the field
    link.click()
    expect(missing.field(page)).to_be_focused()
    # ...and nothing was stored: no report, no file
    assert site.count_reports() == reports_before
    assert (set(site.blob_dir.iterdir()) if site.blob_dir.exists() else set()) == blobs_before
    visit.requests.assert_all_to_portal()


def test_follow_up_round_trip(visit: BrowserVisit) -> None:
    page, site, mark = visit.page, visit.site, canary()

    # Given a report sent from this browser, and a reply an inspector wrote on the review side
    codename = send_short_report(visit, f"A short report {mark}-report")
    report_id = site.report_id_for(codename)
    reply = f"Thank you. Which month did this happen? {mark}-reply"
    site.add_message(report_id, Author.INSPECTOR, reply)

    # When the submitter comes back later (the browser closed: no cookie survives) and enters
    # their codename on the follow-up page
    visit.context.clear_cookies()
    assert visit.goto("/") == 200
    page.get_by_role("link", name="Check for a reply with your codename").click()
    page.get_by_label("Your codename").fill(codename)
    page.get_by_role("button", name="Continue").click()

    # Then they read the inspector's reply
    expect(page.get_by_role("heading", name="Your report", exact=True)).to_be_visible()
    entry = page.locator(".thread-entry-inspector")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("From the inspectorate")
    expect(entry).to_contain_text(reply)

    # When they answer it
    answer = f"It was in March {mark}-answer"
    page.get_by_label("Your message").fill(answer)
    page.get_by_role("button", name="Send message").click()

    # Then they are told it was sent
    expect(page.get_by_role("heading", name="Message sent", exact=True)).to_be_visible()
    # ...and the answer is stored after the reply, opening with the inspectorate's identity
    messages = site.messages_of(report_id)
    assert [(author, document["text"]) for author, document in messages] == [
        (Author.INSPECTOR, reply),
        (Author.SUBMITTER, answer),
    ]
    assert mark.encode() not in site.stored_database_bytes()

    # When they leave
    page.get_by_role("button", name="Leave").click()

    # Then they are told they left, and sending another message takes the codename again
    expect(page.get_by_role("heading", name="You have left your report")).to_be_visible()
    assert visit.goto("/follow-up/message") == 200
    expect(page).to_have_url(f"{site.url}/follow-up")
    visit.requests.assert_all_to_portal()


@pytest.mark.parametrize(
    "wrong_codename",
    [new_codename(), "correct horse battery staple"],
    ids=["unknown-codename", "not-a-codename"],
)
def test_wrong_codename_opens_nothing(visit: BrowserVisit, wrong_codename: str) -> None:
    page = visit.page

    # Given a submitter on the follow-up page
    assert visit.goto("/follow-up") == 200

    # When they enter a codename that belongs to no report
    page.get_by_label("Your codename").fill(wrong_codename)
    page.get_by_role("button", name="Continue").click()

    # Then they are told no report matches, beside the field, which keeps what they typed
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link")).to_have_attribute("href", "#codename")
    expect(summary).to_contain_text("No report matches that codename")
    expect(page.locator("#codename-error")).to_contain_text("No report matches that codename")
    expect(page.get_by_label("Your codename")).to_have_value(wrong_codename)
    # ...and no conversation, nor any way to send a message, is shown
    expect(page.locator(".thread, .thread-entry")).to_have_count(0)
    expect(page.get_by_label("Your message")).to_have_count(0)
    expect(page.get_by_role("heading", name="Your report")).to_have_count(0)
    visit.requests.assert_all_to_portal()
