"""The instance folder: per-deployment state that never leaves the machine (secret keys, SQLite)."""

from __future__ import annotations

import contextlib
import secrets
import stat
from pathlib import Path

from portal.config import ConfigError
from portal.files import ensure_private_dir, write_new_file

SECRET_KEY_BYTES = 32


def load_or_create_secret_key(instance_dir: Path, name: str) -> bytes:
    """Return the secret key stored as `name` in the instance folder, creating it on first use.

    Concurrent gunicorn workers starting together agree on one key, and none ever reads a
    half-written file (see `write_new_file`).
    """
    ensure_private_dir(instance_dir)
    path = instance_dir / name
    if not path.exists():
        # If another worker starting at the same moment wins the race, its key is the one used.
        with contextlib.suppress(FileExistsError):
            write_new_file(path, secrets.token_bytes(SECRET_KEY_BYTES), 0o600)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by other users: run chmod 600 {path}")
    key = path.read_bytes()
    if len(key) != SECRET_KEY_BYTES:
        raise ConfigError(f"{path} is damaged: delete it and a new key will be made")
    return key
