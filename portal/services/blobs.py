"""The blob folder: attachments as age files, named by their attachment's random id.

Every file operation on blobs lives here, with one set of verbs:

- `create`: a new blob, written under a hidden staging name while an upload arrives;
- `publish`: renamed to its real name once complete and on disk, just before the transaction
  that refers to it commits (`portal.services.transaction.finish` calls it);
- `discard`: deleted wherever it is, for a refused or failed request;
- `destroy`: overwritten with zeros and unlinked, for a report whose retention has run out;
- `orphans`: files no row refers to (what a crash leaves behind: always ciphertext).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.exc import InterfaceError, OperationalError

from portal.crypto.format import read_header
from portal.crypto.stream import NONCE_SIZE
from portal.files import blur_times_to_day, ensure_private_dir, sync_directory

SUFFIX = ".age"
CHUNK_SIZE = 64 * 1024
"""Blobs are read, and overwritten with zeros, this much at a time: memory stays flat."""
_STAGING_PREFIX = "."
_STAGING_SUFFIX = ".part"

STORAGE_FAILURES = (OSError, OperationalError, InterfaceError)
"""What a full disk, an unwritable blob folder or an unreachable database raises."""


class StorageUnavailable(Exception):
    """The blob folder or the database could not take what was sent: nothing of it was kept.

    A fault of the server's storage, not of the request, and usually passing (a database
    restarting, a disk being cleared): the submitter is told to try again later."""


@contextlib.contextmanager
def storage_failures_reported(what: str) -> Iterator[None]:
    """Turn a storage failure inside the block into `StorageUnavailable`, saying `what` failed."""
    try:
        yield
    except STORAGE_FAILURES as error:
        raise StorageUnavailable(what) from error


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, blob_id: uuid.UUID) -> Path:
        return self.directory / f"{blob_id}{SUFFIX}"

    def create(self) -> NewBlob:
        """A new, empty blob under a fresh random id, staged and open for writing."""
        ensure_private_dir(self.directory)
        return NewBlob(self, uuid.uuid4())

    def open(self, blob_id: uuid.UUID) -> BinaryIO:
        """The blob's file, open for reading; the caller closes it."""
        return self.path_of(blob_id).open("rb")

    def chunks(self, blob_id: uuid.UUID) -> Iterator[bytes]:
        """The blob's bytes, a chunk at a time."""
        with self.open(blob_id) as handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    def sha256_of(self, blob_id: uuid.UUID) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks(blob_id):
            digest.update(chunk)
        return digest.hexdigest()

    def chunks_sha256_of(self, blob_id: uuid.UUID) -> str:
        """SHA-256 of the blob's encrypted chunks: all of it but the age header and the payload
        nonce, which re-keying leaves as they are."""
        digest = hashlib.sha256()
        with self.open(blob_id) as handle:
            read_header(handle)
            handle.read(NONCE_SIZE)
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    def destroy(self, paths: list[Path]) -> tuple[int, list[str]]:
        """Overwrite and unlink each blob file: how many were removed, and a line per failure.

        A file already gone is neither counted nor a problem. A file that could not be removed
        is an orphan now, for a later `orphans` sweep to find.
        """
        removed = 0
        problems = []
        for path in paths:
            try:
                overwrite_and_unlink(path)
            except FileNotFoundError:
                continue
            except OSError as error:
                problems.append(
                    f"blob file {path.name}: not removed ({error.strerror or error}); "
                    "the next run removes it as an orphan"
                )
                continue
            removed += 1
        if removed:
            try:
                sync_directory(self.directory)
            except OSError as error:
                problems.append(f"blob folder: unlinks not synced to disk ({error.strerror})")
        return removed, problems

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
        self._chunks_digest: hashlib._Hash | None = None
        self.published = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._digest.update(data)
        if self._chunks_digest is not None:
            self._chunks_digest.update(data)
        return self._file.write(data)

    def start_chunks(self) -> None:
        """Mark where the age file's header and nonce end: `chunks_sha256` covers what follows.
        Re-keying rewrites the header only, so that hash survives it."""
        self._chunks_digest = hashlib.sha256()

    @property
    def chunks_sha256(self) -> str:
        if self._chunks_digest is None:
            raise ValueError("start_chunks was not called")
        return self._chunks_digest.hexdigest()

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
        sync_directory(self._final_path.parent)

    def blur_times(self) -> None:
        """Keep only the day in the published file's (and its folder's) times.

        Called once the file's row has committed: until then the fresh time tells the orphan
        clean-up to leave the file alone.
        """
        blur_times_to_day([self._final_path, self._final_path.parent])

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


def overwrite_and_unlink(path: Path) -> None:
    """Overwrite the file at `path` with zeros (same length, 64 KiB at a time), fsync, unlink.

    Raises FileNotFoundError if it is not there, and OSError if it cannot be opened, written,
    synced or unlinked, or is not a regular file (a symbolic link is refused, not followed).

    This removes the bytes from the file, not necessarily from the disk: on journaling or
    copy-on-write filesystems, under snapshots, and on SSDs (which remap blocks), the old
    blocks may survive. What protects them is that a blob is age ciphertext (see
    `portal.services.retention`).
    """
    # O_NONBLOCK: should the name ever be a FIFO, opening it must not hang a cron job.
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        zeros = memoryview(bytes(CHUNK_SIZE))
        remaining = status.st_size
        while remaining > 0:
            remaining -= os.write(descriptor, zeros[: min(CHUNK_SIZE, remaining)])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    path.unlink()
