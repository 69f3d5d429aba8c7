"""Fuzzing every page and form of both sites, in-process, with hypothesis.

Requests are random in every part a client controls: the method, the path under each known
route (ids that exist, random ones, garbage), the query string, the body (multipart and
url-encoded forms with missing, extra, repeated and wrongly typed fields; text with control
characters, unicode, bytes that are not UTF-8, strings far over every limit; raw bodies of
other types; bodies cut off midway), files with random names, types and contents (including
damaged JPEG, PNG, PDF and Word files for the metadata filters), with the session's CSRF
token, none, an empty, forged or repeated one, or one in a header. The review site is fuzzed
anonymously and signed in as an administrator.

Every response must be a plain page: status below 500, no stack trace, the content type the
page should have. On the submission site nothing may be kept from a request that was not
accepted: the counts of reports, messages and attachments and the blob folder are compared
before and after every request; an accepted report adds exactly one report (and its files), an
accepted message exactly one message, and nothing is accepted without the session's token.

The campaigns (the submission site's routes, report forms and follow-up; the review site
anonymously and as an administrator) all run in one test, which adds up what each sent and
asserts that the total is over 10,000: a count kept within one test, true whichever tests were
selected. The strategies and encodings live in tests/support/fuzzing.py; what an answer must
be, and what may be stored, is judged here. The examples are derandomized, so CI sends the same
requests every run; the module has one SQLite database of its own (a copy of the run's migrated
one), shared by both sites as in production.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session, selectinload
from werkzeug.test import TestResponse

from portal import create_review_app, create_submit_app, crypto
from portal.config import Settings, sqlite_url
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.db import make_engine
from portal.models import Attachment, Message, Note, Report, Reviewer, Role
from portal.recipients import RECIPIENTS_FILE
from portal.review.casework import SAFE_TYPES
from portal.review.context import ReviewContext
from portal.services import reviewers
from portal.services.documents import unseal_document
from tests.conftest import CHEAP_HASH_COST, CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR, HttpsClient
from tests.metadata import samples
from tests.support.fuzzing import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_REQUEST_BYTES,
    NO_BODY,
    Body,
    FilePart,
    Pairs,
    Tally,
    Watched,
    as_bytes,
    body_of,
    choice_or_garbage,
    field_names,
    files,
    garbage_segments,
    methods,
    multipart,
    mutated,
    pairs_from,
    pick,
    queries,
    under,
    urlencoded,
    values,
    with_csrf,
)
from tests.support.pages import codename_or_none, csrf_token_or_none
from tests.support.reviewers import enrolled_reviewer, totp_code
from tests.support.submitting import answers_for

PASSWORD = "correct horse battery staple"
# What each tally counts: the five campaigns, and setting up the review site's reports.
ANY_ROUTE = "submission site, any route"
REPORT_FORMS = "submission site, report forms"
FOLLOW_UP = "submission site, follow-up"
SETTING_UP = "setting up"
ANONYMOUS = "review site, anonymous"
ADMINISTRATOR = "review site, administrator"
FUZZ = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


# ---------------------------------------------------------------------------------------------
# The sites and their database


class Clock:
    """The review site's clock: moved on by each sign-in, so every TOTP code is a fresh one."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Portal:
    settings: Settings
    engine: Engine
    submit: Watched
    review: Watched
    clock: Clock
    identity: crypto.HybridIdentity


