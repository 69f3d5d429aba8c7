"""Uploads are encrypted as they arrive: no plaintext byte of a file ever reaches a disk.

Werkzeug normally spools an uploaded file to a temporary file while it parses a request. The
submission site's request class replaces that: each file part is written into an
`EncryptingUpload`, which removes metadata where the format allows and encrypts the rest to the
inspectorate straight into a staged blob. A view that keeps the file finishes it; every upload a
request did not keep (the request was refused, failed, or the form had errors) is discarded
when the request ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, g
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from portal import crypto
from portal.metadata import SNIFF_SIZE, MetadataFilter, filter_for
from portal.services.blobs import BlobStore, NewBlob
from portal.services.reports import ReceivedFile
from portal.services.storing import storage_failures_reported
from portal.web import PortalRequest

_UPLOADS = "portal_uploads"
_EXTENSION = "portal.uploads"


class FileTooLarge(RequestEntityTooLarge):
    description = "A file is over the size limit."


class TooManyFiles(RequestEntityTooLarge):
    description = "Too many files were sent at once."


class UploadPolicy:
    """Where uploads go and the limits on them, fixed when the app is built."""

    def __init__(
        self,
        store: BlobStore,
        recipients: Sequence[crypto.Recipient],
        *,
        max_file_bytes: int,
        max_files: int,
    ) -> None:
        self.store = store
        self.recipients = recipients
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files


class EncryptingUpload:
    """The container Werkzeug writes one uploaded file into."""

    def __init__(self, policy: UploadPolicy) -> None:
        self._policy = policy
        with _storage_failures_reported():
            self.blob: NewBlob = policy.store.create()
        self._writer = crypto.EncryptingWriter(self.blob, policy.recipients)
        self._head = bytearray()
        self._filter: MetadataFilter | None = None
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self._policy.max_file_bytes:
            raise FileTooLarge()
        with _storage_failures_reported():
            if self._filter is None:
                self._head += data
                if len(self._head) >= SNIFF_SIZE:
                    self._start_filter()
            else:
                self._writer.write(self._filter.feed(data))
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Werkzeug rewinds a finished part; there is nothing to rewind to, and no need."""
        return 0

    def finish(self, name: str, content_type: str) -> ReceivedFile:
        """Complete the encryption and keep the file (it is published with its report)."""
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

    def _start_filter(self) -> MetadataFilter:
        """Choose the filter from the file's first bytes, and pass those bytes through it."""
        head, self._head = bytes(self._head), bytearray()
        self._filter = filter_for(head, buffer_limit=self._policy.max_file_bytes)
        self._writer.write(self._filter.feed(head))
        return self._filter


def _storage_failures_reported() -> contextlib.AbstractContextManager[None]:
    return storage_failures_reported("an uploaded file could not be stored")


class UploadingRequest(PortalRequest):
    """The submission site's request: file parts go to `EncryptingUpload`, never to disk."""

    def _get_file_stream(  # type: ignore[override]
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> Any:
        policy: UploadPolicy = current_app.extensions[_EXTENSION]
        uploads = g.setdefault(_UPLOADS, [])
        if len(uploads) >= policy.max_files:
            raise TooManyFiles()
        upload = EncryptingUpload(policy)
        uploads.append(upload)
        return upload


def init_app(app: Flask, policy: UploadPolicy) -> None:
    app.request_class = UploadingRequest
    app.extensions[_EXTENSION] = policy
    app.teardown_request(_discard_unkept_uploads)


def received_files(storages: Sequence[FileStorage]) -> list[ReceivedFile]:
    """Finish the uploads behind the form's file fields; empty file inputs are skipped."""
    files = []
    for storage in storages:
        if not isinstance(storage, FileStorage):
            continue  # a text field that only has the file input's name: not a file
        upload = storage.stream
        if not isinstance(upload, EncryptingUpload) or (not storage.filename and not upload.size):
            continue
        files.append(
            upload.finish(
                name=storage.filename or "unnamed file",
                content_type=storage.mimetype or "application/octet-stream",
            )
        )
    return files


def _discard_unkept_uploads(_error: BaseException | None) -> None:
    for upload in g.pop(_UPLOADS, []):
        if not upload.blob.published:
            upload.blob.discard()
