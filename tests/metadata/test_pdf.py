"""PDF stripping: properties, XMP, identifiers, photo EXIF and comment authors gone; pages kept."""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image

from portal.metadata import StripOutcome, filter_for
from tests.metadata.samples import PDF_CANARIES, pdf, pdf_contents, picture, strip


def open_pdf(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def pdf_outcome(note: str, *, stripped: bool = True) -> StripOutcome:
    return StripOutcome("pdf", stripped, note)


def test_properties_xmp_private_data_photo_exif_and_comment_authors_are_removed() -> None:
    # Given a two-page PDF with all of them
    original = pdf()
    assert all(canary in original for canary in PDF_CANARIES)

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then no canary is left in the file, nor in any object or decoded stream
    contents = pdf_contents(cleaned)
    assert not [canary for canary in PDF_CANARIES if canary in contents]
    with open_pdf(cleaned) as document:
        # And the pages, the comment's text and the form field's name remain
        assert len(document.pages) == 2
        assert pikepdf.Name.Info not in document.trailer  # so no Producer either
        assert pikepdf.Name.Metadata not in document.Root
        comment, field = document.pages[0].obj.Annots
        assert str(comment.Contents) == "The comment itself stays."
        assert str(field.T) == "case_reference"
        # And the photo still decodes to the same pixels, without its EXIF
        photo = document.pages[0].obj.Resources.XObject.Im0.read_raw_bytes()
    with Image.open(io.BytesIO(photo)) as image:
        assert not image.getexif()
        assert image.tobytes() == _decoded_photo(original)
    assert outcome == pdf_outcome(
        "Document properties, XMP, application data, image metadata and comment authors removed."
    )


def test_the_file_identifier_is_replaced() -> None:
    # Given a PDF whose /ID is the same in every copy of the original document
    original = pdf()
    with open_pdf(original) as document:
        original_id = bytes(document.trailer.ID[0])

    # When it is stripped
    cleaned, _ = strip(original)

    # Then the identifier no longer links the upload to the original file
    with open_pdf(cleaned) as document:
        assert bytes(document.trailer.ID[0]) != original_id
    assert original_id not in cleaned


def test_earlier_revisions_kept_by_an_incremental_update_are_dropped() -> None:
    # Given a PDF whose page text was replaced by an incremental update (the old text, the
    # kind of thing a submitter deletes before sending, is still in the file)
    document = pikepdf.new()
    document.add_blank_page()
    document.pages[0].obj.Contents = document.make_stream(b"BT (CANARY-DELETED-TEXT) Tj ET")
    first = io.BytesIO()
    document.save(first, compress_streams=False)
    with open_pdf(first.getvalue()) as saved:
        number = saved.pages[0].obj.Contents.objgen[0]
    revised = _append_revision(first.getvalue(), number, b"BT (What I want to send) Tj ET")
    with open_pdf(revised) as reopened:
        assert reopened.pages[0].obj.Contents.read_bytes() == b"BT (What I want to send) Tj ET"
    assert b"CANARY-DELETED-TEXT" in revised

    # When it is stripped
    cleaned, _ = strip(revised)

    # Then only the current revision is left
    assert b"CANARY-DELETED-TEXT" not in pdf_contents(cleaned)
    with open_pdf(cleaned) as reopened:
        assert reopened.pages[0].obj.Contents.read_bytes() == b"BT (What I want to send) Tj ET"


def _append_revision(original: bytes, number: int, content: bytes) -> bytes:
    """`original` with an incremental update that replaces object `number` by a new stream."""
    previous = int(original.rsplit(b"startxref", 1)[1].split()[0])
    with open_pdf(original) as document:
        size, root = int(document.trailer.Size), document.Root.objgen[0]
    obj = b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        number,
        len(content),
        content,
    )
    xref = len(original) + len(obj)
    return (
        original
        + obj
        + (
            b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %d 0 R /Prev %d >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (number, len(original), size, root, previous, xref)
        )
    )


def test_a_pdf_without_metadata_is_cleaned_with_nothing_to_report() -> None:
    # Given a PDF with no document properties or XMP
    document = pikepdf.new()
    document.add_blank_page()
    encoded = io.BytesIO()
    document.save(encoded)

    # When it is stripped
    cleaned, outcome = strip(encoded.getvalue())

    # Then it still opens, and the reviewer is told there was nothing to remove
    with open_pdf(cleaned) as reopened:
        assert len(reopened.pages) == 1
    assert outcome == pdf_outcome("No metadata found.")


