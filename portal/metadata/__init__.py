"""Removing identifying metadata from uploads, between the incoming bytes and the encryption.

No plaintext byte of an upload may reach the disk, so stripping is a filter that bytes are
pushed through as the request body is parsed: `feed` each piece as it arrives (pieces of any
size, split anywhere) and pass on what it returns, then `finish` and pass on that too. Images
stream through in bounded memory; PDF and Office documents are held in memory up to a limit.
The outcome tells the reviewer what was removed, or that metadata may remain and why.

    cleaner = filter_for(first_bytes, buffer_limit=20_000_000)
    for piece in pieces:
        writer.write(cleaner.feed(piece))
    writer.write(cleaner.finish())
    store(cleaner.outcome)

No method raises for malformed input: a file that cannot be parsed passes through unchanged
(from the point where parsing failed), with `stripped` False.
"""

from __future__ import annotations

from typing import Protocol

from portal.metadata import jpeg, office, pdf, png
from portal.metadata.outcome import StripOutcome
from portal.metadata.passthrough import PassThrough

__all__ = ["SNIFF_SIZE", "MetadataFilter", "StripOutcome", "filter_for"]

SNIFF_SIZE = 16  # how many first bytes `filter_for` needs to recognise every format


class MetadataFilter(Protocol):
    def feed(self, data: bytes) -> bytes:
        """Take the next piece of the upload; return the bytes ready to pass on (maybe none)."""
        ...

    def finish(self) -> bytes:
        """Signal the end of the upload; return the remaining bytes. `outcome` is then set."""
        ...

    @property
    def outcome(self) -> StripOutcome:
        """What was done; raises RuntimeError before `finish`."""
        ...


def filter_for(first_bytes: bytes, *, buffer_limit: int) -> MetadataFilter:
    """A fresh filter for the upload that begins with `first_bytes`, which must still be fed.

    The format is chosen by content (magic bytes), never by the client's file name or content
    type: those are the submitter's to set, and a wrong one must not let metadata through.
    `first_bytes` must hold at least SNIFF_SIZE bytes, or the whole upload if it is shorter.
    `buffer_limit` caps the memory held for a PDF or an Office document, and for one metadata
    chunk of a PNG image.
    """
    if first_bytes.startswith(jpeg.MAGIC):
        return jpeg.JpegFilter()
    if first_bytes.startswith(png.MAGIC):
        return png.PngFilter(hold_limit=buffer_limit)
    if first_bytes.startswith(pdf.MAGIC):
        return pdf.PdfFilter(buffer_limit=buffer_limit)
    if first_bytes.startswith(office.MAGIC):
        return office.ZipFilter(buffer_limit=buffer_limit)
    return PassThrough()
