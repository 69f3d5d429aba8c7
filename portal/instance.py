"""The instance folder: per-deployment state that never leaves the machine (secret keys, SQLite)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from portal.config import ConfigError, ensure_private_dir

SECRET_KEY_BYTES = 32


def load_or_create_secret_key(instance_dir: Path, name: str) -> bytes:
    """Return the secret key stored as `name` in the instance folder, creating it on first use.

    The key is written to a private temporary file and hard-linked into place, so concurrent
    gunicorn workers starting together agree on one key and none ever reads a half-written file.
    """
    ensure_private_dir(instance_dir)
    path = instance_dir / name
    if not path.exists():
        _create_exclusively(path, secrets.token_bytes(SECRET_KEY_BYTES))
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by other users: run chmod 600 {path}")
    key = path.read_bytes()
    if len(key) != SECRET_KEY_BYTES:
        raise ConfigError(f"{path} is damaged: delete it and a new key will be made")
    return key


def _create_exclusively(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # If another worker won the race, its key is the one every worker uses.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
