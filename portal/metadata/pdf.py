"""PDF: remove document properties, XMP, file identifiers, image EXIF and comment authors.

pikepdf (qpdf underneath) opens the file from memory and writes it back to memory; nothing
touches the disk. What goes:

* the document information dictionary (Author, Creator, Producer, Title, dates...);
* every XMP metadata stream (/Metadata on the catalogue, pages, images, fonts...), /PieceInfo,
  the private data that authoring applications attach, and its /LastModified dates;
* the trailer's /ID, which is the same in every copy and revision of a document and can link the
  upload to the original file; a new one is derived from the cleaned content instead;
* metadata segments in embedded JPEG images (photos keep their EXIF and GPS inside a PDF);
* the author (/T) and dates of markup annotations: reviewers' comments carry their login name;
* earlier revisions kept by incremental updates: qpdf writes only the current document.

qpdf repairs damaged files while reading them; the repaired, cleaned file is what is kept, since
keeping the original would keep its metadata too. Encrypted files pass through unchanged: they
cannot be cleaned without removing the encryption.
"""

from __future__ import annotations

import io
from typing import cast

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

from portal.metadata.buffered import BufferedFilter
from portal.metadata.jpeg import JpegFilter
from portal.metadata.outcome import StripOutcome, removed_sentence

MAGIC = b"%PDF-"

_PRIVATE_DATA = (
    (Name.Metadata, "XMP"),
    (Name.PieceInfo, "application data"),
    (Name.LastModified, "application data"),
)
_MARKUP_ANNOTATIONS = frozenset(
    Name(f"/{subtype}")
    for subtype in (
        *("Text", "FreeText", "Line", "Square", "Circle", "Polygon", "PolyLine", "Highlight"),
        *("Underline", "Squiggly", "StrikeOut", "Stamp", "Caret", "Ink", "FileAttachment"),
        *("Sound", "Redact"),
    )
)
_ANNOTATION_TRACES = (Name.T, Name.M, Name.CreationDate)


class PdfFilter(BufferedFilter):
    def _too_large(self, head: bytes) -> StripOutcome:
        return StripOutcome("pdf", False, self._too_large_note("PDF"))

    def _clean(self, original: bytes) -> tuple[bytes, StripOutcome]:
        # pikepdf raises PdfError (PasswordError is one) for every file qpdf cannot read or
        # write; nothing else is caught, so a fault in this code still shows.
        try:
            with pikepdf.open(io.BytesIO(original)) as pdf:
                if pdf.is_encrypted:
                    return original, _kept_as_received("Encrypted PDF")
                cleaner = _Cleaner(pdf)
                cleaner.clean()
                cleaned = io.BytesIO()
                pdf.save(cleaned, deterministic_id=True)
                repaired = bool(pdf.get_warnings())
        except pikepdf.PasswordError:
            return original, _kept_as_received("Password-protected PDF")
        except pikepdf.PdfError:
            return original, _kept_as_received("Could not be read as a PDF")
        return cleaned.getvalue(), cleaner.outcome(repaired=repaired)


def _kept_as_received(reason: str) -> StripOutcome:
    return StripOutcome("pdf", False, f"{reason}: stored as received; metadata may remain.")


class _Cleaner:
    """Removes metadata from an open PDF and remembers what it found."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self._pdf = pdf
        self._removed: list[str] = []
        self._unclean_images = 0

    def clean(self) -> None:
        trailer = self._pdf.trailer
        info = trailer.get(Name.Info)
        if isinstance(info, Dictionary) and len(info.keys()):
            self._found("document properties")
        for key in (Name.Info, Name.ID):
            if key in trailer:
                del trailer[key]
        for obj in self._pdf.objects:
            if isinstance(obj, Dictionary | Stream):
                self._remove_private_data(obj)
            if isinstance(obj, Stream) and _is_jpeg(obj):
                self._clean_jpeg(obj)
        for page in self._pdf.pages:
            annotations = page.obj.get(Name.Annots)
            if isinstance(annotations, Array):
                for annotation in annotations:
                    self._clean_annotation(annotation)

    def outcome(self, *, repaired: bool) -> StripOutcome:
        sentences = [removed_sentence(self._removed) if self._removed else "No metadata found."]
        if self._unclean_images:
            sentences.append(
                f"{self._unclean_images} embedded image(s) could not be read: "
                "metadata may remain in them."
            )
        if repaired:
            sentences.append("The PDF was damaged and has been repaired.")
        return StripOutcome("pdf", not self._unclean_images, " ".join(sentences))

    def _found(self, label: str) -> None:
        if label not in self._removed:
            self._removed.append(label)

    def _remove_private_data(self, obj: Dictionary | Stream) -> None:
        for key, label in _PRIVATE_DATA:
            if key in obj:
                del obj[key]
                self._found(label)

    def _clean_jpeg(self, image: Stream) -> None:
        raw = image.read_raw_bytes()
        jpeg = JpegFilter()
        cleaned = jpeg.feed(raw) + jpeg.finish()
        if not jpeg.outcome.stripped:
            self._unclean_images += 1
        elif cleaned != raw:
            image.write(
                cleaned,
                filter=cast(Name, image.Filter),
                decode_parms=cast(Dictionary | None, image.get(Name.DecodeParms)),
            )
            self._found("image metadata")

    def _clean_annotation(self, annotation: object) -> None:
        if not isinstance(annotation, Dictionary):
            return
        if annotation.get(Name.Subtype) not in _MARKUP_ANNOTATIONS:
            return  # form fields use /T for their name
        for key in _ANNOTATION_TRACES:
            if key in annotation:
                del annotation[key]
                self._found("comment authors")


def _is_jpeg(stream: Stream) -> bool:
    """Whether the stream's data is a JPEG file as stored (DCTDecode as its only filter)."""
    filters = stream.get(Name.Filter)
    if isinstance(filters, Array):
        return len(filters) == 1 and filters[0] == Name.DCTDecode
    return filters == Name.DCTDecode
