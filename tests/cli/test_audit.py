"""`portal audit verify` and `portal audit show`, against SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal import crypto
from portal.cli import main
from portal.config import Settings, sqlite_url
from portal.custody import audit_signing
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.db import make_engine
from portal.models import AuditEntry, Report, ReportKind
from portal.services.audit import AuditAction, record, session_info, verify_chain
from tests.support.audit_log import past_the_triggers

NOW = datetime.datetime(2025, 3, 1, 9, 30, 0)


def _run(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=env).invoke(main, ["audit", *arguments])


def _populate(settings: Settings, recipient: crypto.Recipient) -> str:
    """Three entries, signed as the review host signs them, and one encrypted report; returns
    the log's head hash. The review-host key is in the instance folder, as on the review host."""
    signer = audit_signing.signer(load_or_create_host_key(settings.instance_dir))
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, info=session_info(signer)) as session:
            session.add(
                Report(
                    kind=ReportKind.WORKLOAD,
                    received_on=NOW.date(),
                    content=crypto.encrypt(b'{"caseload": 72}', [recipient]),
                )
            )
            record(session, actor="inspector", action=AuditAction.SIGN_IN, now=NOW)
            record(
                session,
                actor="inspector",
                action=AuditAction.TRIAGE_CHANGED,
                subject="report-1",
                detail={"status": "escalated"},
                now=NOW,
            )
            record(session, actor="inspector", action=AuditAction.SIGN_OUT, now=NOW)
            session.commit()
            return verify_chain(session).head_hash
    finally:
        engine.dispose()


def _execute(settings: Settings, statement: str, **values: object) -> None:
    """`statement` run by a database writer who gets round the audit log's triggers."""
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection, past_the_triggers(connection):
            connection.execute(text(statement), values)
    finally:
        engine.dispose()


def _entries(settings: Settings) -> list[AuditEntry]:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)))
    finally:
        engine.dispose()


def test_verify_on_a_clean_database_exits_0_prints_the_head_and_logs_the_check(
    settings: Settings, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a log of three entries and one stored report
    head = _populate(settings, inspectorate_identity.recipient())

    # When an auditor runs the check
    result = _run(env, "verify")

    # Then both checks pass, the head is printed, and the check itself is now in the log
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Audit log: 3 entries, chain intact. Head: {head}",
        "Signatures: 3 of 3 entries signed, checked with this review host's key",
        "Stored ciphertexts: 1 checked, all well-formed age files",
        "Row bindings: 0 bound rows checked, all match",
        "  1 rows not bound yet: no inspector has opened them since bindings began.",
        f"This check was recorded as audit entry {_entries(settings)[-1].sequence}.",
    ]
    last = _entries(settings)[-1]
    assert (last.actor, last.action) == ("portal-cli", "audit_verified")
    assert json.loads(last.detail) == {"ok": True, "entries": 3}


def test_verify_on_a_tampered_database_exits_1_and_names_each_problem(
    settings: Settings, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a log with one entry's action changed, and a report stored as plaintext
    _populate(settings, inspectorate_identity.recipient())
    second = _entries(settings)[1].sequence
    _execute(settings, "UPDATE audit_log SET action = 'sign_in' WHERE sequence = :s", s=second)
    _execute(
        settings, "UPDATE report_contents SET content = :plaintext", plaintext=b'{"caseload": 72}'
    )

    # When the check runs
    result = _run(env, "verify")

    # Then it fails, says what is wrong, and the failed check is logged too
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("Audit log: 3 entries, 1 problem. Head: ")
    assert lines[1] == f"  entry {second}: its hash does not match its contents (modified)"
    assert lines[2].startswith("Signatures: 3 of 3 entries signed")
    assert lines[3] == "Stored ciphertexts: 1 checked, 1 problem"
    assert lines[4].startswith("  report_contents.content, row ")
    assert lines[4].endswith("not an age v1 file (it does not start with the age version line)")
    assert json.loads(_entries(settings)[-1].detail) == {"ok": False, "entries": 3}
    assert "caseload" not in result.output


def test_verify_with_the_earlier_head_catches_entries_cut_from_the_end(
    settings: Settings, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    # Given a head an auditor wrote down, and later every entry from it onwards deleted
    head = _populate(settings, inspectorate_identity.recipient())
    assert _run(env, "verify").exit_code == 0
    cut_from = _entries(settings)[2].sequence
    _execute(settings, "DELETE FROM audit_log WHERE sequence >= :cut_from", cut_from=cut_from)

    # When the check runs without and then with the written-down head
    alone = _run(env, "verify")
    with_head = _run(env, "verify", "--expected-head", head)

    # Then only the second sees that the log was cut back
    assert alone.exit_code == 0, alone.output
    assert with_head.exit_code == 1
    assert f"  the head recorded earlier ({head}) is no longer in the log" in with_head.output


def test_verify_refuses_an_expected_head_that_is_not_a_hash(env: dict[str, str]) -> None:
    result = _run(env, "verify", "--expected-head", "abc")

    assert result.exit_code == 2
    assert "must be a hash of 64 hex digits" in result.output


def test_show_prints_the_last_entries_without_their_detail(
    settings: Settings, env: dict[str, str], inspectorate_identity: crypto.HybridIdentity
) -> None:
    _populate(settings, inspectorate_identity.recipient())
    _first, second, third = (entry.sequence for entry in _entries(settings))

    result = _run(env, "show", "--last", "2")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{second:>8}  2025-03-01T09:30:00Z  inspector  triage_changed  report-1",
        f"{third:>8}  2025-03-01T09:30:00Z  inspector  sign_out  -",
    ]
    assert "escalated" not in result.output


def test_show_on_an_empty_log_says_so(env: dict[str, str]) -> None:
    result = _run(env, "show")

    assert result.exit_code == 0
    assert result.output == "The audit log is empty.\n"


def test_an_unmigrated_database_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_DATABASE_URL": sqlite_url(tmp_path / "empty.sqlite3"),
    }

    result = _run(env, "verify")

    assert result.exit_code == 1
    assert result.output.startswith("Error: the database is at revision base (empty), not ")
    assert result.output.endswith(": run `portal db upgrade`\n")
