"""Settings for both applications, read once from the environment.

Every setting has a safe default; anything unsafe or malformed raises `ConfigError` with a single
line that says what to change, so an operator never has to read a traceback to fix a deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from portal.costs import HashCost, PasswordCost

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the portal runs from: templates, static files and migrations live beside the
package, so the portal is installed editable from its checkout (the Makefile does this)."""

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})
_DATABASE_SCHEMES = ("sqlite", "postgresql")


class ConfigError(Exception):
    """A setting is missing, malformed or unsafe; the message is one line an operator can act on."""


@dataclass(frozen=True)
class Settings:
    """Everything the two applications need from their environment.

    Tests build this directly with temporary folders; deployments use `Settings.from_env()`.
    """

    instance_dir: Path
    keys_dir: Path
    database_url: str
    plain_http: bool = False
    """Serve over plain HTTP (local development, or an onion service without a certificate):
    cookies then lose their Secure attribute and `__Host-` prefix. Off unless asked for."""
    max_request_bytes: int = 10 * 1024 * 1024
    """The largest request body accepted, files aside; anything bigger gets the plain 413 page."""
    blob_dir: Path | None = None
    """Where attachments are kept as age files; by default `blobs` in the instance folder."""
    max_file_bytes: int = 100 * 1024 * 1024
    """The largest file a submitter may attach."""
    max_files: int = 5
    """How many files one report or message may carry."""
    submissions_per_minute: int = 30
    """Reports and messages accepted per minute by each server process, from everyone together."""
    codename_attempts_per_minute: int = 30
    """Codename sign-in attempts per minute by each server process, from everyone together."""
    codename_hash_cost: HashCost = field(default_factory=HashCost)
    """Argon2id cost of hashing a codename; tests lower it."""
    idle_timeout_minutes: int = 15
    """A review session ends after this long without a request."""
    absolute_timeout_hours: int = 8
    """A review session ends this long after sign-in, however busy."""
    acknowledge_within_days: int = 7
    """Deadline shown to inspectors for acknowledging a report."""
    feedback_within_days: int = 91
    """Deadline shown to inspectors for giving feedback: about three months."""
    retention_days: int = 365
    """A closed report is destroyed this many days after it was closed."""
    keyring_work_factor: int = 16
    """scrypt cost (log2 N) of each reviewer's keyring; tests lower it."""
    password_cost: PasswordCost = field(default_factory=PasswordCost)
    """Argon2id cost of reviewers' passwords and enrolment codes; tests lower it."""

    @property
    def blobs(self) -> Path:
        return self.blob_dir or self.instance_dir / "blobs"

    @property
    def max_submission_bytes(self) -> int:
        """The largest request the submission site accepts: the form plus every file."""
        return self.max_request_bytes + self.max_files * self.max_file_bytes

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `PORTAL_*` variables, applying defaults and refusing anything unsafe."""
        env = os.environ if environ is None else environ
        instance_dir = _directory(env, "PORTAL_INSTANCE_DIR", PROJECT_ROOT / "instance")
        keys_dir = _directory(env, "PORTAL_KEYS_DIR", PROJECT_ROOT / "keys")
        database_url = env.get("PORTAL_DATABASE_URL", "").strip() or sqlite_url(
            instance_dir / "portal.sqlite3"
        )
        return cls(
            instance_dir=instance_dir,
            keys_dir=keys_dir,
            database_url=_checked_database_url(database_url),
            plain_http=_flag(env, "PORTAL_PLAIN_HTTP"),
            max_request_bytes=_megabytes(env, "PORTAL_MAX_REQUEST_MB", default=10),
            blob_dir=_directory(env, "PORTAL_BLOB_DIR", instance_dir / "blobs"),
            max_file_bytes=_megabytes(env, "PORTAL_MAX_FILE_MB", default=100),
            max_files=_count(env, "PORTAL_MAX_FILES", default=5),
            submissions_per_minute=_count(env, "PORTAL_SUBMISSIONS_PER_MINUTE", default=30),
            codename_attempts_per_minute=_count(
                env, "PORTAL_CODENAME_ATTEMPTS_PER_MINUTE", default=30
            ),
            idle_timeout_minutes=_count(env, "PORTAL_IDLE_TIMEOUT_MINUTES", default=15),
            absolute_timeout_hours=_count(env, "PORTAL_ABSOLUTE_TIMEOUT_HOURS", default=8),
            acknowledge_within_days=_count(env, "PORTAL_ACKNOWLEDGE_WITHIN_DAYS", default=7),
            feedback_within_days=_count(env, "PORTAL_FEEDBACK_WITHIN_DAYS", default=91),
            retention_days=_count(env, "PORTAL_RETENTION_DAYS", default=365),
        )


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite database file."""
    return f"sqlite:///{path}"


def _directory(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name, "").strip()
    path = Path(value).expanduser() if value else default
    if not path.is_absolute():
        raise ConfigError(f"{name} must be an absolute path, got {value!r}")
    return path


def _checked_database_url(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _DATABASE_SCHEMES:
        raise ConfigError(
            "PORTAL_DATABASE_URL must start with sqlite:/// or postgresql://, "
            f"got a {scheme or 'blank'} URL"
        )
    return url


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {value!r}")


def _megabytes(env: Mapping[str, str], name: str, *, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default * 1024 * 1024
    if not value.isdigit() or int(value) == 0:
        raise ConfigError(f"{name} must be a whole number of megabytes above 0, got {value!r}")
    return int(value) * 1024 * 1024


def _count(env: Mapping[str, str], name: str, *, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) == 0:
        raise ConfigError(f"{name} must be a whole number above 0, got {value!r}")
    return int(value)
