"""No acknowledged submission is ever lost when the PostgreSQL server restarts under load.

The submission site runs under real gunicorn on a PostgreSQL server of the test's own (never the
machine's shared cluster, which other tests use), restarted with `pg_ctl restart -m fast` every
five seconds or so while eight submitters send reports. A submission that meets the outage must
be told it was not saved (or get no answer at all); one that is acknowledged must be stored.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from portal import crypto, migrate
from portal.submit import CODENAME_SALT_FILE
from tests.support.gunicorn import gunicorn
from tests.support.reliability import Periodically, PrivatePostgres, Submitters, check_ledger

pytestmark = [pytest.mark.gunicorn, pytest.mark.postgres]

WORKERS = 2
SUBMITTERS = 8
SECONDS = 20
RESTART_EVERY_SECONDS = 5


def test_no_acknowledged_report_is_lost_when_postgresql_restarts(
    private_database: PrivatePostgres,
    site_env: dict[str, str],
    instance_dir: Path,
    tmp_path: Path,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    database_url = private_database.create_database("portal")
    migrate.upgrade(database_url)
    env = {**site_env, "PORTAL_DATABASE_URL": database_url}
    logs = tmp_path / "logs"
    logs.mkdir()

    with gunicorn("wsgi:submit_app", env, logs, extra_args=("--workers", str(WORKERS))) as server:
        # When reports are sent for 20 seconds while the database restarts every 5
        with (
            Periodically(
                private_database.restart,
                interval=RESTART_EVERY_SECONDS,
                max_times=SECONDS // RESTART_EVERY_SECONDS + 1,
            ) as restarter,
            Submitters(server.host, server.port, count=SUBMITTERS, seconds=SECONDS) as submitters,
        ):
            pass
        time.sleep(0.2)

    # Then every acknowledged report is stored once, under its codename, and nothing half-way
    ledger = check_ledger(
        submitters,
        database_url=database_url,
        blob_dir=instance_dir / "blobs",
        codename_salt=(instance_dir / CODENAME_SALT_FILE).read_bytes(),
        identity=inspectorate_identity,
    )
    print(ledger.summary(f"PostgreSQL, restarted {restarter.times} times"))
    assert not restarter.errors, restarter.errors
    assert restarter.times >= SECONDS // RESTART_EVERY_SECONDS - 1, "too few restarts"
    assert not ledger.problems, "\n".join(ledger.problems[:50])
    assert ledger.acknowledged >= 30, "too few reports got through to show anything"
    assert ledger.acknowledged == ledger.acknowledged_and_stored
    # No worker was killed: every request got an answer, and only acknowledged ones are stored
    assert ledger.no_answer == 0
    assert ledger.stored == ledger.acknowledged
