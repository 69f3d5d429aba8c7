"""The `portal` command: database migrations, and one-line errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from portal import migrate
from portal.cli import main


@pytest.fixture
def env(tmp_path: Path, empty_database_url: str) -> dict[str, str]:
    return {
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_DATABASE_URL": empty_database_url,
    }


def test_db_upgrade_current_and_downgrade(env: dict[str, str]) -> None:
    runner = CliRunner(env=env)

    before = runner.invoke(main, ["db", "current"])
    upgraded = runner.invoke(main, ["db", "upgrade"])
    current = runner.invoke(main, ["db", "current"])
    downgraded = runner.invoke(main, ["db", "downgrade", "base"])

    head = migrate.head_revision()
    assert before.output == f"empty (newest is {head}: run `portal db upgrade`)\n"
    assert upgraded.exit_code == 0 and upgraded.output == f"Database is at revision {head}.\n"
    assert current.output == f"{head} (up to date)\n"
    assert downgraded.output == "Database is at revision base (empty).\n"
    assert migrate.current_revision(env["PORTAL_DATABASE_URL"]) is None


def test_the_default_sqlite_database_is_created_in_a_private_instance_folder(
    tmp_path: Path,
) -> None:
    instance = tmp_path / "instance"

    result = CliRunner(env={"PORTAL_INSTANCE_DIR": str(instance)}).invoke(main, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert (instance / "portal.sqlite3").is_file()
    assert instance.stat().st_mode & 0o777 == 0o700


def test_bad_settings_end_the_command_with_one_line() -> None:
    runner = CliRunner(env={"PORTAL_DATABASE_URL": "mysql://root@db/portal"})

    result = runner.invoke(main, ["db", "upgrade"])

    assert result.exit_code == 1
    assert result.output == (
        "Error: PORTAL_DATABASE_URL must start with sqlite:/// or postgresql://, got a mysql URL\n"
    )
