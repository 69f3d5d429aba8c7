"""The review-host key: a secret that exists only on the review host (DESIGN decision 3).

A copy of the database must open nothing, whatever passwords its thief knows. So everything in
the database that a password would otherwise open is also sealed under this key, which is never
in the database and never readable by the submission site:

- each reviewer's keyring is sealed under it (inside, the keyring is still wrapped under the
  reviewer's password with scrypt);
- each reviewer's TOTP secret is sealed under it;
- password and enrolment-code hashes are keyed by it (Argon2id's secret input, a "pepper"), so
  a stolen hash cannot even be tested offline;
- a review session's sealed keyring needs it as well as the cookie's key.

It is 32 random bytes, read from a systemd credential (`LoadCredential=portal-review-host-key`,
found through $CREDENTIALS_DIRECTORY) when there is one, else from `review-host-key` in the
review site's instance folder (mode 0600), which the portal creates the first time it is needed.
Each use derives its own subkey (HKDF-SHA256 with a label), so no two mechanisms share a key.

Losing it is survivable: the recovery file still opens the inspectorate's keys, and reviewers
enrol again. Keep it in the review host's backups, apart from the database's.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from portal.crypto.format import hkdf_sha256
from portal.files import ensure_private_dir, write_new_file

HOST_KEY_FILE = "review-host-key"
CREDENTIAL_NAME = "portal-review-host-key"
KEY_SIZE = 32
_NONCE_SIZE = 12
_LABEL_PREFIX = b"portal/review-host-key/v1/"


class HostKeyError(Exception):
    """The review-host key cannot be read or is not one; the message says what to do."""


class SealBroken(Exception):
    """A value sealed under the review-host key did not open: another host key sealed it, or
    it was changed or moved to another row."""


@dataclass(frozen=True)
class HostKey:
    """The review-host key. Handle as secret; its repr shows only an identifier."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_SIZE:
            raise HostKeyError(f"a review-host key is {KEY_SIZE} bytes")

    def __repr__(self) -> str:
        return "<HostKey>"

    def subkey(self, purpose: str) -> bytes:
        """A key of its own for `purpose`: HKDF-SHA256 of the host key with a label."""
        return hkdf_sha256(self.secret, b"", _LABEL_PREFIX + purpose.encode("ascii"))

    def seal(self, purpose: str, plaintext: bytes, *, bound_to: bytes) -> bytes:
        """`plaintext` encrypted under the purpose's subkey, bound to `bound_to` (the row it is
        stored in), so it cannot be moved to another row or used for another purpose."""
        nonce = os.urandom(_NONCE_SIZE)
        return nonce + ChaCha20Poly1305(self.subkey(purpose)).encrypt(nonce, plaintext, bound_to)

    def open(self, purpose: str, sealed: bytes, *, bound_to: bytes) -> bytes:
        """The plaintext `seal` sealed; SealBroken if it does not open."""
        try:
            return ChaCha20Poly1305(self.subkey(purpose)).decrypt(
                sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:], bound_to
            )
        except (InvalidTag, ValueError):
            raise SealBroken(f"a sealed {purpose} did not open with this review-host key") from None


def load_or_create(instance_dir: Path) -> HostKey:
    """The review host's key: from a systemd credential, else the instance folder's file,
    created on first use. Raises HostKeyError for a file that is damaged or readable by others."""
    existing = load_existing(instance_dir)
    if existing is not None:
        return existing
    ensure_private_dir(instance_dir)
    path = instance_dir / HOST_KEY_FILE
    if not path.exists():
        # Two processes starting at once agree on one key: the second finds the first's file.
        with contextlib.suppress(FileExistsError):
            write_new_file(path, os.urandom(KEY_SIZE), 0o600)
    return _read(path)


def load_existing(instance_dir: Path) -> HostKey | None:
    """The review host's key if this machine has one (a credential or the instance folder's
    file), else None: for checks that may run off the review host and must not make a key."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY", "").strip()
    if credentials and (Path(credentials) / CREDENTIAL_NAME).exists():
        return _read(Path(credentials) / CREDENTIAL_NAME)
    path = instance_dir / HOST_KEY_FILE
    return _read(path) if path.exists() else None


def _read(path: Path) -> HostKey:
    try:
        mode = path.stat().st_mode
        secret = path.read_bytes()
    except OSError as error:
        raise HostKeyError(f"{path} cannot be read ({error.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HostKeyError(f"{path} is readable by other users: run chmod 600 {path}")
    if len(secret) != KEY_SIZE:
        raise HostKeyError(f"{path} is not a review-host key ({KEY_SIZE} bytes expected)")
    return HostKey(secret)
