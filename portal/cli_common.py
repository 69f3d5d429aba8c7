"""What every `portal` subcommand shares: settings from the environment, a given passphrase."""

from __future__ import annotations

import os
from pathlib import Path

from portal.config import Settings
from portal.files import ensure_private_dir


def settings_from_env() -> Settings:
    settings = Settings.from_env()
    ensure_private_dir(settings.instance_dir)
    return settings


def given_passphrase(passphrase_file: Path | None) -> str | None:
    """The recovery passphrase from --passphrase-file or PORTAL_RECOVERY_PASSPHRASE, if given."""
    if passphrase_file is not None:
        return passphrase_file.read_text(encoding="utf-8").strip("\r\n")
    return os.environ.get("PORTAL_RECOVERY_PASSPHRASE") or None
