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

The examples are derandomized, so CI sends the same requests every run; the module has one
SQLite database of its own, shared by both sites as in production.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from flask import Flask, got_request_exception, template_rendered
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session, selectinload
from werkzeug.test import TestResponse

from portal import create_review_app, create_submit_app, crypto, migrate
from portal.config import Settings, sqlite_url
from portal.custody.keyrings import Keyring
from portal.db import make_engine
from portal.models import Attachment, Message, Note, Report, Reviewer, Role
from portal.recipients import RECIPIENTS_FILE
from portal.review.casework import SAFE_TYPES
from portal.review.context import ReviewContext
from portal.services import reviewers
from portal.services.documents import unseal_document
from tests.conftest import CHEAP_HASH_COST, CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR, HttpsClient
from tests.metadata import samples
from tests.support.submitting import answers_for

KIB = 1024
MAX_REQUEST_BYTES = 64 * KIB
MAX_FILE_BYTES = 256 * KIB
MAX_FILES = 2
PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="[^"]*csrf_token" type="hidden" value="([^"]+)"')
CODENAME = re.compile(r'class="codename-words">([^<]+)<')

# Requests sent by each fuzz test: printed, and summed by the last test.
SENT: Counter[str] = Counter()
STATUSES: dict[str, Counter[int]] = {}
ANY_ROUTE = "submission site, any route"
REPORT_FORMS = "submission site, report forms"
FOLLOW_UP = "submission site, follow-up"
ANONYMOUS = "review site, anonymous"
ADMINISTRATOR = "review site, administrator"
SETTING_UP = "setting up"
FUZZ_TESTS = (ANY_ROUTE, REPORT_FORMS, FOLLOW_UP, ANONYMOUS, ADMINISTRATOR)
FUZZ = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


# ---------------------------------------------------------------------------------------------
# The sites, their database, and watching what each request did


class Clock:
    """The review site's clock: moved on by each sign-in, so every TOTP code is a fresh one."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


class Watched:
    """An app, with the templates its last request rendered and any exception it let out."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.templates: list[str] = []
        self.crashes: list[str] = []
        template_rendered.connect(self._rendered, app)
        got_request_exception.connect(self._crashed, app)

    def _rendered(self, _sender: Flask, template: Any, **_extra: Any) -> None:
        self.templates.append(str(template.name))

    def _crashed(self, _sender: Flask, exception: BaseException, **_extra: Any) -> None:
        self.crashes.append("".join(traceback.format_exception(exception)))

    def client(self) -> FlaskClient:
        return self.app.test_client()


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
    tmp_path_factory: pytest.TempPathFactory, inspectorate_identity: crypto.HybridIdentity
) -> Iterator[Portal]:
    """Both sites on one database, with small limits (cheap to cross) and no rate limits."""
    root = tmp_path_factory.mktemp("fuzz")
    keys = root / "keys"
    keys.mkdir()
    (keys / RECIPIENTS_FILE).write_text(f"{inspectorate_identity.recipient()}\n")
    database_url = sqlite_url(root / "portal.sqlite3")
    migrate.upgrade(database_url)
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

Pairs = list[tuple[str, str | bytes]]


@dataclass(frozen=True)
class Body:
    data: bytes | None = None
    content_type: str | None = None
    files: int = 0


NO_BODY = Body()
DOWNLOAD = re.compile(r"/reports/[^/]+/files/[^/]+")


def send(
    site: Watched,
    client: FlaskClient,
    method: str,
    path: str,
    *,
    counted_as: str,
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
    SENT[counted_as] += 1
    STATUSES.setdefault(counted_as, Counter())[response.status_code] += 1
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


def token_in(response: TestResponse) -> str | None:
    match = TOKEN.search(response.get_data(as_text=True))
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------
# Strategies: values, field names, files, bodies, queries, paths


@st.composite
def _picked(draw: st.DrawFn, branches: tuple[st.SearchStrategy[Any], ...]) -> Any:
    return draw(draw(st.sampled_from(branches)))


def pick(*branches: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Like st.one_of, but each branch as likely as the others: one_of shies away from small
    branches (a single valid value), which it soon counts as explored."""
    return _picked(branches)


CONTROL = "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029\u200e\u202e\u2066\ufeff\ufffd"
SPICY = CONTROL + "aZ09 é€😀<>&\"'%;/\\=?#[]{}+"
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
WEIRD_TEXT = (
    *("", " ", "0", "-1", "1.5", "1e9", "2009", "2999", "99999999999999999999999", "NaN"),
    *("null", "true", "[]", "{}", "None", "yes", "no", "other", "unknown", "%00", "%ZZ"),
    *("<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "\u202etxt.exe"),
    *("x" * 201, "\x00", "\ufffd"),
)
text_values = pick(
    st.text(ANY_CHARACTER, max_size=30),
    st.text(st.sampled_from(SPICY), max_size=30),
    st.sampled_from(WEIRD_TEXT),
    # Over a field's limit (200, 5,000 or 20,000 characters) or the request's (64 KiB)
    st.builds(
        lambda piece, times: piece * times,
        st.sampled_from(["x", "é", "😀", "\x00", "<a>"]),
        st.sampled_from([5_001, 20_001, 70_000]),
    ),
)
byte_values = pick(
    st.binary(max_size=40), st.sampled_from([b"\xff\xfe", b"caf\xc3", b"\xed\xa0\x80", b"\xc0\xaf"])
)
values = pick(text_values, text_values, byte_values)
random_names = pick(
    st.text(ANY_CHARACTER, max_size=15),
    st.sampled_from(["", "csrf_token", "attachments", "__proto__", "a[]", "a[b]", "x" * 300]),
)


@cache
def field_names(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    return pick(st.sampled_from(known), st.sampled_from(known), random_names)


@cache
def choice_or_garbage(choices: tuple[str, ...]) -> st.SearchStrategy[str | bytes]:
    return pick(st.sampled_from(choices), st.sampled_from(choices), values)


@cache
def sample_files() -> tuple[bytes, ...]:
    """Real JPEG, PNG, PDF and Word files, made once, for the fuzzer to cut and damage."""
    return (samples.jpeg(), samples.png(), samples.pdf(), samples.docx())


def _damaged(index: int, cut: float, flips: list[tuple[float, int]]) -> bytes:
    content = bytearray(sample_files()[index])
    for where, value in flips:
        content[int(where * (len(content) - 1))] = value
    return bytes(content[: max(1, int(cut * len(content)))])


MAGIC = (
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00",
    b"\x89PNG\r\n\x1a\n",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"GIF89a",
)
random_bytes = st.binary(max_size=300)
magic_then_random = st.builds(
    lambda magic, rest: magic + rest, st.sampled_from(MAGIC), random_bytes
)
damaged_samples = st.builds(
    _damaged,
    st.integers(0, 3),
    st.sampled_from([1.0, 1.0, 0.999, 0.5, 0.1, 0.01]),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=3),
)
file_contents = pick(
    *(random_bytes, magic_then_random, damaged_samples) * 3,
    st.just(b""),
    st.just(b"\0" * (MAX_FILE_BYTES + 1)),  # one byte over the limit
)
file_names = pick(
    st.text(st.sampled_from(SPICY), max_size=20),
    st.text(ANY_CHARACTER, max_size=20),
    st.sampled_from(
        ["", "a.txt", "../../etc/passwd", "x" * 300 + ".pdf", 'evil".txt', "名前.pdf", "photo.jpg"]
    ),
)
content_types = pick(
    st.sampled_from(
        [
            *("application/octet-stream", "text/plain", "text/html", "image/jpeg", "image/png"),
            "application/pdf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            *("", "garbage/", "x"),
        ]
    ),
    st.text(st.sampled_from("abc/;=+ \t"), max_size=12),
)


@dataclass(frozen=True)
class FilePart:
    field: str
    name: str
    content_type: str
    content: bytes


file_part = st.builds(
    FilePart,
    pick(st.just("attachments"), st.just("attachments"), random_names),
    file_names,
    content_types,
    file_contents,
)
# None, some, or one more than a form may carry
files = pick(
    st.just([]),
    st.just([]),
    st.lists(file_part, max_size=MAX_FILES),
    st.lists(file_part, max_size=3),
)


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _name(name: str | bytes) -> bytes:
    """A field name that keeps its part's `name` parameter whole (a part with no name at all is
    tested on its own: test_a_multipart_part_without_a_name_gets_a_plain_400)."""
    return re.sub(rb'["\r\n]', b"_", _bytes(name))


def _filename(name: str) -> bytes:
    """A file name that keeps its part a file (a line break would end the header early and make
    it a text field named `attachments`: test_a_text_field_named_attachments_gets_a_plain_answer
    covers that)."""
    return re.sub(rb"[\r\n]", b"_", _bytes(name))


def multipart(pairs: Pairs, parts: list[FilePart]) -> Body:
    boundary = b"fuzz-boundary-7d3c"
    encoded = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary, _name(name), _bytes(value))
        for name, value in pairs
    ]
    encoded += [
        b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
        b"Content-Type: %s\r\n\r\n%s\r\n"
        % (
            boundary,
            _name(part.field),
            _filename(part.name),
            _bytes(part.content_type),
            part.content,
        )
        for part in parts
    ]
    data = b"".join(encoded) + b"--%s--\r\n" % boundary
    return Body(data, f"multipart/form-data; boundary={boundary.decode()}", len(parts))


def urlencoded(pairs: Pairs) -> Body:
    data = "&".join(
        f"{quote_from_bytes(_bytes(name))}={quote_from_bytes(_bytes(value))}"
        for name, value in pairs
    )
    return Body(data.encode(), "application/x-www-form-urlencoded")


RAW_TYPES = (
    *("application/json", "text/plain", "application/xml", "garbage", None),
    *("multipart/form-data", "multipart/form-data; boundary=xyz", "multipart/form-data; boundary="),
    "multipart/mixed; boundary=fuzz-boundary-7d3c",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
)
ENCODINGS = st.sampled_from(["multipart"] * 6 + ["urlencoded"] * 2 + ["cut", "raw", "none"])


def body_of(data: st.DataObject, pairs: Pairs, parts: list[FilePart]) -> Body:
    """`pairs` and `parts` encoded as a browser would, or some other way a client might."""
    encoding = data.draw(ENCODINGS)
    if encoding == "multipart":
        return multipart(pairs, parts)
    if encoding == "urlencoded":
        return urlencoded(pairs)
    if encoding == "cut":
        whole = multipart(pairs, parts)
        assert whole.data is not None
        cut = data.draw(st.integers(0, max(0, len(whole.data) - 1)))
        return Body(whole.data[:cut], whole.content_type, whole.files)
    if encoding == "raw":
        return Body(data.draw(st.binary(max_size=200)), data.draw(st.sampled_from(RAW_TYPES)))
    return NO_BODY


def _query(pairs: dict[str, str]) -> str:
    return "&".join(
        f"{quote_from_bytes(_bytes(k))}={quote_from_bytes(_bytes(v))}" for k, v in pairs.items()
    )


queries = pick(
    st.none(),
    st.sampled_from(["lang=cy", "lang=en", "lang=xx", "page=0", "page=-5", "page=" + "9" * 30]),
    st.text(st.sampled_from("abz09=&%;+?#/ éx\x00"), max_size=25),
    st.dictionaries(random_names, st.text(ANY_CHARACTER, max_size=30), max_size=3).map(_query),
)
methods = st.sampled_from(
    ["GET"] * 4 + ["POST"] * 4 + ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]
)
garbage_segments = pick(
    st.text(ANY_CHARACTER, min_size=1, max_size=12),
    # (".." and "." are resolved by the client: the server would never see them.)
    st.sampled_from(["%2e%2e", "..%2f..", "%00", "0", "-1", "x" * 300, "00000000-0000-0000"]),
)


def under(prefixes: list[str]) -> st.SearchStrategy[str]:
    """Random paths below the known ones."""
    return st.builds(
        lambda prefix, segment: f"{prefix}/{segment}", st.sampled_from(prefixes), garbage_segments
    )


CSRF_MODES = st.sampled_from(
    ["valid", "valid", "valid", "missing", "empty", "forged", "header", "repeated"]
)


def with_csrf(
    data: st.DataObject, pairs: Pairs, token: str | None, *, field: str = "csrf_token"
) -> tuple[Pairs, dict[str, str], str]:
    """The form with a CSRF token as drawn: the session's, none, a wrong one, in a header..."""
    mode = data.draw(CSRF_MODES)
    pairs = [pair for pair in pairs if not _bytes(pair[0]).endswith(b"csrf_token")]
    headers: dict[str, str] = {}
    if mode == "valid" and token:
        pairs.insert(data.draw(st.integers(0, len(pairs))), (field, token))
    elif mode == "empty":
        pairs.append((field, ""))
    elif mode == "forged":
        forged = token[:-3] + "AAA" if token else "IjAwIg.forged.token"
        pairs.append((field, data.draw(st.sampled_from([forged, "x" * 300, "\x00"]))))
    elif mode == "header" and token:
        headers["X-CSRFToken"] = token
    elif mode == "repeated" and token:
        pairs += [(field, "not the token"), (field, token)]
    return pairs, headers, mode


def pairs_from(answers: dict[str, object]) -> Pairs:
    pairs: Pairs = []
    for name, value in answers.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, str(item)))
    return pairs


