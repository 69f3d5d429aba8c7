"""What the command-line tests share: the environment a command reads its settings from."""

from __future__ import annotations

import pytest

from portal.config import Settings
from tests.support.environment import environment_for


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """The command's settings: the same database, folders and blob folder as the test's."""
    return {**environment_for(settings), "PORTAL_RETENTION_DAYS": "365"}
