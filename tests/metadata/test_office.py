"""Office stripping: document properties blanked, pictures cleaned, ZIP bombs left unopened."""

from __future__ import annotations

import io
import warnings
import xml.etree.ElementTree as ET
import zipfile

import pytest
from PIL import Image

from portal.metadata import StripOutcome, filter_for
from portal.metadata.office import MAX_ENTRIES
from tests.metadata.samples import (
    BUFFER_LIMIT,
    CONTENT_TYPES,
    DOCUMENT,
    OFFICE_CANARIES,
    docx,
    docx_parts,
    office_file,
    picture,
    png,
    strip,
)

CORE_NAMESPACE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
APP_NAMESPACE = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
CUSTOM_NAMESPACE = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"


def unpacked(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {entry.filename: archive.read(entry) for entry in archive.infolist()}


def root_tag(xml: bytes) -> str:
    return ET.fromstring(xml).tag  # noqa: S314 - the portal's own output, in a test


def test_document_properties_are_blanked_and_the_photo_cleaned() -> None:
    # Given a Word document with author, last editor, company, manager, a custom property, and a
    # photo carrying EXIF
    original = docx()
    parts = unpacked(original)
    assert all(canary in b"".join(parts.values()) for canary in OFFICE_CANARIES)

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then no canary is left in any part, and each properties part is a valid empty document
    cleaned_parts = unpacked(cleaned)
    assert not [c for c in OFFICE_CANARIES if c in b"".join(cleaned_parts.values())]
    assert root_tag(cleaned_parts["docProps/core.xml"]) == f"{{{CORE_NAMESPACE}}}coreProperties"
    assert root_tag(cleaned_parts["docProps/app.xml"]) == f"{{{APP_NAMESPACE}}}Properties"
    assert root_tag(cleaned_parts["docProps/custom.xml"]) == f"{{{CUSTOM_NAMESPACE}}}Properties"
    # And the parts are the same, in the same order, the text untouched
    assert list(cleaned_parts) == list(parts)
    assert cleaned_parts["word/document.xml"] == DOCUMENT
    with Image.open(io.BytesIO(cleaned_parts["word/media/image1.jpeg"])) as image:
        assert not image.getexif()
        with Image.open(io.BytesIO(parts["word/media/image1.jpeg"])) as before:
            assert image.tobytes() == before.tobytes()
    assert outcome == StripOutcome(
        "docx", True, "Picture metadata and document properties removed."
    )


def test_entry_times_extra_fields_and_comments_are_dropped() -> None:
    # Given a document whose ZIP entries carry times, comments and an archive comment
    original = docx()
    assert b"CANARY-ENTRY-COMMENT" in original
    assert b"CANARY-ARCHIVE-COMMENT" in original

    # When it is stripped
    cleaned, _ = strip(original)

    # Then every entry is dated 1980-01-01, with no extra field or comment
    assert b"CANARY-ENTRY-COMMENT" not in cleaned
    assert b"CANARY-ARCHIVE-COMMENT" not in cleaned
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert not any(entry.extra or entry.comment for entry in archive.infolist())


def test_the_folder_an_excel_workbook_was_saved_in_is_removed() -> None:
    # Given a workbook that records the folder it was saved in (Excel's absPath)
    workbook = (
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        b' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        b'<mc:AlternateContent><mc:Choice Requires="x15ac"><x15ac:absPath'
        b' url="C:\\Users\\CANARY-USER\\Documents\\"'
        b' xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"/>'
        b"</mc:Choice></mc:AlternateContent><sheets/></workbook>"
    )
    original = office_file([("[Content_Types].xml", CONTENT_TYPES), ("xl/workbook.xml", workbook)])

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then the path is emptied and the rest of the workbook kept
    assert unpacked(cleaned)["xl/workbook.xml"] == workbook.replace(
        b"C:\\Users\\CANARY-USER\\Documents\\", b""
    )
    assert outcome == StripOutcome("xlsx", True, "The folder it was saved in removed.")


def test_names_in_comments_and_tracked_changes_are_reported() -> None:
    # Given a document with a tracked change, which names its author in the text
    document = DOCUMENT.replace(
        b"<w:r>", b'<w:ins w:id="1" w:author="CANARY-EDITOR" w:date="2025-03-14T12:00:00Z"><w:r>'
    ).replace(b"</w:r>", b"</w:r></w:ins>")
    parts = [(n, document if n == "word/document.xml" else d) for n, d in docx_parts()]

    # When it is stripped
    cleaned, outcome = strip(office_file(parts))

    # Then the reviewer is told that names may remain
    assert b"CANARY-EDITOR" in unpacked(cleaned)["word/document.xml"]
    assert outcome == StripOutcome(
        "docx",
        False,
        "Picture metadata and document properties removed. "
        "Names may remain in comments or tracked changes.",
    )


@pytest.mark.parametrize(
    ("top", "kind"), [("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"), ("other/", "office")]
)
def test_the_kind_of_document_is_told_by_its_parts(top: str, kind: str) -> None:
    # Given a package whose main part is in `top`
    original = office_file([("[Content_Types].xml", CONTENT_TYPES), (f"{top}main.xml", b"<x/>")])

    # When it is stripped, Then its kind is named
    assert strip(original)[1] == StripOutcome(kind, True, "No metadata found.")


def test_a_zip_that_is_not_an_office_document_passes_through_unchanged() -> None:
    # Given an ordinary ZIP archive
    original = office_file([("notes.txt", b"CANARY-AUTHOR wrote this")])

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then it is stored as received and reported as an unknown format
    assert cleaned == original
    assert outcome == StripOutcome(
        "unknown",
        False,
        "Format not recognised (a ZIP archive): any metadata in this file remains.",
    )


def test_a_zip_bomb_is_not_unpacked() -> None:
    # Given a document whose parts unpack to more than ten times the buffer limit
    bomb = b"\x00" * (10 * BUFFER_LIMIT + 1)
    original = office_file([*docx_parts(), ("word/padding.bin", bomb)])
    assert len(original) < BUFFER_LIMIT // 10

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then it is stored as received
    assert cleaned == original
    assert outcome == StripOutcome(
        "docx", False, "Unpacks to more than 10 MB: stored as received; metadata may remain."
    )


def test_an_archive_with_too_many_entries_is_not_unpacked() -> None:
    # Given a document with more entries than the limit
    padding = [(f"word/{number}.xml", b"") for number in range(MAX_ENTRIES)]
    original = office_file([*docx_parts(), *padding])
    limit = 2 * len(original)

    # When it is stripped
    cleaned, outcome = strip(original, buffer_limit=limit)

    # Then it is stored as received
    assert cleaned == original
    assert outcome == StripOutcome(
        "docx", False, "Has more than 10,000 parts: stored as received; metadata may remain."
    )


def test_an_archive_with_two_parts_of_the_same_name_is_not_unpacked() -> None:
    # Given a document with two core.xml parts (ZIP readers disagree on which one counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate
        original = office_file([*docx_parts(), ("docProps/core.xml", b"<second/>")])

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then it is stored as received
    assert cleaned == original
    assert outcome == StripOutcome(
        "docx", False, "Has two parts with the same name: stored as received; metadata may remain."
    )


def test_a_damaged_archive_passes_through_unchanged() -> None:
    # Given a document whose compressed text was damaged after it was written
    original = bytearray(docx())
    text = original.index(b"word/document.xml") + len(b"word/document.xml") + 5
    original[text] ^= 0xFF
    damaged = bytes(original)

    # When it is stripped
    cleaned, outcome = strip(damaged)

    # Then it is stored as received
    assert cleaned == damaged
    assert outcome == StripOutcome(
        "docx",
        False,
        "Could not be unpacked: stored as received; metadata may remain.",
    )


def test_an_office_document_larger_than_the_buffer_limit_streams_through_unchanged() -> None:
    # Given a document larger than the buffer limit
    original = docx()
    cleaner = filter_for(original, buffer_limit=len(original) // 2)

    # When it is stripped
    cleaned = cleaner.feed(original) + cleaner.finish()

    # Then it is stored as received
    assert cleaned == original
    assert not cleaner.outcome.stripped
    assert cleaner.outcome.format == "office"
    assert cleaner.outcome.note.startswith("Office document too large to clean (over ")


def test_a_png_picture_in_a_document_is_cleaned_too() -> None:
    # Given a presentation holding a PNG with a text chunk
    original = office_file(
        [("[Content_Types].xml", CONTENT_TYPES), ("ppt/media/image1.png", png())]
    )

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then the picture lost its text and kept its pixels
    with Image.open(io.BytesIO(unpacked(cleaned)["ppt/media/image1.png"])) as image:
        assert not image.text
        assert image.tobytes() == picture().tobytes()
    assert outcome == StripOutcome("pptx", True, "Picture metadata removed.")