@pytest.mark.parametrize(
    ("encryption", "note"),
    [
        (pikepdf.Encryption(owner="owner", user="user"), "Password-protected PDF"),
        (pikepdf.Encryption(owner="owner", user=""), "Encrypted PDF"),
    ],
    ids=["user password", "owner password only"],
)
def test_an_encrypted_pdf_passes_through_unchanged(
    encryption: pikepdf.Encryption, note: str
) -> None:
    # Given an encrypted PDF with an author
    document = pikepdf.new()
    document.add_blank_page()
    document.docinfo[pikepdf.Name.Author] = "CANARY-AUTHOR"
    encoded = io.BytesIO()
    document.save(encoded, encryption=encryption)

    # When it is stripped
    cleaned, outcome = strip(encoded.getvalue())

    # Then it is stored as received: it cannot be cleaned without removing the encryption
    assert cleaned == encoded.getvalue()
    assert outcome == pdf_outcome(
        f"{note}: stored as received; metadata may remain.", stripped=False
    )


def test_a_file_pikepdf_cannot_read_passes_through_unchanged() -> None:
    # Given bytes that start like a PDF and are not one
    damaged = b"%PDF-1.7\nCANARY-AUTHOR and nothing a PDF reader could use\n"

    # When they are stripped
    cleaned, outcome = strip(damaged)

    # Then they reach the reviewer unchanged
    assert cleaned == damaged
    assert outcome == pdf_outcome(
        "Could not be read as a PDF: stored as received; metadata may remain.", stripped=False
    )


def test_a_damaged_pdf_that_qpdf_repairs_is_cleaned_and_the_repair_reported() -> None:
    # Given a PDF whose cross-reference offset is wrong
    original = pdf()
    damaged = original.replace(b"startxref\n", b"startxref\n9")

    # When it is stripped
    cleaned, outcome = strip(damaged)

    # Then the repaired file is clean, and the reviewer is told it was repaired
    assert not [canary for canary in PDF_CANARIES if canary in pdf_contents(cleaned)]
    with open_pdf(cleaned) as document:
        assert len(document.pages) == 2
    assert outcome.stripped
    assert outcome.note.endswith("The PDF was damaged and has been repaired.")


def test_a_pdf_larger_than_the_buffer_limit_streams_through_unchanged() -> None:
    # Given a PDF larger than the buffer limit
    original = pdf()
    limit = len(original) // 3
    cleaner = filter_for(original, buffer_limit=limit)

    # When it is fed in pieces
    passed = [cleaner.feed(original[start : start + 100]) for start in range(0, len(original), 100)]
    passed.append(cleaner.finish())

    # Then nothing is held past the limit, and it passes through unchanged
    assert not any(passed[: limit // 100])
    assert all(passed[limit // 100 + 1 : -1])
    assert b"".join(passed) == original
    assert cleaner.outcome == pdf_outcome(
        f"PDF too large to clean (over {limit / 1_000_000:.3g} MB): "
        "stored as received; metadata may remain.",
        stripped=False,
    )


def test_an_embedded_jpeg_that_cannot_be_read_is_reported() -> None:
    # Given a PDF whose only image claims to be a JPEG and is not one
    document = pikepdf.new()
    document.add_blank_page()
    document.pages[0].obj.Resources = pikepdf.Dictionary(
        XObject=pikepdf.Dictionary(
            Im0=pikepdf.Stream(document, b"\xff\xd8\xffCANARY", Filter=pikepdf.Name.DCTDecode)
        )
    )
    encoded = io.BytesIO()
    document.save(encoded)

    # When it is stripped
    cleaned, outcome = strip(encoded.getvalue())

    # Then the image is kept as it was, and the reviewer is told metadata may remain in it
    with open_pdf(cleaned) as reopened:
        image = reopened.pages[0].obj.Resources.XObject.Im0
        assert image.read_raw_bytes() == b"\xff\xd8\xffCANARY"
    assert outcome == pdf_outcome(
        "No metadata found. 1 embedded image(s) could not be read: metadata may remain in them.",
        stripped=False,
    )


def _decoded_photo(original: bytes) -> bytes:
    with open_pdf(original) as document:
        photo = document.pages[0].obj.Resources.XObject.Im0.read_raw_bytes()
    with Image.open(io.BytesIO(photo)) as image:
        assert image.size == picture().size
        return image.tobytes()