OPERATIONS = st.sampled_from(["drop", "replace", "repeat", "add"])


def mutated(data: st.DataObject, pairs: Pairs, names: tuple[str, ...]) -> Pairs:
    """`pairs` with fields dropped, replaced by garbage, repeated, and added."""
    pairs = list(pairs)
    for _ in range(data.draw(st.integers(0, 4))):
        operation = data.draw(OPERATIONS)
        if operation == "add" or not pairs:
            pairs.append((data.draw(field_names(names)), data.draw(values)))
            continue
        index = data.draw(st.integers(0, len(pairs) - 1))
        if operation == "drop":
            del pairs[index]
        elif operation == "replace":
            pairs[index] = (pairs[index][0], data.draw(values))
        else:
            pairs.insert(index, (pairs[index][0], data.draw(values)))
    return pairs


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
    counted_as: str,
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
        counted_as=counted_as,
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
        SENT["accepted reports" if report_accepted else "accepted messages"] += 1
        assert after.reports - before.reports == int(report_accepted), where
        assert after.messages - before.messages == int(message_accepted), where
        assert after.attachments - before.attachments == len(new_blobs), where
        assert len(new_blobs) <= min(body.files, MAX_FILES), where
    else:
        assert after == before, f"{where}: a refused request left {before} -> {after}"
    return response