@pytest.fixture(scope="module")
def portal(
    tmp_path_factory: pytest.TempPathFactory,
    inspectorate_identity: crypto.HybridIdentity,
    sqlite_template: Path,
) -> Iterator[Portal]:
    """Both sites on one database, with small limits (cheap to cross) and no rate limits."""
    root = tmp_path_factory.mktemp("fuzz")
    keys = root / "keys"
    keys.mkdir()
    (keys / RECIPIENTS_FILE).write_text(f"{inspectorate_identity.recipient()}\n")
    shutil.copyfile(sqlite_template, root / "portal.sqlite3")
    database_url = sqlite_url(root / "portal.sqlite3")
    fuzz_settings = Settings(
        instance_dir=root / "instance",
        keys_dir=keys,
        database_url=database_url,
        codename_hash_cost=CHEAP_HASH_COST,
        password_cost=CHEAP_PASSWORD_COST,
        keyring_work_factor=CHEAP_WORK_FACTOR,
        max_request_bytes=MAX_REQUEST_BYTES,
        max_file_bytes=MAX_FILE_BYTES,
        max_files=MAX_FILES,
        submissions_per_minute=10**6,
        codename_attempts_per_minute=10**6,
    )
    clock = Clock()
    submit_app = create_submit_app(fuzz_settings)
    review_app = create_review_app(fuzz_settings)
    context: ReviewContext = review_app.extensions["portal.review"]
    review_app.extensions["portal.review"] = dataclasses.replace(context, clock=clock)
    for app in (submit_app, review_app):
        app.test_client_class = HttpsClient
    engine = make_engine(database_url)
    yield Portal(
        settings=fuzz_settings,
        engine=engine,
        submit=Watched(submit_app),
        review=Watched(review_app),
        clock=clock,
        identity=inspectorate_identity,
    )
    for app in (submit_app, review_app):
        app.extensions["portal.db"].kw["bind"].dispose()
    engine.dispose()


# ---------------------------------------------------------------------------------------------
# Sending a request and checking its answer

DOWNLOAD = re.compile(r"/reports/[^/]+/files/[^/]+")


