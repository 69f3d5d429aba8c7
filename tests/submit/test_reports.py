"""Sending reports as plain HTML forms: what is stored is ciphertext of exactly what was sent.

Unique canary strings go into every free-text answer and inside every file. Afterwards, nothing
the portal keeps (database, blob folder, instance folder), nothing in the temporary folder and
nothing in the logs may contain them, or the client's address or browser; and every stored blob
must decrypt with the inspectorate's identity to exactly what was sent.
"""

from __future__ import annotations

import datetime
import io
import logging
import secrets
import tempfile
from pathlib import Path

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto
from portal.config import Settings
from portal.models import Attachment, Report, ReportKind
from portal.services.blobs import BlobStore
from portal.services.documents import unseal_document
from tests.support.pages import codename_in
from tests.support.submitting import (
    Upload,
    answers_for,
    everything_stored,
    files_under,
    post_form,
)

CLIENT_ADDRESS = "203.0.113.77"
CLIENT_BROWSER = "CanaryBrowser/9.9 (unique-agent-5e1d)"
KINDS = {
    "risk-rating": ReportKind.RISK_RATING,
    "workload": ReportKind.WORKLOAD,
    "other": ReportKind.OTHER,
}
GPS_INFO_TAG = 0x8825
ARTIST_TAG = 0x013B


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of the test's own, so anything written to it can be inspected."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def client(submit_app: Flask) -> FlaskClient:
    client = submit_app.test_client()
    client.environ_base.update(REMOTE_ADDR=CLIENT_ADDRESS, HTTP_USER_AGENT=CLIENT_BROWSER)
    return client


def jpeg_with_gps(canary: str) -> bytes:
    image = Image.new("RGB", (32, 24), (200, 30, 90))
    exif = Image.Exif()
    exif[ARTIST_TAG] = canary
    exif.get_ifd(GPS_INFO_TAG).update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    output = io.BytesIO()
    image.save(output, "JPEG", exif=exif, quality=90)
    return output.getvalue()


def pdf_with_author(canary: str) -> bytes:
    document = pikepdf.new()
    document.add_blank_page()
    document.docinfo["/Author"] = canary
    document.docinfo["/Title"] = canary
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


