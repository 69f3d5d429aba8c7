"""What the reliability tests share: the environment of a submission site under real gunicorn."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.components import unavailable
from tests.support.reliability import NoPostgres, PrivatePostgres, private_postgres

# Far above what the submitters can reach: the global rate limit must not answer for the test.
UNLIMITED = "100000"


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def site_env(instance_dir: Path, keys_dir: Path) -> dict[str, str]:
    """The submission site's settings, less the database, over plain HTTP (as on an onion
    service), with the rate limits out of the way."""
    return {
        "PORTAL_INSTANCE_DIR": str(instance_dir),
        "PORTAL_KEYS_DIR": str(keys_dir),
        "PORTAL_PLAIN_HTTP": "1",
        "PORTAL_SUBMISSIONS_PER_MINUTE": UNLIMITED,
        "PORTAL_CODENAME_ATTEMPTS_PER_MINUTE": UNLIMITED,
    }


@pytest.fixture
def private_database() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own: restarting it disturbs no other test."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(private_postgres())
        except NoPostgres as missing:
            unavailable(str(missing))
        yield server
