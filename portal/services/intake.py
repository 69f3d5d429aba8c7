"""Receiving a file: metadata removed where the format allows, encrypted as it arrives.

No plaintext byte of an uploaded file ever reaches a disk. An `EncryptingUpload` takes the
file's bytes as they are parsed from the request, passes them through the metadata filter its
first bytes select, and encrypts the result to the inspectorate straight into a staged blob.
`finish` completes it as a `ReceivedFile`, which a service stores with its report or message;
an upload that is not kept is discarded by its owner (the submission site does this when each
request ends). Nothing here knows about the web: the submission site hooks this into
Werkzeug's form parser (`portal.submit.uploads`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portal import crypto
from portal.metadata import SNIFF_SIZE, MetadataFilter, StripOutcome, filter_for
from portal.services.blobs import BlobStore, NewBlob, storage_failures_reported
from portal.services.documents import DOCUMENT_VERSION


class UploadRefused(Exception):
    """An upload broke a limit; nothing of it is kept."""


class FileTooLarge(UploadRefused):
    """A file is over the size limit."""


@dataclass(frozen=True)
class UploadPolicy:
    """Where uploads go and the limits on them, fixed when the site is built."""

    store: BlobStore
    recipients: Sequence[crypto.Recipient]
    max_file_bytes: int
    max_files: int


@dataclass(frozen=True)
class ReceivedFile:
    """An uploaded file, already encrypted into `blob`, with what is known about it."""

    blob: NewBlob
    name: str
    content_type: str
    size: int
    outcome: StripOutcome

    def description(self) -> dict[str, Any]:
        """The file's sealed description: everything a reviewer sees about it but its bytes."""
        return {
            "version": DOCUMENT_VERSION,
            "attachment_id": str(self.blob.id),
            "blob_sha256": self.blob.sha256,
            "chunks_sha256": self.blob.chunks_sha256,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "format": self.outcome.format,
            "metadata_removed": self.outcome.stripped,
            "metadata_note": self.outcome.note,
        }


class EncryptingUpload:
    """A file-like object an upload is written into: filtered, encrypted, staged."""

    def __init__(self, policy: UploadPolicy) -> None:
        self._policy = policy
        with _storage_failures_reported():
            self.blob: NewBlob = policy.store.create()
        self._writer = crypto.EncryptingWriter(self.blob, policy.recipients)
        self.blob.start_chunks()  # the header and nonce are written: the chunks follow
        self._head = bytearray()
        self._filter: MetadataFilter | None = None
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self._policy.max_file_bytes:
            raise FileTooLarge("a file is over the size limit")
        with _storage_failures_reported():
            if self._filter is None:
                self._head += data
                if len(self._head) >= SNIFF_SIZE:
                    self._start_filter()
            else:
                self._writer.write(self._filter.feed(data))
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """A form parser rewinds a finished part; there is nothing to rewind to, and no need."""
        return 0

    def finish(self, name: str, content_type: str) -> ReceivedFile:
        """Complete the encryption; the file is published with the row that keeps it."""
        with _storage_failures_reported():
            metadata_filter = self._filter or self._start_filter()
            self._writer.write(metadata_filter.finish())
            self._writer.close()
            self.blob.finish()
        return ReceivedFile(
            blob=self.blob,
            name=name,
            content_type=content_type,
            size=self.size,
            outcome=metadata_filter.outcome,
        )

    def discard_unless_published(self) -> None:
        if not self.blob.published:
            self.blob.discard()

    def _start_filter(self) -> MetadataFilter:
        """Choose the filter from the file's first bytes, and pass those bytes through it."""
        head, self._head = bytes(self._head), bytearray()
        self._filter = filter_for(head, buffer_limit=self._policy.max_file_bytes)
        self._writer.write(self._filter.feed(head))
        return self._filter


def _storage_failures_reported() -> contextlib.AbstractContextManager[None]:
    return storage_failures_reported("an uploaded file could not be stored")
