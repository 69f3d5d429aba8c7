"""A command's action and its audit entry are kept together or not at all.

For every audited command, the database refuses the audit entry (as a full disk would) when the
command records it. The command must then keep nothing of what it did: no account, no revoked
keys, no destroyed report or file. It says so in one line, with exit status 1.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.cli import main
from portal.config import Settings
from portal.custody.recovery import create_keys
from portal.models import (
    Attachment,
    AuditEntry,
    EpochGrant,
    EpochState,
    KeyEpoch,
    Outcome,
    Report,
    ReportKind,
    ReportStatus,
    Reviewer,
)
from portal.services import transaction
from portal.services.audit import AuditAction
from portal.services.blobs import BlobStore
from tests.review.test_audit_atomicity import ACTIONS_OF_THE_COMMAND_LINE
from tests.support.atomicity import audit_writes_fail, state_of
from tests.support.environment import environment_for

PASSPHRASE = "a recovery passphrase for these tests"
TODAY = datetime.datetime.now(datetime.UTC).date()


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The command's settings, with keys made by `portal keys init`'s own code (cheap scrypt),
    an account to revoke, and a closed report with a file that retention may destroy."""
    keys_dir = tmp_path / "cli-keys"
    create_keys(keys_dir, PASSPHRASE, work_factor=10)
    env = {
        **environment_for(settings),
        "PORTAL_KEYS_DIR": str(keys_dir),
        "PORTAL_RECOVERY_PASSPHRASE": PASSPHRASE,
        "PORTAL_RETENTION_DAYS": "30",
    }
    status, output = portal(env, "users", "add", "ivy")
    assert status == 0, output
    return env


def portal(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, list(args))
    return result.exit_code, result.output


def _closed_report_with_a_file(session: Session, settings: Settings) -> None:
    identity = crypto.generate_identity("pq")
    blobs = BlobStore(settings.blobs)
    blob = blobs.create()
    blob.write(crypto.encrypt(b"evidence", [identity.recipient()]))
    report = Report(
        kind=ReportKind.OTHER,
        received_on=TODAY - datetime.timedelta(days=400),
        content=crypto.encrypt(b"{}", [identity.recipient()]),
        status=ReportStatus.CLOSED,
        closed_on=TODAY - datetime.timedelta(days=100),
        outcome=Outcome.NO_ACTION,
    )
    session.add(report)
    session.add(Attachment(id=blob.id, report=report, details=b"sealed elsewhere"))
    transaction.stage(session, blob)
    transaction.finish(session)


def _without_grants(session: Session, username: str) -> None:
    """As an account from before key epochs is, when its owner signs in after a rotation."""
    reviewer = session.scalars(select(Reviewer).where(Reviewer.username == username)).one()
    session.execute(delete(EpochGrant).where(EpochGrant.reviewer_id == reviewer.id))
    session.commit()


COMMANDS: dict[str, tuple[set[AuditAction], Callable[[Session, Settings], list[str]]]] = {
    "add an account": ({AuditAction.ACCOUNT_CREATED}, lambda *_: ["users", "add", "ben"]),
    "add an enrolled account": (
        {AuditAction.ACCOUNT_CREATED},
        lambda *_: ["users", "add", "ben", "--enrolled"],
    ),
    "revoke an account": ({AuditAction.ACCOUNT_REVOKED}, lambda *_: ["users", "revoke", "ivy"]),
    "recover the keys": ({AuditAction.KEYS_RECOVERED}, lambda *_: ["keys", "recover", "newadmin"]),
    "run retention": (
        {AuditAction.REPORT_DESTROYED, AuditAction.RETENTION_RUN},
        lambda session, settings: (
            _closed_report_with_a_file(session, settings) or ["retention", "run"]
        ),
    ),
    "verify the audit log": ({AuditAction.AUDIT_VERIFIED}, lambda *_: ["audit", "verify"]),
    "rotate the keys": ({AuditAction.KEYS_ROTATED}, lambda *_: ["keys", "rotate"]),
    "grant missing keys": (
        {AuditAction.KEYS_GRANTED},
        lambda session, _settings: _without_grants(session, "ivy") or ["users", "grant", "ivy"],
    ),
}


def test_every_audited_action_of_the_command_line_is_tried() -> None:
    covered = set().union(*(actions for actions, _ in COMMANDS.values()))
    retiring = {AuditAction.EPOCH_RETIRED}  # below, on its own: re-keying keeps its batches
    assert covered | retiring >= ACTIONS_OF_THE_COMMAND_LINE


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_whose_audit_entry_fails_keeps_nothing(
    name: str, env: dict[str, str], session: Session, settings: Settings
) -> None:
    # Given what the command needs, prepared while the audit log still works
    arguments = COMMANDS[name][1](session, settings)
    entries_before = len(session.scalars(select(AuditEntry)).all())
    before = state_of(session, settings.blobs)
    keys_before = _files(Path(env["PORTAL_KEYS_DIR"]))

    # When the command runs and its audit entries cannot be written
    with audit_writes_fail():
        status, output = portal(env, *arguments)

    # Then it fails, saying so in plain words, and nothing of what it did was kept
    assert status == 1, output
    assert "Traceback" not in output
    assert "No space left on device" not in output  # the failure's own words are not shown
    assert state_of(session, settings.blobs) == before
    assert len(session.scalars(select(AuditEntry)).all()) == entries_before
    assert _files(Path(env["PORTAL_KEYS_DIR"])) == keys_before  # no recipients file changed


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_retiring_an_epoch_whose_audit_entry_fails_keeps_the_epoch_and_its_grants(
    env: dict[str, str], session: Session
) -> None:
    # Given a rotation, so epoch 1 is waiting to be retired
    assert portal(env, "keys", "rotate")[0] == 0
    grants = _grants(session)

    # When re-keying runs and the retirement's audit entry cannot be written
    with audit_writes_fail():
        status, output = portal(env, "keys", "rekey")

    # Then it fails in one line, and epoch 1 is not retired: its grants are all there. (What the
    # batches moved stays moved: each was committed as it went, and the next run goes on.)
    assert status == 1, output
    assert "Traceback" not in output
    session.rollback()
    assert session.get_one(KeyEpoch, 1).state is EpochState.PREVIOUS
    assert _grants(session) == grants


def _grants(session: Session) -> list[tuple[int, str]]:
    session.rollback()
    rows = session.execute(select(EpochGrant.epoch_number, EpochGrant.reviewer_id))
    return sorted((number, str(reviewer_id)) for number, reviewer_id in rows)
