"""Hostile and broken input gets a plain answer, never a 500, and leaves nothing behind.

After every refused request the database holds no report, message or attachment, and the blob
folder holds no file, staged or published: a half-received submission leaves no trace.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import secrets
import struct
import zipfile
import zlib
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_submit_app, crypto, request_db
from portal.config import Settings
from portal.db import make_engine
from portal.models import Attachment, Message, Report, ReportContent
from portal.services.blobs import NewBlob
from portal.services.documents import unseal_document
from tests.support.pages import csrf_token
from tests.support.submitting import (
    Upload,
    answers_for,
    files_under,
    post_form,
)

MIB = 1024 * 1024
NOT_SAVED = "it has not been saved"


@pytest.fixture
def small_settings(settings: Settings) -> Settings:
    """Limits small enough to cross cheaply: 1 MiB files, two of them, 64 KiB of form."""
    return Settings(
        **{
            **settings.__dict__,
            "max_file_bytes": MIB,
            "max_files": 2,
            "max_request_bytes": 64 * 1024,
        }
    )


@pytest.fixture
def app(small_settings: Settings, role_urls: dict[str, str]) -> Iterator[Flask]:
    """The submission site, connected as it is in production (on PostgreSQL, its own role)."""
    app = create_submit_app(dataclasses.replace(small_settings, database_url=role_urls["submit"]))
    yield app
    request_db.get_engine(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def nothing_kept(small_settings: Settings) -> Iterator[None]:
    """After the test: no rows of submitted content, and no blob of any kind."""
    yield
    engine = make_engine(small_settings.database_url)
    with Session(engine) as session:
        for model in (Report, ReportContent, Message, Attachment):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model
    engine.dispose()
    if small_settings.blobs.is_dir():
        assert files_under(small_settings.blobs) == []


def assert_plain_error(response: TestResponse, status: int) -> None:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


FAILURE_DETAIL = "the storage failure's own words, which could name a path"


def assert_storage_unavailable(response: TestResponse, caplog: pytest.LogCaptureFixture) -> None:
    """A plain 503 that says nothing was saved and when to try again; the failure is logged by
    its type, without its message (which could quote a path or a value)."""
    assert_plain_error(response, 503)
    assert NOT_SAVED in response.text
    assert int(response.headers["Retry-After"]) > 0
    (logged,) = [record for record in caplog.records if "storage failed" in record.getMessage()]
    assert logged.exc_info is not None
    assert FAILURE_DETAIL not in caplog.text


@pytest.mark.usefixtures("nothing_kept")
def test_an_oversized_file_is_refused_with_a_plain_page_that_says_not_saved(
    client: FlaskClient,
) -> None:
    response = post_form(
        client,
        "/report/other",
        answers_for("other", "big"),
        [Upload(b"ok", "small.txt"), Upload(secrets.token_bytes(MIB + 1), "big.bin")],
    )

    assert_plain_error(response, 413)
    assert NOT_SAVED in response.text


@pytest.mark.usefixtures("nothing_kept")
def test_too_many_files_are_refused(client: FlaskClient) -> None:
    response = post_form(
        client,
        "/report/other",
        answers_for("other", "many"),
        [Upload(b"x", f"{number}.txt") for number in range(3)],
    )

    assert_plain_error(response, 413)
    assert NOT_SAVED in response.text


@pytest.mark.usefixtures("nothing_kept")
def test_a_field_larger_than_the_form_allows_is_refused(client: FlaskClient) -> None:
    answers = answers_for("other", "huge") | {"account": "x" * (600 * 1024)}

    response = post_form(client, "/report/other", answers)

    assert_plain_error(response, 413)


@pytest.mark.usefixtures("nothing_kept")
def test_a_field_over_its_length_limit_is_an_error_beside_the_field_and_keeps_the_text(
    client: FlaskClient,
) -> None:
    answers = answers_for("risk-rating", "long") | {"pressed_by": "manager " * 40}

    response = post_form(client, "/report/risk-rating", answers)

    assert response.status_code == 200
    assert "There is a problem" in response.text
    assert 'href="#pressed_by"' in response.text
    assert "200 characters or fewer" in response.text
    # Nothing the submitter typed is lost
    assert "so more cases can be allocated long" in response.text
    assert ("manager " * 40).strip() in response.text


@pytest.mark.usefixtures("nothing_kept")
@pytest.mark.parametrize(
    "hostile", ["nul\x00byte", "bell\x07", "escape\x1b[31m"], ids=["nul", "bell", "escape"]
)
def test_control_characters_are_an_error_not_stored(client: FlaskClient, hostile: str) -> None:
    response = post_form(client, "/report/other", answers_for("other", "x") | {"account": hostile})

    assert response.status_code == 200
    assert "characters that cannot be read" in response.text


def test_invalid_utf8_in_an_urlencoded_form_is_kept_visibly_escaped_not_lost(
    client: FlaskClient, small_settings: Settings, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a url-encoded form (browsers send these forms as multipart; a script might not)
    # whose text holds bytes that are not UTF-8
    token = csrf_token(client.get("/report/other"))
    body = b"csrf_token=" + token.encode() + b"&urgent=no&account=caf%C3%A9%FF%FEbroken"

    response = client.post(
        "/report/other", data=body, content_type="application/x-www-form-urlencoded"
    )

    # Then nothing crashes, and the undecodable bytes are kept as visible %XX escapes
    assert response.status_code == 200
    engine = make_engine(small_settings.database_url)
    with Session(engine) as session:
        report = session.scalars(select(Report)).one()
        answers = unseal_document(report.content, [inspectorate_identity])["answers"]
    engine.dispose()
    assert answers["account"] == "caf\u00e9%FF%FEbroken"


@pytest.mark.usefixtures("nothing_kept")
def test_invalid_utf8_in_a_multipart_field_is_an_error_not_stored(client: FlaskClient) -> None:
    token = csrf_token(client.get("/report/other"))
    boundary = "hostile-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="urgent"\r\n\r\nno\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="account"\r\n\r\n'
        ).encode()
        + b"bad \xff\xfe bytes\r\n"
        + f"--{boundary}--\r\n".encode()
    )

    response = client.post(
        "/report/other", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert response.status_code == 200
    assert "characters that cannot be read" in response.text


@pytest.mark.usefixtures("nothing_kept")
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"account": "x", "urgent": "no"}'),
        ("text/plain", b"account=x&urgent=no"),
        ("application/xml", b"<report><account>x</account></report>"),
        ("multipart/form-data", b"no boundary at all"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nbroken"),
    ],
    ids=["json", "text", "xml", "multipart-without-boundary", "broken-multipart"],
)
def test_wrong_content_types_get_a_plain_400(
    client: FlaskClient, content_type: str, body: bytes
) -> None:
    client.get("/report/other")

    response = client.post("/report/other", data=body, content_type=content_type)

    assert_plain_error(response, 400)
    assert NOT_SAVED in response.text


@pytest.mark.usefixtures("nothing_kept")
def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/report/other")

    response = client.post(
        "/report/other",
        data={**answers_for("other", "no-token"), "attachments": (io.BytesIO(b"f"), "f.txt")},
        content_type="multipart/form-data",
    )

    assert_plain_error(response, 400)
    assert NOT_SAVED in response.text


def test_a_replayed_form_is_refused_and_stores_nothing_more(
    client: FlaskClient, small_settings: Settings
) -> None:
    token = csrf_token(client.get("/report/other"))
    data = {"csrf_token": token, **answers_for("other", "replay")}

    first = client.post("/report/other", data=data, content_type="multipart/form-data")
    replay = client.post("/report/other", data=data, content_type="multipart/form-data")

    assert first.status_code == 200
    assert_plain_error(replay, 400)
    assert NOT_SAVED in replay.text
    engine = make_engine(small_settings.database_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1
    engine.dispose()


@pytest.mark.usefixtures("nothing_kept")
def test_a_body_that_breaks_off_midway_leaves_nothing(client: FlaskClient) -> None:
    # Given a multipart body announcing more than it delivers, cut inside a file
    token = csrf_token(client.get("/report/other"))
    boundary = "cut-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="urgent"\r\n\r\nno\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode() + secrets.token_bytes(200_000)

    # When it is posted with a Content-Length promising twice as much
    response = client.post(
        "/report/other",
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Content-Length": str(2 * len(body))},
    )

    # Then the answer is plain, and (checked by the fixture) nothing was kept
    assert_plain_error(response, 400)
    assert NOT_SAVED in response.text


@pytest.mark.usefixtures("nothing_kept")
@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, FAILURE_DETAIL),
        OperationalError("COMMIT", {}, Exception(FAILURE_DETAIL)),
    ],
    ids=["disk-full", "database-gone"],
)
def test_a_storage_failure_tells_the_truth_and_leaves_nothing(
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
) -> None:
    # Given a database that fails at the moment of commit
    def fail_commit(self: Session) -> None:
        raise failure

    monkeypatch.setattr(Session, "commit", fail_commit)

    # When a report with a file is sent
    response = post_form(
        client, "/report/other", answers_for("other", "fails"), [Upload(b"kept?", "f.txt")]
    )

    # Then the submitter is told it was not saved; the blob published for it is gone again
    assert_storage_unavailable(response, caplog)
    monkeypatch.undo()


@pytest.mark.usefixtures("nothing_kept")
def test_an_unusable_blob_folder_tells_the_truth_and_leaves_nothing(
    client: FlaskClient, small_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a blob folder that cannot be written (a file stands where it should be; tests run
    # as root, for whom permissions alone would not stop a write)
    small_settings.blobs.parent.mkdir(parents=True, exist_ok=True)
    small_settings.blobs.write_bytes(b"")
    try:
        response = post_form(
            client, "/report/other", answers_for("other", "ro"), [Upload(b"data", "f.txt")]
        )
    finally:
        small_settings.blobs.unlink()

    assert_storage_unavailable(response, caplog)


@pytest.mark.usefixtures("nothing_kept")
def test_a_disk_that_fills_up_mid_upload_tells_the_truth_and_leaves_nothing(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a disk with room for 300 KB of blobs
    room = {"left": 300_000}
    original_write = NewBlob.write

    def write_until_full(self: NewBlob, data: bytes) -> int:
        room["left"] -= len(data)
        if room["left"] < 0:
            raise OSError(errno.ENOSPC, FAILURE_DETAIL)
        return original_write(self, data)

    monkeypatch.setattr(NewBlob, "write", write_until_full)

    # When a report with a 900 KB file is sent
    response = post_form(
        client,
        "/report/other",
        answers_for("other", "full"),
        [Upload(secrets.token_bytes(900_000), "big.bin")],
    )

    # Then the submitter is told it was not saved, and the partial blob is gone
    assert_storage_unavailable(response, caplog)


def _zip_bomb() -> bytes:
    """A Word-looking ZIP whose one part unpacks to 20 MiB of zeros from about 20 KB."""
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("docProps/core.xml", "<cp:coreProperties/>")
        archive.writestr("word/document.xml", b"\x00" * (20 * MIB))
    return output.getvalue()


def _png_bomb() -> bytes:
    """A PNG declaring 8192 x 8192 pixels whose image data inflates to 64 MiB from ~65 KB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    squeezer = zlib.compressobj(9)
    row = b"\x00" * 8193
    image_data = b"".join(squeezer.compress(row) for _ in range(8192)) + squeezer.flush()
    header = struct.pack(">IIBBBBB", 8192, 8192, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", image_data)
        + chunk(b"IEND", b"")
    )


def test_zip_and_image_bombs_are_stored_unopened_and_whole(
    client: FlaskClient, small_settings: Settings, inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given files that would take gigabytes to unpack or decode
    bombs = {"minutes.docx": _zip_bomb(), "photo.png": _png_bomb()}
    assert all(len(bomb) < MIB for bomb in bombs.values())

    # When they are sent with a report
    response = post_form(
        client,
        "/report/other",
        answers_for("other", "bombs"),
        [Upload(content, name) for name, content in bombs.items()],
    )

    # Then the report is stored, and each file is kept exactly as sent, never unpacked
    assert response.status_code == 200
    engine = make_engine(small_settings.database_url)
    with Session(engine) as session:
        attachments = session.scalars(select(Attachment)).all()
        stored = {}
        for attachment in attachments:
            details = unseal_document(attachment.details, [inspectorate_identity])
            blob = small_settings.blobs / f"{attachment.id}.age"
            stored[details["name"]] = (
                crypto.decrypt(blob.read_bytes(), [inspectorate_identity]),
                details,
            )
    engine.dispose()
    assert {name: content for name, (content, _) in stored.items()} == bombs
    assert stored["minutes.docx"][1]["metadata_removed"] is False
    assert stored["photo.png"][1]["format"] == "png"
