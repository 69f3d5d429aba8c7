"""`portal retention run`, as cron runs it, against SQLite and PostgreSQL.

The command takes today's real UTC date, so reports here are closed relative to it.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.cli import main
from portal.config import Settings
from portal.models import AuditEntry, Outcome, Report, ReportKind, ReportStatus
from portal.services.audit import verify_chain
from portal.services.blobs import BlobStore
from tests.support.environment import environment_for

TODAY = datetime.datetime.now(datetime.UTC).date()


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """The command's settings: the same database, folders and blob folder as the test's."""
    return {**environment_for(settings), "PORTAL_RETENTION_DAYS": "365"}


def _run(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=env).invoke(main, ["retention", "run", *arguments])


def _report(
    engine: Engine, identity: crypto.HybridIdentity, *, closed_days_ago: int | None
) -> uuid.UUID:
    """A report closed that many days ago (None: still open)."""
    closed = closed_days_ago is not None
    with Session(engine) as session:
        report = Report(
            kind=ReportKind.WORKLOAD,
            received_on=TODAY - datetime.timedelta(days=800),
            content=crypto.encrypt(b'{"caseload": 72}', [identity.recipient()]),
            status=ReportStatus.CLOSED if closed else ReportStatus.ASSESSING,
            closed_on=TODAY - datetime.timedelta(days=closed_days_ago) if closed else None,
            outcome=Outcome.ACTION_TAKEN if closed else None,
        )
        session.add(report)
        session.flush()
        report_id = report.id
        session.commit()
    return report_id


def _reports(engine: Engine) -> set[uuid.UUID]:
    with Session(engine) as session:
        return set(session.scalars(select(Report.id)))


def _entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)))


def test_dry_run_says_what_would_go_and_changes_nothing(
    engine: Engine, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given two reports closed 400 days ago, one 500 days ago, one recently, one open
    for days in (400, 400, 500, 10, None):
        _report(engine, inspectorate_identity, closed_days_ago=days)
    before = _reports(engine)

    # When an administrator asks what a run would do
    result = _run(env, "--dry-run")

    # Then they are told how many and their closing dates, and nothing is destroyed or logged
    assert result.exit_code == 0, result.output
    cutoff = TODAY - datetime.timedelta(days=365)
    assert result.output.splitlines() == [
        f"Would destroy 3 reports closed on or before {cutoff} (retention 365 days), "
        "and 0 orphan blob files.",
        f"  closed {TODAY - datetime.timedelta(days=500)}: 1 report",
        f"  closed {TODAY - datetime.timedelta(days=400)}: 2 reports",
    ]
    assert _reports(engine) == before
    assert _entries(engine) == []


def test_run_destroys_due_reports_prints_one_line_and_logs_it(
    engine: Engine, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given one due report, one recently closed and one open
    due = _report(engine, inspectorate_identity, closed_days_ago=400)
    kept = {
        _report(engine, inspectorate_identity, closed_days_ago=10),
        _report(engine, inspectorate_identity, closed_days_ago=None),
    }

    # When the command runs
    result = _run(env)

    # Then only the due report is gone, one line says so, and the log records it
    assert result.exit_code == 0, result.output
    cutoff = TODAY - datetime.timedelta(days=365)
    assert result.output == (
        f"Destroyed 1 report closed on or before {cutoff} (retention 365 days): "
        "0 blob files and 0 orphan blob files overwritten and removed.\n"
    )
    assert _reports(engine) == kept
    entries = _entries(engine)
    assert [(entry.actor, entry.action, entry.subject) for entry in entries] == [
        ("portal-cli", "report_destroyed", str(due)),
        ("portal-cli", "retention_run", None),
    ]
    with Session(engine) as session:
        assert verify_chain(session).ok


def test_run_with_nothing_to_do_is_silent_for_cron_unless_verbose(
    engine: Engine, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given only a recently closed report
    _report(engine, inspectorate_identity, closed_days_ago=10)

    # When the command runs, then again with --verbose
    quiet = _run(env)
    verbose = _run(env, "--verbose")

    # Then the first prints nothing, the second its summary; both runs are in the log
    assert (quiet.exit_code, quiet.output) == (0, "")
    assert verbose.exit_code == 0
    assert verbose.output.startswith("Destroyed 0 reports closed on or before ")
    assert [entry.action for entry in _entries(engine)] == ["retention_run", "retention_run"]


def test_days_overrides_the_configured_retention(
    engine: Engine, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a report closed 40 days ago, and a configured retention of 365 days
    report_id = _report(engine, inspectorate_identity, closed_days_ago=40)

    # When the command runs with --days 30
    result = _run(env, "--days", "30")

    # Then the report is destroyed, and the log says which retention applied
    assert result.exit_code == 0, result.output
    assert "(retention 30 days)" in result.output
    assert report_id not in _reports(engine)
    assert json.loads(_entries(engine)[-1].detail)["retention_days"] == 30


def test_days_must_be_at_least_one(env: dict[str, str]) -> None:
    result = _run(env, "--days", "0")

    assert result.exit_code == 2
    assert "--days" in result.output


def test_a_problem_is_printed_on_stderr_with_exit_status_1(
    settings: Settings, engine: Engine, env: dict[str, str]
) -> None:
    # Given something in the blob folder with an orphan blob's name that cannot be overwritten
    # (a directory), old enough to be removed
    blobs = BlobStore(settings.blobs)
    stuck = blobs.path_of(uuid.uuid4())
    stuck.mkdir(parents=True)
    moment = stuck.stat().st_mtime - 2 * 60 * 60
    os.utime(stuck, (moment, moment))

    # When the command runs
    result = _run(env)

    # Then it fails, with the summary on stdout and the problem on stderr
    assert result.exit_code == 1
    assert result.stdout.startswith("Destroyed 0 reports")
    assert result.stdout.rstrip().endswith("; 1 problem.")
    assert result.stderr.startswith(f"  blob file {stuck.name}: not removed (")
    assert json.loads(_entries(engine)[-1].detail)["problems"] == 1
