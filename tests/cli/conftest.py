"""What the command-line tests share: the environment a command reads its settings from."""

from __future__ import annotations

import pytest

from portal.config import Settings
from portal.custody.host_key import HostKey
from tests.support.environment import environment_for


@pytest.fixture
def env(settings: Settings, host_key: HostKey) -> dict[str, str]:
    """The command's settings: the same database, folders and blob folder as the test's. The
    instance folder holds the review-host key: commands run as on the review host, so the
    audit entries they append are signed."""
    return {**environment_for(settings), "PORTAL_RETENTION_DAYS": "365"}
