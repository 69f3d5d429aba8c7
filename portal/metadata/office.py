"""Office Open XML (docx, xlsx, pptx): blank the document properties, clean embedded pictures.

These files are ZIP archives of XML parts, told apart from other ZIPs by their
[Content_Types].xml part. The archive is read and rewritten in memory with the standard library,
entry by entry and in the same order:

* docProps/core.xml (author, last modified by, title, dates...), docProps/app.xml (company,
  manager, template, editing time...) and docProps/custom.xml become valid empty documents, so
  every reference to them in the package stays good;
* Excel's absPath, the folder the workbook was saved in (often C:\\Users\\<name>\\...), is emptied;
* embedded JPEG and PNG pictures go through the image filters (photos keep EXIF and GPS here);
* each entry's time stamp, extra fields (which can hold a Unix user and group id) and comment,
  and the archive comment, are dropped.

Names in comments and tracked changes are part of the content and stay: when the document
seems to hold any, the outcome says so and does not count the file as stripped. A file that
could expand far beyond its size, or that has too many entries, is stored as received rather
than unpacked (a "zip bomb").
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from portal.metadata.buffered import BufferedFilter, megabytes
from portal.metadata.jpeg import MAGIC as JPEG_MAGIC
from portal.metadata.jpeg import JpegFilter
from portal.metadata.outcome import StripOutcome, removed_sentence
from portal.metadata.png import MAGIC as PNG_MAGIC
from portal.metadata.png import PngFilter
from portal.metadata.streaming import StreamingFilter

MAGIC = b"PK\x03\x04"
MAX_ENTRIES = 10_000
MAX_EXPANSION = 10  # unpacked size allowed, as a multiple of the buffer limit

_CONTENT_TYPES = "[Content_Types].xml"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EMPTY_PARTS = {
    "docprops/core.xml": (
        f"{_XML_DECLARATION}<cp:coreProperties"
        ' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:dcterms="http://purl.org/dc/terms/"'
        ' xmlns:dcmitype="http://purl.org/dc/dcmitype/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
    ).encode(),
    "docprops/app.xml": (
        f"{_XML_DECLARATION}<Properties"
        ' xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
        ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>'
    ).encode(),
    "docprops/custom.xml": (
        f"{_XML_DECLARATION}<Properties"
        ' xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
        ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>'
    ).encode(),
}
_SAVED_IN_FOLDER = re.compile(rb'(<(?:[\w.-]+:)?absPath\b[^>]*?\burl=")[^"]*"')
# Comments, tracked changes and co-authoring name people in markup such as w:author="...",
# <author>, <p:cmAuthor ...> (PowerPoint), <person ...> (Excel) and <w15:person ...> (Word).
_NAMES_PEOPLE = re.compile(rb"[<:](?:cm)?(?:author|person)[\s=>/]", re.IGNORECASE)
_FORMATS = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))
# What zipfile raises for a damaged archive: BadZipFile for bad structure or a CRC mismatch,
# zlib.error and EOFError for damaged or cut compressed data, ValueError (UnicodeDecodeError
# among them) for impossible offsets or names, NotImplementedError for version numbers and flags
# it does not support. Encryption is refused before reading, so RuntimeError cannot occur.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError)


class ZipFilter(BufferedFilter):
    """Cleans Office documents; any other ZIP archive passes through as an unknown format."""

    def _too_large(self, head: bytes) -> StripOutcome:
        if _CONTENT_TYPES.encode() in head:
            return StripOutcome("office", False, self._too_large_note("Office document"))
        return _unknown()

    def _clean(self, original: bytes) -> tuple[bytes, StripOutcome]:
        kind = "unknown"
        try:
            with zipfile.ZipFile(io.BytesIO(original)) as archive:
                entries = archive.infolist()
                names = [entry.filename for entry in entries]
                if _CONTENT_TYPES not in names:
                    return original, _unknown()
                kind = _kind(names)
                if refusal := self._refusal(entries):
                    return original, _kept_as_received(kind, refusal)
                rewriter = _Rewriter(archive, self._buffer_limit)
                cleaned = rewriter.rewrite(entries)
        except _DAMAGED:
            return original, _kept_as_received(kind, "Could not be unpacked")
        return cleaned, rewriter.outcome(kind)

    def _refusal(self, entries: list[zipfile.ZipInfo]) -> str | None:
        """Why the archive is not unpacked, if it should not be."""
        if len(entries) > MAX_ENTRIES:
            return f"Has more than {MAX_ENTRIES:,} parts"
        if sum(entry.file_size for entry in entries) > MAX_EXPANSION * self._buffer_limit:
            return f"Unpacks to more than {megabytes(MAX_EXPANSION * self._buffer_limit)}"
        if len({entry.filename for entry in entries}) < len(entries):
            return "Has two parts with the same name"
        if any(entry.flag_bits & 0x1 for entry in entries):
            return "Has encrypted parts"
        if any(
            entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            for entry in entries
        ):
            return "Uses an unusual compression method"
        return None


def _kind(names: list[str]) -> str:
    """docx, xlsx or pptx by the folder of the main part; "office" for other packages."""
    for folder, kind in _FORMATS:
        if any(name.startswith(folder) for name in names):
            return kind
    return "office"


def _unknown() -> StripOutcome:
    return StripOutcome(
        "unknown",
        False,
        "Format not recognised (a ZIP archive): any metadata in this file remains.",
    )


def _kept_as_received(kind: str, reason: str) -> StripOutcome:
    return StripOutcome(kind, False, f"{reason}: stored as received; metadata may remain.")


class _Rewriter:
    """Writes a cleaned copy of an archive and remembers what it found."""

    def __init__(self, archive: zipfile.ZipFile, buffer_limit: int) -> None:
        self._archive = archive
        self._buffer_limit = buffer_limit
        self._removed: list[str] = []
        self._unclean_pictures = 0
        self._names_people = False

    def rewrite(self, entries: list[zipfile.ZipInfo]) -> bytes:
        cleaned = io.BytesIO()
        with zipfile.ZipFile(cleaned, "w") as rewritten:
            for entry in entries:
                # A fresh ZipInfo carries no time stamp (1980-01-01), extra field or comment.
                fresh = zipfile.ZipInfo(entry.filename)
                fresh.compress_type = entry.compress_type
                rewritten.writestr(
                    fresh, self._clean_part(entry.filename, self._archive.read(entry))
                )
        return cleaned.getvalue()

    def outcome(self, kind: str) -> StripOutcome:
        sentences = [removed_sentence(self._removed) if self._removed else "No metadata found."]
        if self._unclean_pictures:
            sentences.append(
                f"{self._unclean_pictures} embedded picture(s) could not be read: "
                "metadata may remain in them."
            )
        if self._names_people:
            sentences.append("Names may remain in comments or tracked changes.")
        stripped = not self._unclean_pictures and not self._names_people
        return StripOutcome(kind, stripped, " ".join(sentences))

    def _found(self, label: str) -> None:
        if label not in self._removed:
            self._removed.append(label)

    def _clean_part(self, name: str, data: bytes) -> bytes:
        folded = name.lower()  # part names in an Office package ignore case
        if folded in _EMPTY_PARTS:
            empty = _EMPTY_PARTS[folded]
            if data != empty:
                self._found("document properties")
            return empty
        if data.startswith(JPEG_MAGIC):
            return self._clean_picture(data, JpegFilter())
        if data.startswith(PNG_MAGIC):
            return self._clean_picture(data, PngFilter(hold_limit=self._buffer_limit))
        if folded == "xl/workbook.xml":
            data, count = _SAVED_IN_FOLDER.subn(rb'\1"', data)
            if count:
                self._found("the folder it was saved in")
        if folded.endswith((".xml", ".rels")) and _NAMES_PEOPLE.search(data):
            self._names_people = True
        return data

    def _clean_picture(self, data: bytes, picture: StreamingFilter) -> bytes:
        cleaned = picture.feed(data) + picture.finish()
        if not picture.outcome.stripped:
            self._unclean_pictures += 1
        elif cleaned != data:
            self._found("picture metadata")
        return cleaned