def accepted(response: TestResponse) -> str | None:
    """The codename, if the response confirms a stored report."""
    match = CODENAME.search(response.get_data(as_text=True))
    return match.group(1) if match and response.status_code == 200 else None


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


@settings(FUZZ, max_examples=450)
@given(data=st.data())
def test_submission_site_answers_any_request_plainly_and_keeps_nothing_it_refused(
    portal: Portal, data: st.DataObject
) -> None:
    client = portal.submit.client()
    token = None
    if data.draw(st.booleans()):
        token = token_in(submit(portal, client, "GET", "/report/other", counted_as=ANY_ROUTE))
    for _ in range(data.draw(st.integers(1, 4))):
        pairs = data.draw(st.lists(st.tuples(field_names(SUBMIT_FIELDS), values), max_size=6))
        pairs, headers, _mode = with_csrf(data, pairs, token)
        response = submit(
            portal,
            client,
            data.draw(methods),
            data.draw(SUBMIT_PATHS),
            counted_as=ANY_ROUTE,
            body=body_of(data, pairs, data.draw(files)),
            query=data.draw(queries),
            headers=headers,
        )
        token = token_in(response) or token


@settings(FUZZ, max_examples=1_000)
@given(data=st.data())
def test_report_forms_store_exactly_what_they_accept(portal: Portal, data: st.DataObject) -> None:
    client = portal.submit.client()
    kind = data.draw(st.sampled_from(SUBMIT_KINDS))
    language = data.draw(st.sampled_from([None, "lang=cy"]))
    form = submit(portal, client, "GET", f"/report/{kind}", counted_as=REPORT_FORMS, query=language)
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    pairs = mutated(data, pairs_from(answers_for(kind, canary)), SUBMIT_FIELDS)
    pairs, headers, mode = with_csrf(data, pairs, token_in(form))
    body = body_of(data, pairs, data.draw(files))

    response = submit(
        portal,
        client,
        "POST",
        f"/report/{kind}",
        counted_as=REPORT_FORMS,
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
        file_ids = session.scalars(select(Attachment.id).where(Attachment.report_id == report.id))
        blobs = [portal.settings.blobs / f"{file_id}.age" for file_id in file_ids]
    assert unseal_document(report.content, [portal.identity])["kind"] == kind.replace("-", "_")
    assert all(blob.is_file() for blob in blobs)
    # And the same form cannot be accepted twice
    replay = submit(
        portal,
        client,
        "POST",
        f"/report/{kind}",
        counted_as=REPORT_FORMS,
        body=body,
        headers=headers,
    )
    assert accepted(replay) is None, "a replayed form was accepted again"


@dataclass
class FollowUp:
    codename: str = ""
    report_id: uuid.UUID | None = None


@pytest.fixture(scope="module")
def follow_up() -> FollowUp:
    return FollowUp()


def open_report(portal: Portal, follow_up: FollowUp) -> FollowUp:
    """A report whose follow-up is open (a new one once the fuzzer has ended the last)."""
    if follow_up.report_id is not None:
        with Session(portal.engine) as session:
            report = session.get(Report, follow_up.report_id)
            if report is not None and report.follow_up_open:
                return follow_up
    client = portal.submit.client()
    token = token_in(submit(portal, client, "GET", "/report/other", counted_as=FOLLOW_UP))
    assert token
    body = multipart([("csrf_token", token), *pairs_from(answers_for("other", "follow-up"))], [])
    codename = accepted(
        submit(portal, client, "POST", "/report/other", counted_as=FOLLOW_UP, body=body)
    )
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


@settings(FUZZ, max_examples=450)
@given(data=st.data())
def test_follow_up_stores_exactly_the_messages_it_accepts(
    portal: Portal, follow_up: FollowUp, data: st.DataObject
) -> None:
    current = open_report(portal, follow_up)
    client = portal.submit.client()
    token = token_in(submit(portal, client, "GET", "/follow-up", counted_as=FOLLOW_UP))
    if data.draw(st.integers(0, 3)):
        codename = data.draw(codename_variants(current.codename))
        pairs, headers, _mode = with_csrf(data, [("codename", codename)], token)
        submit(
            portal,
            client,
            "POST",
            "/follow-up",
            counted_as=FOLLOW_UP,
            body=body_of(data, pairs, []),
            headers=headers,
        )
    for _ in range(data.draw(st.integers(1, 3))):
        method, path = data.draw(FOLLOW_UP_REQUESTS)
        if data.draw(st.integers(0, 7)) == 0:
            method, path = data.draw(methods), data.draw(under(["/follow-up"]))
        fields: Pairs = [("message", data.draw(MESSAGES))] if data.draw(st.integers(0, 3)) else []
        if data.draw(st.booleans()):
            fields = mutated(data, fields, ("message", "codename", "attachments"))
        pairs, headers, _mode = with_csrf(data, fields, token)
        response = submit(
            portal,
            client,
            method,
            path,
            counted_as=FOLLOW_UP,
            body=body_of(data, pairs, data.draw(files)),
            query=data.draw(FOLLOW_UP_QUERIES),
            headers=headers,
        )
        token = token_in(response) or token


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
        moment = clock.now.replace(tzinfo=datetime.UTC).timestamp()
        totp = TOTP(self.totp_secret, 6, SHA1(), 30)  # noqa: S303 (RFC 6238, as apps do)
        return totp.generate(moment).decode()


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
        reviewer, code = reviewers.create_account(
            session,
            username=username,
            role=role,
            identity=portal.identity,
            policy=policy,
            now=portal.clock.now,
        )
        keyring = Keyring.unwrapped(reviewer.keyring or b"", code)
        assert keyring is not None
        reviewers.enrol_without_confirmation(reviewer, keyring, password=PASSWORD, policy=policy)
        session.commit()
        return Account(username, role, keyring.totp_secret, reviewer.id)


@pytest.fixture(scope="module")
def reviewing(portal: Portal) -> Reviewing:
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
        form = submit(portal, client, "GET", f"/report/{kind}", counted_as=SETTING_UP)
        pairs = [("csrf_token", token_in(form) or ""), *pairs_from(answers_for(kind, "review"))]
        page = submit(
            portal,
            client,
            "POST",
            f"/report/{kind}",
            counted_as=SETTING_UP,
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


def sign_in(portal: Portal, client: FlaskClient, account: Account, counted_as: str) -> bool:
    token = token_in(send(portal.review, client, "GET", "/sign-in", counted_as=counted_as))
    assert token
    fields = [
        ("csrf_token", token),
        ("username", account.username),
        ("password", account.password),
        ("code", account.code(portal.clock)),
    ]
    response = send(
        portal.review, client, "POST", "/sign-in", counted_as=counted_as, body=urlencoded(fields)
    )
    portal.clock.advance(30)  # a code is accepted once: the next sign-in needs the next one
    return response.status_code == 302


def admin_client(portal: Portal, reviewing: Reviewing) -> FlaskClient:
    """The administrator's client, signed in again whenever the fuzzer signed it out."""
    if reviewing.client is None:
        client = portal.review.client()
        assert sign_in(portal, client, reviewing.admin, ADMINISTRATOR), "the admin cannot sign in"
        page = send(portal.review, client, "GET", "/admin/accounts/new", counted_as=ADMINISTRATOR)
        reviewing.client, reviewing.token = client, token_in(page)
        assert reviewing.token
    return reviewing.client


# One of the review site's pages: a method, a path, form fields and a query string.
ReviewRequest = tuple[str, str, Pairs, str | None]
VICTIM_CODE = "(the victim's current code)"
PASSWORDS = choice_or_garbage((PASSWORD, "another long passphrase for the fuzzing admin", "short"))
USERNAMES = choice_or_garbage(("fuzz-victim", "fuzz-auditor", "nobody", "FUZZ-VICTIM "))
CODES = choice_or_garbage(("000000", "123 456", VICTIM_CODE))
INBOX_FILTERS = st.builds(
    lambda key, value: f"{key}={quote_from_bytes(_bytes(value))}",
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
    counted_as: str,
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
        counted_as=counted_as,
        body=body,
        query=query,
        headers=headers,
    )
    if "password_changed.html" in portal.review.templates:
        new = [value for name, value in pairs if name == "password"]
        reviewing.admin.password = _bytes(new[0]).decode()
    signed_out = response.status_code == 302 and response.location.endswith("/sign-in")
    changed = method == "POST" and response.status_code < 400 and path in SESSION_CHANGING
    return signed_out or changed


@settings(FUZZ, max_examples=700)
@given(data=st.data())
def test_review_site_answers_anyone_plainly(
    portal: Portal, reviewing: Reviewing, data: st.DataObject
) -> None:
    client = portal.review.client()
    token = token_in(send(portal.review, client, "GET", "/sign-in", counted_as=ANONYMOUS))
    for _ in range(data.draw(st.integers(1, 4))):
        review_fuzz(portal, reviewing, data, client, token, ANONYMOUS)
    portal.clock.advance(30)  # the victim's code may have been used


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


@settings(FUZZ, max_examples=900)
@given(data=st.data())
def test_review_site_answers_an_administrator_plainly(
    portal: Portal, reviewing: Reviewing, data: st.DataObject
) -> None:
    for _ in range(data.draw(st.integers(1, 5))):
        client = admin_client(portal, reviewing)
        if review_fuzz(portal, reviewing, data, client, reviewing.token, ADMINISTRATOR):
            reviewing.client = None
    trim(portal, reviewing)


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
def test_a_text_field_named_attachments_gets_a_plain_answer(
    portal: Portal, follow_up: FollowUp, form: str
) -> None:
    client = portal.submit.client()
    if form == "report":
        path, fields = "/report/other", pairs_from(answers_for("other", "text attachment"))
        token = token_in(client.get(path))
    else:
        path, fields = "/follow-up/message", [("message", "Any news?")]
        signing_in = token_in(client.get("/follow-up"))
        page = client.post(
            "/follow-up",
            data={"csrf_token": signing_in, "codename": open_report(portal, follow_up).codename},
        )
        token = token_in(page)
    body = urlencoded([("csrf_token", token or ""), *fields, ("attachments", "not a file")])

    response = client.post(path, data=body.data, content_type=body.content_type)

    assert response.status_code < 500


def test_the_fuzzers_sent_at_least_ten_thousand_requests() -> None:
    for name in (*FUZZ_TESTS, SETTING_UP):
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(STATUSES.get(name, {}).items()))
        print(f"\n{name}: {SENT[name]} requests ({statuses})")
    total = sum(SENT[name] for name in (*FUZZ_TESTS, SETTING_UP))
    print(
        f"\nfuzzing: {total} requests in all; the submission site accepted "
        f"{SENT['accepted reports']} reports and {SENT['accepted messages']} messages"
    )
    if not all(SENT[name] for name in FUZZ_TESTS):
        pytest.skip("only some of the fuzz tests ran: the total is for the whole module")
    assert total >= 10_000
