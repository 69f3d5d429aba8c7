"""What the command-line tests share: the environment a command reads its settings from."""

from __future__ import annotations

import pytest

from portal.config import Settings


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """The command's settings: the same database, folders and blob folder as the test's."""
    return {
        "PORTAL_INSTANCE_DIR": str(settings.instance_dir),
        "PORTAL_KEYS_DIR": str(settings.keys_dir),
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_BLOB_DIR": str(settings.blobs),
        "PORTAL_RETENTION_DAYS": "365",
    }