def send(
    site: Watched,
    client: FlaskClient,
    method: str,
    path: str,
    *,
    tally: Tally,
    body: Body = NO_BODY,
    query: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """One request, checked: below 500, a plain page of the right type, no stack trace."""
    if query is not None and "?" in path:  # a garbage path segment began a query string
        path, query = f"{path}&{query}", None
    site.templates.clear()
    site.crashes.clear()
    response = client.open(
        path,
        method=method,
        data=body.data,
        content_type=body.content_type,
        query_string=query,
        headers=headers or {},
    )
    content = response.get_data()
    response.close()
    tally.statuses[response.status_code] += 1
    where = f"{method} {path!r} query={query!r} -> {response.status}"
    assert response.status_code < 500, f"{where}\n{''.join(site.crashes)}"
    assert not site.crashes, f"{where}\n{''.join(site.crashes)}"
    served = response.request.path
    if response.status_code == 200 and method in {"GET", "HEAD"} and DOWNLOAD.fullmatch(served):
        assert response.mimetype in SAFE_TYPES | {"application/octet-stream"}, where
        assert response.headers["Content-Disposition"].startswith("attachment;"), where
        return response  # the body is the submitter's file
    expected = "text/html"
    if response.status_code == 200 and method in {"GET", "HEAD"}:
        if served == "/dashboard/export.csv":
            expected = "text/csv"
        elif served.startswith("/static/"):
            expected = "text/css"
    assert response.mimetype == expected, f"{where}: {response.mimetype}"
    for marker in (b"Traceback", b'File "'):
        assert marker not in content, f"{where}: the page shows {marker!r}"
    return response


# ---------------------------------------------------------------------------------------------
# The submission site: nothing kept from a request that was not accepted


@dataclass(frozen=True)
class Stored:
    reports: int
    messages: int
    attachments: int
    published: frozenset[str]
    staged: frozenset[str]


COUNTS = text(
    "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM messages), "
    "(SELECT count(*) FROM attachments)"
)


def stored(portal: Portal) -> Stored:
    with portal.engine.connect() as connection:
        reports, messages, attachments = connection.execute(COUNTS).one()
    blobs = portal.settings.blobs
    names = [path.name for path in blobs.iterdir()] if blobs.is_dir() else []
    return Stored(
        reports=reports,
        messages=messages,
        attachments=attachments,
        published=frozenset(name for name in names if not name.startswith(".")),
        staged=frozenset(name for name in names if name.startswith(".")),
    )


def submit(
    portal: Portal,
    client: FlaskClient,
    method: str,
    path: str,
    *,
    tally: Tally,
    body: Body = NO_BODY,
    query: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """A request to the submission site, with what it stored checked against its answer."""
    before = stored(portal)
    response = send(
        portal.submit,
        client,
        method,
        path,
        tally=tally,
        body=body,
        query=query,
        headers=headers,
    )
    after = stored(portal)
    where = f"{method} {path!r} -> {response.status}"
    templates = portal.submit.templates
    new_blobs = after.published - before.published
    assert not after.staged, f"{where}: staged uploads were left behind: {after.staged}"
    assert before.published <= after.published, f"{where}: published blobs disappeared"
    report_accepted = response.status_code == 200 and "confirmation.html" in templates
    message_accepted = response.status_code == 200 and "followup_sent.html" in templates
    if report_accepted or message_accepted:
        tally.accepted_reports += int(report_accepted)
        tally.accepted_messages += int(message_accepted)
        assert after.reports - before.reports == int(report_accepted), where
        assert after.messages - before.messages == int(message_accepted), where
        assert after.attachments - before.attachments == len(new_blobs), where
        assert len(new_blobs) <= min(body.files, MAX_FILES), where
    else:
        assert after == before, f"{where}: a refused request left {before} -> {after}"
    return response


def accepted(response: TestResponse) -> str | None:
    """The codename, if the response confirms a stored report."""
    return codename_or_none(response) if response.status_code == 200 else None


def lookup_of(portal: Portal, codename: str) -> bytes:
    return portal.submit.app.extensions["portal.submit"].hasher.derive(codename).lookup


SUBMIT_FIELDS = (
    *("region", "urgent", "account", "rosh_assessed", "rosh_pressed", "mappa_level"),
    *("pressed_by", "how", "reason", "when_month", "when_year", "case_current", "raised"),
    *("raised_outcome", "grade", "caseload", "capacity", "duration", "consequences"),
    *("consequences_other", "kind", "codename", "message", "csrf_token", "attachments"),
)
SUBMIT_KINDS = ("risk-rating", "workload", "other")
SUBMIT_PATHS = pick(
    st.sampled_from(
        [
            *("/", "/staying-safe", "/what-we-keep", "/report", "/report/risk-rating"),
            *("/report/workload", "/report/other", "/follow-up", "/follow-up/message"),
            *("/follow-up/end", "/follow-up/leave", "/static/portal.css"),
        ]
    ),
    under(["/report", "/follow-up", "/static", "", "/report/other"]),
)


def fuzz_any_route(portal: Portal, tally: Tally) -> None:
    """Any method, path, query and body to the submission site, with or without the session's
    CSRF token."""

    @settings(FUZZ, max_examples=450)
    @given(data=st.data())
    def submission_site_answers_any_request_plainly_and_keeps_nothing_it_refused(
        data: st.DataObject,
    ) -> None:
        client = portal.submit.client()
        token = None
        if data.draw(st.booleans()):
            token = csrf_token_or_none(submit(portal, client, "GET", "/report/other", tally=tally))
        for _ in range(data.draw(st.integers(1, 4))):
            pairs = data.draw(st.lists(st.tuples(field_names(SUBMIT_FIELDS), values), max_size=6))
            pairs, headers, _mode = with_csrf(data, pairs, token)
            response = submit(
                portal,
                client,
                data.draw(methods),
                data.draw(SUBMIT_PATHS),
                tally=tally,
                body=body_of(data, pairs, data.draw(files)),
                query=data.draw(queries),
                headers=headers,
            )
            token = csrf_token_or_none(response) or token

    submission_site_answers_any_request_plainly_and_keeps_nothing_it_refused()


def fuzz_report_forms(portal: Portal, tally: Tally) -> None:
    """Each report form, filled in and then damaged: what is accepted is stored, once."""

    @settings(FUZZ, max_examples=1_000)
    @given(data=st.data())
    def report_forms_store_exactly_what_they_accept(data: st.DataObject) -> None:
        client = portal.submit.client()
        kind = data.draw(st.sampled_from(SUBMIT_KINDS))
        language = data.draw(st.sampled_from([None, "lang=cy"]))
        form = submit(portal, client, "GET", f"/report/{kind}", tally=tally, query=language)
        canary = f"canary-{uuid.uuid4().hex[:12]}"
        pairs = mutated(data, pairs_from(answers_for(kind, canary)), SUBMIT_FIELDS)
        pairs, headers, mode = with_csrf(data, pairs, csrf_token_or_none(form))
        body = body_of(data, pairs, data.draw(files))

        response = submit(
            portal,
            client,
            "POST",
            f"/report/{kind}",
            tally=tally,
            body=body,
            headers=headers,
        )

        codename = accepted(response)
        if codename is None:
            return
        assert mode in {"valid", "header", "repeated"}, f"a report was accepted with CSRF {mode}"
        # The report is stored under its codename and opens as the kind of report that was sent
        with Session(portal.engine) as session:
            report = session.scalars(
                select(Report)
                .options(selectinload(Report.sealed))
                .where(Report.codename_hash == lookup_of(portal, codename))
            ).one()
            file_ids = session.scalars(
                select(Attachment.id).where(Attachment.report_id == report.id)
            )
            blobs = [portal.settings.blobs / f"{file_id}.age" for file_id in file_ids]
        assert unseal_document(report.content, [portal.identity])["kind"] == kind.replace("-", "_")
        assert all(blob.is_file() for blob in blobs)
        # And the same form cannot be accepted twice
        replay = submit(
            portal,
            client,
            "POST",
            f"/report/{kind}",
            tally=tally,
            body=body,
            headers=headers,
        )
        assert accepted(replay) is None, "a replayed form was accepted again"

    report_forms_store_exactly_what_they_accept()


@dataclass
class FollowUp:
    codename: str = ""
    report_id: uuid.UUID | None = None


def open_report(portal: Portal, follow_up: FollowUp, tally: Tally) -> FollowUp:
    """A report whose follow-up is open (a new one once the fuzzer has ended the last)."""
    if follow_up.report_id is not None:
        with Session(portal.engine) as session:
            report = session.get(Report, follow_up.report_id)
            if report is not None and report.follow_up_open:
                return follow_up
    client = portal.submit.client()
    token = csrf_token_or_none(submit(portal, client, "GET", "/report/other", tally=tally))
    assert token
    body = multipart([("csrf_token", token), *pairs_from(answers_for("other", "follow-up"))], [])
    codename = accepted(submit(portal, client, "POST", "/report/other", tally=tally, body=body))
    assert codename, "a complete report was not accepted"
    with Session(portal.engine) as session:
        follow_up.report_id = session.scalars(
            select(Report.id).where(Report.codename_hash == lookup_of(portal, codename))
        ).one()
    follow_up.codename = codename
    return follow_up


@cache
def codename_variants(codename: str) -> st.SearchStrategy[str | bytes]:
    words = codename.split()
    return pick(
        st.just(codename),
        st.just(codename),
        st.sampled_from(
            [
                *(codename, codename.upper(), "-".join(words), "  " + "   ".join(words) + "\n"),
                *(" ".join(words[:-1]), " ".join([*words, words[0]]), " ".join(words[::-1])),
                *(" ".join(["zzzz", *words[1:]]), "\x00".join(words)),
            ]
        ),
        values,
    )


MESSAGES = choice_or_garbage(("Any news?", "A second message\n\nwith two paragraphs."))
FOLLOW_UP_QUERIES = st.sampled_from([None, None, "lang=cy", "x=%ff"])
# What a follow-up request is for, and so its likely method and path (the fuzzer varies both)
FOLLOW_UP_REQUESTS = st.sampled_from(
    [
        *(("POST", "/follow-up/message"),) * 4,
        *(("GET", "/follow-up/message"), ("POST", "/follow-up/end"), ("GET", "/follow-up/end")),
        *(("POST", "/follow-up/leave"), ("POST", "/follow-up"), ("GET", "/follow-up")),
    ]
)


def fuzz_follow_up(portal: Portal, tally: Tally) -> None:
    """Signing in with codenames near the right one, and sending, ending and leaving the
    conversation: exactly the messages accepted are stored."""
    follow_up = FollowUp()

    @settings(FUZZ, max_examples=450)
    @given(data=st.data())
    def follow_up_stores_exactly_the_messages_it_accepts(data: st.DataObject) -> None:
        current = open_report(portal, follow_up, tally)
        client = portal.submit.client()
        token = csrf_token_or_none(submit(portal, client, "GET", "/follow-up", tally=tally))
        if data.draw(st.integers(0, 3)):
            codename = data.draw(codename_variants(current.codename))
            pairs, headers, _mode = with_csrf(data, [("codename", codename)], token)
            submit(
                portal,
                client,
                "POST",
                "/follow-up",
                tally=tally,
                body=body_of(data, pairs, []),
                headers=headers,
            )
        for _ in range(data.draw(st.integers(1, 3))):
            method, path = data.draw(FOLLOW_UP_REQUESTS)
            if data.draw(st.integers(0, 7)) == 0:
                method, path = data.draw(methods), data.draw(under(["/follow-up"]))
            fields: Pairs = (
                [("message", data.draw(MESSAGES))] if data.draw(st.integers(0, 3)) else []
            )
            if data.draw(st.booleans()):
                fields = mutated(data, fields, ("message", "codename", "attachments"))
            pairs, headers, _mode = with_csrf(data, fields, token)
            response = submit(
                portal,
                client,
                method,
                path,
                tally=tally,
                body=body_of(data, pairs, data.draw(files)),
                query=data.draw(FOLLOW_UP_QUERIES),
                headers=headers,
            )
            token = csrf_token_or_none(response) or token

    follow_up_stores_exactly_the_messages_it_accepts()


# ---------------------------------------------------------------------------------------------
# The review site


@dataclass
class Account:
    username: str
    role: Role
    totp_secret: bytes
    id: uuid.UUID
    password: str = PASSWORD

    def code(self, clock: Clock) -> str:
        return totp_code(self.totp_secret, clock.now)


@dataclass
class Reviewing:
    """The review site's fixtures: accounts, reports with files, the admin's signed-in client,
    and strategies for the ids in its addresses (ones that exist, random ones, garbage)."""

    admin: Account
    victim: Account
    accounts: list[Account]
    reports: st.SearchStrategy[str]
    files: st.SearchStrategy[str]
    account_ids: st.SearchStrategy[str]
    client: FlaskClient | None = None
    token: str | None = None


def _create_account(portal: Portal, username: str, role: Role) -> Account:
    policy = reviewers.AccountPolicy(
        password_cost=portal.settings.password_cost,
        keyring_work_factor=portal.settings.keyring_work_factor,
    )
    with Session(portal.engine) as session:
        reviewer, totp_secret = enrolled_reviewer(
            session,
            username=username,
            role=role,
            password=PASSWORD,
            identity=portal.identity,
            policy=policy,
            host_key=load_or_create_host_key(portal.settings.instance_dir),
            now=portal.clock.now,
        )
        session.commit()
        return Account(username, role, totp_secret, reviewer.id)


def set_up_reviewing(portal: Portal, tally: Tally) -> Reviewing:
    """Accounts of each role and three reports (two with files), sent through the public site."""
    accounts = [
        _create_account(portal, "fuzz-admin", Role.ADMIN),
        _create_account(portal, "fuzz-victim", Role.INSPECTOR),
        _create_account(portal, "fuzz-auditor", Role.AUDITOR),
    ]
    client = portal.submit.client()
    uploads = {
        "risk-rating": [
            FilePart("attachments", "notes.txt", "text/plain", b"plain notes"),
            FilePart("attachments", "photo.png", "image/png", samples.png()),
        ],
        "workload": [],
        "other": [FilePart("attachments", "<b>evil</b>.html", "text/html", b"<script>x</script>")],
    }
    report_ids = []
    for kind, parts in uploads.items():
        form = submit(portal, client, "GET", f"/report/{kind}", tally=tally)
        pairs = [
            ("csrf_token", csrf_token_or_none(form) or ""),
            *pairs_from(answers_for(kind, "review")),
        ]
        page = submit(
            portal,
            client,
            "POST",
            f"/report/{kind}",
            tally=tally,
            body=multipart(pairs, parts),
        )
        codename = accepted(page)
        assert codename, f"the {kind} report for the review site was not accepted"
        with Session(portal.engine) as session:
            report_ids.append(
                session.scalars(
                    select(Report.id).where(Report.codename_hash == lookup_of(portal, codename))
                ).one()
            )
    with Session(portal.engine) as session:
        attachments = session.execute(
            select(Attachment.report_id, Attachment.id).where(Attachment.report_id.in_(report_ids))
        ).all()
    reports = pick(
        st.sampled_from([str(report_id) for report_id in report_ids]),
        st.uuids().map(str),
        garbage_segments,
    )
    return Reviewing(
        admin=accounts[0],
        victim=accounts[1],
        accounts=accounts,
        reports=reports,
        files=pick(
            st.sampled_from([f"{report}/files/{file}" for report, file in attachments]),
            st.builds(lambda r, f: f"{r}/files/{f}", reports, st.uuids().map(str)),
            st.builds(lambda r, g: f"{r}/files/{g}", reports, garbage_segments),
        ),
        account_ids=pick(
            st.sampled_from([str(account.id) for account in accounts]),
            st.uuids().map(str),
            garbage_segments,
        ),
    )


def sign_in(portal: Portal, client: FlaskClient, account: Account, tally: Tally) -> bool:
    token = csrf_token_or_none(send(portal.review, client, "GET", "/sign-in", tally=tally))
    assert token
    fields = [
        ("csrf_token", token),
        ("username", account.username),
        ("password", account.password),
        ("code", account.code(portal.clock)),
    ]
    response = send(portal.review, client, "POST", "/sign-in", tally=tally, body=urlencoded(fields))
    portal.clock.advance(30)  # a code is accepted once: the next sign-in needs the next one
    return response.status_code == 302


def admin_client(portal: Portal, reviewing: Reviewing, tally: Tally) -> FlaskClient:
    """The administrator's client, signed in again whenever the fuzzer signed it out."""
    if reviewing.client is None:
        client = portal.review.client()
        assert sign_in(portal, client, reviewing.admin, tally), "the admin cannot sign in"
        page = send(portal.review, client, "GET", "/admin/accounts/new", tally=tally)
        reviewing.client, reviewing.token = client, csrf_token_or_none(page)
        assert reviewing.token
    return reviewing.client


# One of the review site's pages: a method, a path, form fields and a query string.
ReviewRequest = tuple[str, str, Pairs, str | None]
VICTIM_CODE = "(the victim's current code)"
PASSWORDS = choice_or_garbage((PASSWORD, "another long passphrase for the fuzzing admin", "short"))
USERNAMES = choice_or_garbage(("fuzz-victim", "fuzz-auditor", "nobody", "FUZZ-VICTIM "))
CODES = choice_or_garbage(("000000", "123 456", VICTIM_CODE))
INBOX_FILTERS = st.builds(
    lambda key, value: f"{key}={quote_from_bytes(as_bytes(value))}",
    st.sampled_from(["status", "kind", "priority", "assignee", "region", "overdue", "page"]),
    choice_or_garbage(("new", "closed", "workload", "high", "wales", "1", "none")),
)
NEW_USERNAMES = pick(st.from_regex(r"fz[a-z0-9]{1,8}", fullmatch=True), values)
GET_OR_POST = st.sampled_from(["GET", "POST"])


def _inbox(data: st.DataObject, _site: Reviewing) -> ReviewRequest:
    return "GET", "/", [], data.draw(pick(queries, INBOX_FILTERS))


def _report(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    return "GET", f"/reports/{data.draw(site.reports)}", [], None


def _download(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    return "GET", f"/reports/{data.draw(site.files)}", [], None


def _reply(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    return (
        "POST",
        f"/reports/{data.draw(site.reports)}/reply",
        [("reply-text", data.draw(values))],
        None,
    )


def _note(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    return (
        "POST",
        f"/reports/{data.draw(site.reports)}/notes",
        [("note-text", data.draw(values))],
        None,
    )


def _triage(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    fields = [
        ("triage-status", data.draw(choice_or_garbage(("new", "acknowledged", "closed")))),
        ("triage-outcome", data.draw(choice_or_garbage(("", "action_taken", "duplicate")))),
        ("triage-priority", data.draw(choice_or_garbage(("low", "normal", "high")))),
        ("triage-assignee", data.draw(pick(st.just(""), site.account_ids))),
        ("triage-labels", data.draw(choice_or_garbage(("", "a, b", "x" * 201)))),
    ]
    return "POST", f"/reports/{data.draw(site.reports)}/triage", fields, None


def _link(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    reference = data.draw(pick(site.reports, values))
    return (
        "POST",
        f"/reports/{data.draw(site.reports)}/links",
        [("link-reference", reference)],
        None,
    )


def _new_account(data: st.DataObject, _site: Reviewing) -> ReviewRequest:
    fields = [
        ("username", data.draw(NEW_USERNAMES)),
        ("role", data.draw(choice_or_garbage(("inspector", "admin", "auditor")))),
    ]
    return data.draw(GET_OR_POST), "/admin/accounts/new", fields, None


def _revoke(data: st.DataObject, site: Reviewing) -> ReviewRequest:
    return "POST", f"/admin/accounts/{data.draw(site.account_ids)}/revoke", [], None


def _password(data: st.DataObject, _site: Reviewing) -> ReviewRequest:
    fields = [(name, data.draw(PASSWORDS)) for name in ("current", "password", "confirm")]
    return data.draw(GET_OR_POST), "/account/password", fields, None


def _public_form(path: str) -> Callable[[st.DataObject, Reviewing], ReviewRequest]:
    def request(data: st.DataObject, _site: Reviewing) -> ReviewRequest:
        fields = [
            ("username", data.draw(USERNAMES)),
            ("password", data.draw(PASSWORDS)),
            ("confirm", data.draw(PASSWORDS)),
            ("code", data.draw(CODES)),
        ]
        return data.draw(st.sampled_from(["GET", "POST", "POST"])), path, fields, None

    return request


def _page(method: str, path: str) -> Callable[[st.DataObject, Reviewing], ReviewRequest]:
    return lambda data, _site: (method, path, [], data.draw(queries))


def _elsewhere(data: st.DataObject, _site: Reviewing) -> ReviewRequest:
    prefixes = ["", "/reports", "/admin", "/admin/accounts", "/audit", "/enrol", "/static"]
    return "GET", data.draw(under(prefixes)), [], None


REVIEW_PAGES = st.sampled_from(
    [
        *(_inbox, _report, _report, _download, _reply, _note, _triage, _triage, _link),
        *(_new_account, _revoke, _password, _elsewhere),
        *(_public_form("/sign-in"), _public_form("/enrol"), _public_form("/enrol/set-up")),
        *(_page("GET", "/admin/accounts"), _page("GET", "/dashboard")),
        *(_page("GET", "/dashboard/export.csv"), _page("GET", "/audit")),
        *(_page("POST", "/audit/verify"), _page("POST", "/sign-out")),
        *(_page("GET", "/static/portal.css"), _page("GET", "/static/%2e%2e/wsgi.py")),
    ]
)
SESSION_CHANGING = frozenset({"/sign-in", "/sign-out", "/enrol", "/enrol/set-up"})


def review_fuzz(
    portal: Portal,
    reviewing: Reviewing,
    data: st.DataObject,
    client: FlaskClient,
    token: str | None,
    tally: Tally,
) -> bool:
    """One random request to the review site; whether it may have changed who is signed in."""
    method, path, fields, query = data.draw(REVIEW_PAGES)(data, reviewing)
    if data.draw(st.integers(0, 9)) == 0:
        method = data.draw(methods)
    body, pairs, headers = NO_BODY, [], {}
    if method in {"POST", "PUT", "PATCH", "DELETE"}:
        fields = [
            (name, reviewing.victim.code(portal.clock) if value == VICTIM_CODE else value)
            for name, value in mutated(data, fields, tuple(name for name, _ in fields) or ("x",))
        ]
        pairs, headers, _mode = with_csrf(data, fields, token)
        body = body_of(data, pairs, data.draw(files))
    response = send(
        portal.review,
        client,
        method,
        path,
        tally=tally,
        body=body,
        query=query,
        headers=headers,
    )
    if "password_changed.html" in portal.review.templates:
        new = [value for name, value in pairs if name == "password"]
        reviewing.admin.password = as_bytes(new[0]).decode()
    signed_out = response.status_code == 302 and response.location.endswith("/sign-in")
    changed = method == "POST" and response.status_code < 400 and path in SESSION_CHANGING
    return signed_out or changed


def fuzz_review_anonymously(portal: Portal, reviewing: Reviewing, tally: Tally) -> None:
    """Every page and form of the review site, by someone who is not signed in."""

    @settings(FUZZ, max_examples=700)
    @given(data=st.data())
    def review_site_answers_anyone_plainly(data: st.DataObject) -> None:
        client = portal.review.client()
        token = csrf_token_or_none(send(portal.review, client, "GET", "/sign-in", tally=tally))
        for _ in range(data.draw(st.integers(1, 4))):
            review_fuzz(portal, reviewing, data, client, token, tally)
        portal.clock.advance(30)  # the victim's code may have been used

    review_site_answers_anyone_plainly()


PILED_UP = text(
    "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM notes), "
    "(SELECT count(*) FROM reviewers)"
)


def trim(portal: Portal, reviewing: Reviewing) -> None:
    """Keep pages small: drop the conversations, notes and accounts the fuzzer piles up."""
    with portal.engine.connect() as connection:
        messages, notes, accounts = connection.execute(PILED_UP).one()
    if messages > 40 or notes > 40 or accounts > 30:
        with Session(portal.engine) as session:
            session.execute(delete(Message))
            session.execute(delete(Note))
            keep = [account.id for account in reviewing.accounts]
            session.execute(delete(Reviewer).where(Reviewer.id.not_in(keep)))
            session.commit()


def fuzz_review_as_administrator(portal: Portal, reviewing: Reviewing, tally: Tally) -> None:
    """Every page and form of the review site, by a signed-in administrator (signed in again
    whenever the fuzzer signs out or changes the password)."""

    @settings(FUZZ, max_examples=900)
    @given(data=st.data())
    def review_site_answers_an_administrator_plainly(data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(1, 5))):
            client = admin_client(portal, reviewing, tally)
            if review_fuzz(portal, reviewing, data, client, reviewing.token, tally):
                reviewing.client = None
        trim(portal, reviewing)

    review_site_answers_an_administrator_plainly()


# ---------------------------------------------------------------------------------------------
# Every campaign, and the total


def test_both_sites_answer_over_ten_thousand_fuzzed_requests_plainly(portal: Portal) -> None:
    """Every campaign in turn, in one test, so that the total asserted at the end counts the
    requests this test sent itself, whichever other tests were selected and in whatever order.

    A campaign that fails stops the test there, with Hypothesis's smallest failing example
    under the campaign's name."""
    any_route, report_forms, follow_up = Tally(ANY_ROUTE), Tally(REPORT_FORMS), Tally(FOLLOW_UP)
    setting_up, anonymous = Tally(SETTING_UP), Tally(ANONYMOUS)
    administrator = Tally(ADMINISTRATOR)

    fuzz_any_route(portal, any_route)
    fuzz_report_forms(portal, report_forms)
    fuzz_follow_up(portal, follow_up)
    reviewing = set_up_reviewing(portal, setting_up)
    fuzz_review_anonymously(portal, reviewing, anonymous)
    fuzz_review_as_administrator(portal, reviewing, administrator)

    tallies = (any_route, report_forms, follow_up, setting_up, anonymous, administrator)
    total = sum(tally.sent for tally in tallies)
    accepted_reports = sum(tally.accepted_reports for tally in tallies)
    accepted_messages = sum(tally.accepted_messages for tally in tallies)
    for tally in tallies:
        print(f"\n{tally}")
    print(
        f"\nfuzzing: {total} requests in all; the submission site accepted "
        f"{accepted_reports} reports and {accepted_messages} messages"
    )
    assert total >= 10_000
    # Otherwise "stores exactly what it accepts" would have been checked against nothing
    assert report_forms.accepted_reports, "no fuzzed report form was ever accepted"
    assert follow_up.accepted_messages, "no fuzzed follow-up message was ever accepted"


# ---------------------------------------------------------------------------------------------
# What the fuzzers found


@pytest.mark.parametrize(("site", "path"), [("submit", "/report/other"), ("review", "/sign-in")])
def test_a_multipart_part_without_a_name_gets_a_plain_400(
    portal: Portal, site: str, path: str
) -> None:
    watched = portal.submit if site == "submit" else portal.review
    client = watched.client()
    client.get(path)
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--b--\r\n"

    response = client.post(path, data=body, content_type="multipart/form-data; boundary=b")

    assert response.status_code == 400


@pytest.mark.parametrize("form", ["report", "message"])
def test_a_text_field_named_attachments_gets_a_plain_answer(portal: Portal, form: str) -> None:
    client = portal.submit.client()
    tally = Tally("a text field named attachments")  # not part of the campaigns' total
    if form == "report":
        path, fields = "/report/other", pairs_from(answers_for("other", "text attachment"))
        token = csrf_token_or_none(client.get(path))
    else:
        path, fields = "/follow-up/message", [("message", "Any news?")]
        signing_in = csrf_token_or_none(client.get("/follow-up"))
        page = client.post(
            "/follow-up",
            data={
                "csrf_token": signing_in,
                "codename": open_report(portal, FollowUp(), tally).codename,
            },
        )
        token = csrf_token_or_none(page)
    body = urlencoded([("csrf_token", token or ""), *fields, ("attachments", "not a file")])

    response = client.post(path, data=body.data, content_type=body.content_type)

    assert response.status_code < 500