@pytest.mark.parametrize("slug", sorted(KINDS))
def test_each_kind_of_report_is_stored_as_ciphertext_of_exactly_what_was_sent(
    slug: str,
    client: FlaskClient,
    settings: Settings,
    session: Session,
    inspectorate_identity: crypto.HybridIdentity,
    private_tmp: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{secrets.token_hex(8)}"
    answers = answers_for(slug, canary)
    uploads = [
        Upload(f"notes {canary}\n".encode() * 5000, "notes.txt", "text/plain"),
        Upload(secrets.token_bytes(70_000) + canary.encode(), "export.bin"),
    ]

    # When the form is posted with its files
    response = post_form(client, f"/report/{slug}", answers, uploads)

    # Then the submitter sees a codename
    assert response.status_code == 200
    codename = codename_in(response)
    assert len(codename.split()) == 8

    # And one report is stored with only triage data in the clear
    report = session.scalars(select(Report)).one()
    assert report.kind is KINDS[slug]
    assert report.urgent is False
    assert report.region == "wales"
    assert report.received_on == datetime.datetime.now(datetime.UTC).date()
    assert codename.encode() not in report.codename_hash

    # And its content decrypts to exactly the answers sent
    document = unseal_document(report.content, [inspectorate_identity])
    sent = {name: value for name, value in answers.items() if name not in {"region", "urgent"}}
    for name, value in sent.items():
        expected = int(value) if name in {"caseload", "capacity", "when_year"} else value
        assert document["answers"][name] == expected, name
    assert (document["kind"], document["region"], document["urgent"]) == (
        KINDS[slug].value,
        "wales",
        False,
    )

    # And every file decrypts to exactly what was sent, named as it was sent
    attachments = session.scalars(select(Attachment)).all()
    blobs = BlobStore(settings.blobs)
    received = {}
    for attachment in attachments:
        details = unseal_document(attachment.details, [inspectorate_identity])
        content = crypto.decrypt(blobs.path_of(attachment.id).read_bytes(), [inspectorate_identity])
        received[details["name"]] = (content, details)
    assert {name: content for name, (content, _) in received.items()} == {
        upload.name: upload.content for upload in uploads
    }
    assert received["notes.txt"][1]["content_type"] == "text/plain"
    assert received["notes.txt"][1]["metadata_removed"] is False
    assert sorted(path.name for path in files_under(settings.blobs)) == sorted(
        f"{attachment.id}.age" for attachment in attachments
    )

    # And nothing kept anywhere holds the plaintext, the client's address or its browser
    stored = everything_stored(settings)
    logs = caplog.text + "".join(capfd.readouterr())
    for secret in (canary, CLIENT_ADDRESS, CLIENT_BROWSER, codename):
        assert secret.encode() not in stored
        assert secret not in logs
    assert files_under(private_tmp) == []


def test_an_urgent_report_is_flagged_and_the_submitter_is_told_to_call_999(
    client: FlaskClient, session: Session
) -> None:
    answers = answers_for("other", "urgent-canary") | {"urgent": "yes"}

    response = post_form(client, "/report/other", answers)

    assert response.status_code == 200
    assert "call 999" in response.text
    assert session.scalars(select(Report)).one().urgent is True


def test_the_region_is_optional(client: FlaskClient, session: Session) -> None:
    answers = answers_for("other", "no-region") | {"region": ""}

    response = post_form(client, "/report/other", answers)

    assert response.status_code == 200
    assert session.scalars(select(Report)).one().region is None


def test_gps_exif_and_pdf_author_are_gone_after_decryption(
    client: FlaskClient, session: Session, inspectorate_identity: crypto.HybridIdentity
) -> None:
    canary = f"canary-{secrets.token_hex(8)}"
    photo, pdf = jpeg_with_gps(canary), pdf_with_author(canary)
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS_INFO_TAG)  # the test's premise

    # When a photo with GPS EXIF and a PDF with an author are sent
    response = post_form(
        client,
        "/report/other",
        answers_for("other", "with-files"),
        [Upload(photo, "photo.jpg", "image/jpeg"), Upload(pdf, "memo.pdf", "application/pdf")],
    )
    assert response.status_code == 200

    # Then, decrypted, the photo has no EXIF at all and the PDF no author, and both still open
    files = {}
    for attachment in session.scalars(select(Attachment)):
        details = unseal_document(attachment.details, [inspectorate_identity])
        blob = Path(client.application.extensions["portal.uploads"].store.path_of(attachment.id))
        files[details["name"]] = (
            crypto.decrypt(blob.read_bytes(), [inspectorate_identity]),
            details,
        )
    cleaned_photo, photo_details = files["photo.jpg"]
    cleaned_pdf, pdf_details = files["memo.pdf"]
    image = Image.open(io.BytesIO(cleaned_photo))
    assert image.size == (32, 24)
    assert not image.getexif()
    assert canary.encode() not in cleaned_photo
    with pikepdf.open(io.BytesIO(cleaned_pdf)) as document:
        assert len(document.pages) == 1
        assert "/Author" not in document.docinfo
    assert canary.encode() not in cleaned_pdf
    assert photo_details["metadata_removed"] is True
    assert pdf_details["metadata_removed"] is True
    assert (photo_details["format"], pdf_details["format"]) == ("jpeg", "pdf")


def test_no_upload_is_ever_spooled_to_a_temporary_file(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an upload was about to be written to a temporary file")

    # Given every way Python and Werkzeug make temporary files forbidden
    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    monkeypatch.setattr("werkzeug.formparser.default_stream_factory", refuse)

    # When a report with a 3 MB file is sent
    response = post_form(
        client,
        "/report/other",
        answers_for("other", "large-file"),
        [Upload(secrets.token_bytes(3 * 1024 * 1024), "large.bin")],
    )

    # Then it was stored all the same
    assert response.status_code == 200
    assert session.scalars(select(Attachment)).one()


def test_each_report_gets_its_own_codename(client: FlaskClient, session: Session) -> None:
    codenames = {
        codename_in(post_form(client, "/report/other", answers_for("other", str(number))))
        for number in range(3)
    }

    assert len(codenames) == 3
    assert len(set(session.scalars(select(Report.codename_hash)))) == 3


def test_choosing_a_kind_leads_to_its_form(client: FlaskClient) -> None:
    response = post_form(client, "/report", {"kind": "workload"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/report/workload")


def test_an_unknown_kind_of_report_is_not_found(client: FlaskClient) -> None:
    assert client.get("/report/anything").status_code == 404
