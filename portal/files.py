"""Small file-system helpers: private folders, files that appear whole, durable renames.

Nothing here knows what the files hold; the blob store, the instance folder and key custody
build on these.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path


class UnsafeFolder(Exception):
    """A folder that must be private can be written by other users; the message says the fix."""


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (mode 0700) if needed and refuse it if other users may write to it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFolder(f"{path} is writable by other users: run chmod go-w {path}")
    return path


def write_new_file(path: Path, content: bytes, mode: int) -> None:
    """Create `path` holding `content`, or raise FileExistsError if it already exists.

    The content goes to a temporary file beside it first (created with `mode`, flushed to disk)
    and is then hard-linked into place, so no reader ever sees a half-written file and an
    existing file is never replaced.
    """
    temporary = _written_beside(path, content, mode)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink()


def replace_file(path: Path, content: bytes, mode: int) -> None:
    """Write `path` whole, replacing what was there in one step (a reader sees the old file or
    the new one, never part of either), durably."""
    temporary = _written_beside(path, content, mode)
    try:
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def _written_beside(path: Path, content: bytes, mode: int) -> Path:
    """A new temporary file beside `path` holding `content`, created with `mode` and on disk."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def sync_directory(directory: Path) -> None:
    """Make the directory's entries (a rename, a new name, an unlink) durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def blur_times_to_day(paths: Iterable[Path]) -> None:
    """Set each path's access and modification times to midnight UTC of today.

    A file's modification time would otherwise say to the second when something arrived, which
    nothing else the portal keeps does (DESIGN decision 4). A path already gone is skipped.
    """
    today = datetime.datetime.now(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    midnight = today.timestamp()
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, (midnight, midnight))
