"""A migrated SQLite file that tests copy instead of migrating their own."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def self_contained(path: Path) -> Path:
    """Fold the write-ahead log of the SQLite file at `path` into the file itself; return `path`.

    The portal opens SQLite in WAL mode, where committed pages may still sit in `<file>-wal`
    rather than in the file: a copy of the file alone could then miss the newest schema. A
    checkpoint that truncates the log, by the last connection, leaves the file complete; this
    fails loudly if something else still has the database open."""
    connection = sqlite3.connect(path)
    try:
        busy, _log_pages, _checkpointed = connection.execute(
            "PRAGMA wal_checkpoint(TRUNCATE)"
        ).fetchone()
    finally:
        connection.close()
    assert busy == 0, f"{path} is still open elsewhere: its log could not be checkpointed"
    log = path.with_name(f"{path.name}-wal")
    assert not log.exists() or log.stat().st_size == 0, f"{log} still holds pages"
    return path
