"""Hypothesis strategies for fuzzing the portal's two sites, and what a fuzz campaign keeps.

Requests are drawn random in every part a client controls: field names and values (control
characters, unicode, bytes that are not UTF-8, strings far over every limit), files with random
names, types and contents (damaged JPEG, PNG, PDF and Word files for the metadata filters),
bodies encoded as a browser would or some other way (cut off midway, raw bytes of other types),
query strings, paths below the known ones, and the session's CSRF token sent, left out, forged
or repeated. tests/reliability/test_fuzz.py sends them and judges the answers.

The fuzzed sites are given small limits (`MAX_REQUEST_BYTES`, `MAX_FILE_BYTES`, `MAX_FILES`),
so that the strategies can cross every one of them cheaply.
"""

from __future__ import annotations

import re
import traceback
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote_from_bytes

from flask import Flask, got_request_exception, template_rendered
from flask.testing import FlaskClient
from hypothesis import strategies as st

from tests.metadata import samples

KIB = 1024
MAX_REQUEST_BYTES = 64 * KIB
MAX_FILE_BYTES = 256 * KIB
MAX_FILES = 2

Pairs = list[tuple[str, str | bytes]]


# ---------------------------------------------------------------------------------------------
# What a campaign sent, and what each request made the app do


@dataclass
class Tally:
    """The requests one fuzz campaign sent, by the status of their answers, and what the
    submission site accepted from them. Each campaign has its own, so that whoever runs the
    campaigns can add them up without counters shared between tests."""

    name: str
    statuses: Counter[int] = field(default_factory=Counter)
    accepted_reports: int = 0
    accepted_messages: int = 0

    @property
    def sent(self) -> int:
        return self.statuses.total()

    def __str__(self) -> str:
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items()))
        return f"{self.name}: {self.sent} requests ({statuses})"


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
class Body:
    """A request body as sent, and how many files it carries (the most it may store)."""

    data: bytes | None = None
    content_type: str | None = None
    files: int = 0


NO_BODY = Body()


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


def as_bytes(value: str | bytes) -> bytes:
    """`value` as a client would send it: text as UTF-8, keeping lone surrogates (drawn on
    purpose, to make bytes that are not valid UTF-8) rather than failing on them."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _name(name: str | bytes) -> bytes:
    """A field name that keeps its part's `name` parameter whole (a part with no name at all is
    tested on its own: test_fuzz.py's test_a_multipart_part_without_a_name_gets_a_plain_400)."""
    return re.sub(rb'["\r\n]', b"_", as_bytes(name))


def _filename(name: str) -> bytes:
    """A file name that keeps its part a file (a line break would end the header early and make
    it a text field named `attachments`: test_fuzz.py's
    test_a_text_field_named_attachments_gets_a_plain_answer covers that)."""
    return re.sub(rb"[\r\n]", b"_", as_bytes(name))


def multipart(pairs: Pairs, parts: list[FilePart]) -> Body:
    boundary = b"fuzz-boundary-7d3c"
    encoded = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary, _name(name), as_bytes(value))
        for name, value in pairs
    ]
    encoded += [
        b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
        b"Content-Type: %s\r\n\r\n%s\r\n"
        % (
            boundary,
            _name(part.field),
            _filename(part.name),
            as_bytes(part.content_type),
            part.content,
        )
        for part in parts
    ]
    data = b"".join(encoded) + b"--%s--\r\n" % boundary
    return Body(data, f"multipart/form-data; boundary={boundary.decode()}", len(parts))


def urlencoded(pairs: Pairs) -> Body:
    data = "&".join(
        f"{quote_from_bytes(as_bytes(name))}={quote_from_bytes(as_bytes(value))}"
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
        f"{quote_from_bytes(as_bytes(k))}={quote_from_bytes(as_bytes(v))}" for k, v in pairs.items()
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
    pairs = [pair for pair in pairs if not as_bytes(pair[0]).endswith(b"csrf_token")]
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
