"""The blob folder: attachments as age files, named by their attachment's random id.

A new blob is written under a hidden staging name and only renamed to its real name once it is
complete and flushed to disk, just before the database transaction that refers to it commits.
A blob that was staged but never published (a failed or refused request) is deleted; one
published for a transaction that then failed is deleted too. Anything a crash leaves behind is
ciphertext, found by `orphans()` for clean-up.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from portal.config import ensure_private_dir

SUFFIX = ".age"
_STAGING_PREFIX = "."
_STAGING_SUFFIX = ".part"


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, blob_id: uuid.UUID) -> Path:
        return self.directory / f"{blob_id}{SUFFIX}"

    def create(self) -> NewBlob:
        """A new, empty blob under a fresh random id, open for writing."""
        ensure_private_dir(self.directory)
        return NewBlob(self, uuid.uuid4())

    def sha256_of(self, blob_id: uuid.UUID) -> str:
        digest = hashlib.sha256()
        for chunk in self.open(blob_id):
            digest.update(chunk)
        return digest.hexdigest()

    def open(self, blob_id: uuid.UUID) -> Iterator[bytes]:
        """The blob's bytes, a chunk at a time."""
        with self.path_of(blob_id).open("rb") as handle:
            while chunk := handle.read(64 * 1024):
                yield chunk

    def orphans(self, known: set[uuid.UUID]) -> list[Path]:
        """Blob files (published or staged) whose id is not in `known`."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            name = path.name.removeprefix(_STAGING_PREFIX).removesuffix(_STAGING_SUFFIX)
            try:
                blob_id = uuid.UUID(name.removesuffix(SUFFIX))
            except ValueError:
                continue
            if blob_id not in known:
                found.append(path)
        return found


class NewBlob:
    """A blob being written: staged, then published or discarded."""

    def __init__(self, store: BlobStore, blob_id: uuid.UUID) -> None:
        self.id = blob_id
        self._final_path = store.path_of(blob_id)
        self._staging_path = store.directory / (
            f"{_STAGING_PREFIX}{self._final_path.name}{_STAGING_SUFFIX}"
        )
        descriptor = os.open(self._staging_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(descriptor, "wb")
        self._digest = hashlib.sha256()
        self.published = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._digest.update(data)
        return self._file.write(data)

    @property
    def sha256(self) -> str:
        """SHA-256 of everything written: recorded, encrypted, with the file's description, so a
        blob swapped for another attachment's is refused when read."""
        return self._digest.hexdigest()

    def finish(self) -> None:
        """Flush everything written so far to disk and close the file."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def publish(self) -> None:
        """Give the finished blob its real name, durably."""
        self.finish()
        self._staging_path.rename(self._final_path)
        self.published = True
        _sync_directory(self._final_path.parent)

    def blur_times(self) -> None:
        """Set the published file's (and its folder's) times to midnight UTC of today.

        A file's modification time would otherwise say to the second when a report arrived,
        which nothing else the portal keeps does. Called once the file's row has committed:
        until then the fresh time tells the orphan clean-up to leave the file alone.
        """
        today = datetime.datetime.now(datetime.UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        midnight = today.timestamp()
        for path in (self._final_path, self._final_path.parent):
            with contextlib.suppress(FileNotFoundError):
                os.utime(path, (midnight, midnight))

    def discard(self) -> None:
        """Delete the blob wherever it is; safe to call more than once."""
        # Closing flushes what is buffered, which fails on a full disk; the file goes anyway.
        with contextlib.suppress(OSError):
            self._file.close()
        for path in (self._staging_path, self._final_path if self.published else None):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self.published = False


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
