"""The hook into Werkzeug's form parser: each file part goes to an `EncryptingUpload`.

Werkzeug normally spools an uploaded file to a temporary file while it parses a request. The
submission site's request class replaces that with the intake's `EncryptingUpload`
(`portal.services.intake`), so no plaintext byte of a file reaches a disk. A view that keeps a
file finishes it; every upload a request did not keep (the request was refused, failed, or the
form had errors) is discarded when the request ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app, g
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from portal.services.intake import EncryptingUpload, ReceivedFile, UploadPolicy
from portal.services.intake import FileTooLarge as IntakeFileTooLarge
from portal.web import PortalRequest

_UPLOADS = "portal_uploads"
_EXTENSION = "portal.uploads"


class FileTooLarge(RequestEntityTooLarge):
    description = "A file is over the size limit."


class TooManyFiles(RequestEntityTooLarge):
    description = "Too many files were sent at once."


class _ParsedUpload(EncryptingUpload):
    """An upload as the parser writes it: a broken limit ends the request with a 413."""

    def write(self, data: bytes) -> int:
        try:
            return super().write(data)
        except IntakeFileTooLarge:
            raise FileTooLarge() from None


class UploadingRequest(PortalRequest):
    """The submission site's request: file parts go to `EncryptingUpload`, never to disk."""

    def _get_file_stream(
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
        upload = _ParsedUpload(policy)
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
        upload.discard_unless_published()
