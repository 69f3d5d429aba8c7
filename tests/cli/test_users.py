"""`portal users add|list|revoke` and `portal keys recover`, from the recovery file."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import migrate
from portal.cli import main
from portal.custody.host_key import HostKey
from portal.custody.host_key import load_or_create as load_or_create_host_key
from portal.custody.recovery import RECOVERY_FILE, recover_identity
from portal.db import make_engine
from portal.models import AuditEntry, Reviewer, Role
from portal.services import reviewers
from portal.services.reviewers import AccountPolicy, EnrolmentRefused, open_enrolment
from tests.support.reviewers import inspectorate_keys

PASSPHRASE = "a recovery passphrase for these tests"
NOW = datetime.datetime(2026, 11, 25, 12, 0)


@pytest.fixture
def env(tmp_path: Path, empty_database_url: str) -> dict[str, str]:
    """A portal with keys (cheap scrypt) and a migrated database; the passphrase in the env."""
    env = {
        "PORTAL_KEYS_DIR": str(tmp_path / "keys"),
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_DATABASE_URL": empty_database_url,
        "PORTAL_RECOVERY_PASSPHRASE": PASSPHRASE,
    }
    result = CliRunner(env=env).invoke(main, ["keys", "init", "--work-factor", "10"])
    assert result.exit_code == 0, result.output
    migrate.upgrade(empty_database_url)
    return env


@pytest.fixture
def session(env: dict[str, str]) -> Iterator[Session]:
    engine = make_engine(env["PORTAL_DATABASE_URL"])
    with Session(engine) as session:
        yield session
    engine.dispose()


def host_key_of(env: dict[str, str]) -> HostKey:
    """The review-host key the commands used: the one in the portal's instance folder."""
    return load_or_create_host_key(Path(env["PORTAL_INSTANCE_DIR"]))


def portal(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, list(args))
    return result.exit_code, result.output


def test_an_enrolled_administrator_gets_a_password_that_opens_the_identity(
    env: dict[str, str], session: Session, tmp_path: Path
) -> None:
    status, output = portal(env, "users", "add", "ada", "--role", "admin", "--enrolled")

    assert status == 0, output
    password = re.search(r"password:\s+(.+)", output).group(1)  # type: ignore[union-attr]
    assert re.search(r"TOTP key:\s+[A-Z2-7 ]{20,}", output)
    reviewer = session.scalars(select(Reviewer)).one()
    assert (reviewer.username, reviewer.role, reviewer.active) == ("ada", Role.ADMIN, True)
    keyring = reviewers.open_keyring(reviewer, password, host_key_of(env))
    assert keyring is not None and keyring.identity is not None
    inspectorate = recover_identity(tmp_path / "keys" / RECOVERY_FILE, PASSPHRASE)
    assert inspectorate_keys(session, reviewer, keyring) == [str(inspectorate)]
    assert PASSPHRASE not in output


def test_a_new_inspector_gets_a_one_time_enrolment_code(
    env: dict[str, str], session: Session
) -> None:
    status, output = portal(env, "users", "add", "ben")

    assert status == 0, output
    code = output.split("\n\n")[1].strip()
    assert len(code.split()) == 6
    host_key = host_key_of(env)
    with pytest.raises(EnrolmentRefused):
        open_enrolment(
            session,
            username="ben",
            code="wrong " * 6,
            policy=AccountPolicy(),
            host_key=host_key,
            now=NOW,
        )
    reviewer, keyring = open_enrolment(
        session, username="ben", code=code, policy=AccountPolicy(), host_key=host_key, now=NOW
    )
    assert reviewer.role is Role.INSPECTOR and keyring.identity is not None


def test_a_wrong_recovery_passphrase_creates_nothing(env: dict[str, str], session: Session) -> None:
    status, output = portal(
        {**env, "PORTAL_RECOVERY_PASSPHRASE": "not the passphrase at all"}, "users", "add", "eve"
    )

    assert status == 1
    assert "Error: the passphrase does not open this recovery file" in output
    assert "Traceback" not in output
    assert session.scalars(select(Reviewer)).all() == []


def test_list_revoke_and_recover(env: dict[str, str], session: Session) -> None:
    portal(env, "users", "add", "ada", "--role", "admin", "--enrolled")
    portal(env, "users", "add", "ben")

    assert portal(env, "users", "list")[1].splitlines() == [
        "ada\tadmin\tactive",
        "ben\tinspector\twaiting to enrol",
    ]
    assert portal(env, "users", "revoke", "ada")[0] == 0
    status, output = portal(env, "users", "revoke", "ada")
    assert status == 1 and "no active account 'ada'" in output
    assert portal(env, "keys", "recover", "root")[0] == 0

    session.rollback()
    revoked = session.scalars(select(Reviewer).where(Reviewer.username == "ada")).one()
    assert revoked.keyring is None and revoked.revoked_at is not None
    root = session.scalars(select(Reviewer).where(Reviewer.username == "root")).one()
    assert root.role is Role.ADMIN and root.enrolment_hash is not None
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)).all()
    assert actions == ["account_created", "account_created", "account_revoked", "keys_recovered"]
