"""No acknowledged submission is ever lost, even when gunicorn workers die mid-request.

Eight submitters send reports (some with a file) to a real gunicorn serving the submission site
on SQLite, while a worker is killed with SIGKILL every two seconds or so (gunicorn starts a new
one). A killed worker cannot answer the requests it was serving: those clients see the
connection reset, and cannot know whether their report was kept. What the portal promises is:
every report whose codename page was served is stored, exactly once, under that codename, and
decrypts to what was sent; no report is stored that its sender was told was not saved; nothing
is stored half-way; and what a killed request leaves in the blob folder (an upload still staged,
or, killed between publishing it and committing its row, a published blob that decrypts to that
request's file) is ciphertext, which `portal retention run` removes as an orphan.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from portal import crypto, migrate
from portal.config import sqlite_url
from portal.submit import CODENAME_SALT_FILE
from tests.support.gunicorn import gunicorn
from tests.support.reliability import (
    Periodically,
    Submitters,
    check_ledger,
    gunicorn_master,
    kill_a_worker,
    wait_for_workers,
)

pytestmark = pytest.mark.gunicorn

WORKERS = 2
SUBMITTERS = 8
SECONDS = 30
KILL_EVERY_SECONDS = 2


def test_no_acknowledged_report_is_lost_when_workers_are_killed(
    site_env: dict[str, str],
    instance_dir: Path,
    tmp_path: Path,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    database_url = sqlite_url(instance_dir / "portal.sqlite3")
    migrate.upgrade(database_url)
    env = {**site_env, "PORTAL_DATABASE_URL": database_url}
    logs = tmp_path / "logs"
    logs.mkdir()

    with gunicorn("wsgi:submit_app", env, logs, extra_args=("--workers", str(WORKERS))) as server:
        master = gunicorn_master(server.port)
        wait_for_workers(master, WORKERS)
        # When reports are sent for 30 seconds while workers are killed at random
        with (
            Periodically(
                kill_a_worker(master, random.Random(7)),  # noqa: S311 (not a secret)
                interval=KILL_EVERY_SECONDS,
                max_times=SECONDS // KILL_EVERY_SECONDS + 2,
            ) as killer,
            Submitters(server.host, server.port, count=SUBMITTERS, seconds=SECONDS) as submitters,
        ):
            pass
        # gunicorn replaced every killed worker
        wait_for_workers(master, WORKERS)
        time.sleep(0.2)

    # Then every acknowledged report is stored once, under its codename, and nothing half-way
    ledger = check_ledger(
        submitters,
        database_url=database_url,
        blob_dir=instance_dir / "blobs",
        codename_salt=(instance_dir / CODENAME_SALT_FILE).read_bytes(),
        identity=inspectorate_identity,
    )
    print(ledger.summary(f"SQLite, {killer.times} workers killed"))
    assert not killer.errors, killer.errors
    assert killer.times >= SECONDS // KILL_EVERY_SECONDS - 3, "too few workers were killed"
    assert not ledger.problems, "\n".join(ledger.problems[:50])
    assert ledger.acknowledged >= 50, "too few reports got through to show anything"
    assert ledger.acknowledged == ledger.acknowledged_and_stored
    assert ledger.stored == ledger.acknowledged + ledger.no_answer_but_stored
