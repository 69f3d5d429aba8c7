"""Writing files that must appear whole or not at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_new_file(path: Path, content: bytes, mode: int) -> None:
    """Create `path` holding `content`, or raise FileExistsError if it already exists.

    The content goes to a temporary file beside it first (created with `mode`, flushed to disk)
    and is then hard-linked into place, so no reader ever sees a half-written file and an
    existing file is never replaced.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        temporary.unlink()
