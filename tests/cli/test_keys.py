"""`portal keys init` and `portal keys show`, interactive and non-interactive."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import main
from portal.custody.recovery import RECOVERY_FILE, recover_identity
from portal.recipients import RECIPIENTS_FILE, read_recipients

CHEAP = ["--work-factor", "10"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PORTAL_KEYS_DIR": str(tmp_path / "keys"),
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_RECOVERY_PASSPHRASE": "",
    }


def test_init_shows_a_generated_passphrase_once_and_it_opens_the_recovery_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = CliRunner(env=env).invoke(main, ["keys", "init", *CHEAP])

    assert result.exit_code == 0, result.output
    passphrase = result.output.split("\n\n")[-2].strip()
    assert len(passphrase.split()) == 10
    identity = recover_identity(tmp_path / "keys" / RECOVERY_FILE, passphrase)
    assert read_recipients(tmp_path / "keys") == (identity.recipient(),)
    assert "post-quantum" in result.output


def test_init_from_a_passphrase_file_prints_no_passphrase(
    env: dict[str, str], tmp_path: Path
) -> None:
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("a passphrase given by automation\n")

    result = CliRunner(env=env).invoke(
        main, ["keys", "init", "--x25519", "--passphrase-file", str(secret_file), *CHEAP]
    )

    assert result.exit_code == 0, result.output
    assert "passphrase given by automation" not in result.output
    assert "shown only this once" not in result.output
    identity = recover_identity(
        tmp_path / "keys" / RECOVERY_FILE, "a passphrase given by automation"
    )
    assert str(identity.recipient()).startswith("age1") and "X25519" in result.output


def test_init_from_the_environment(env: dict[str, str], tmp_path: Path) -> None:
    env["PORTAL_RECOVERY_PASSPHRASE"] = "a passphrase from the environment"

    result = CliRunner(env=env).invoke(main, ["keys", "init", "--development", *CHEAP])

    assert result.exit_code == 0, result.output
    assert "DEVELOPMENT" in result.output
    assert "from the environment" not in result.output
    recover_identity(tmp_path / "keys" / RECOVERY_FILE, "a passphrase from the environment")


def test_init_twice_is_refused_in_one_line(env: dict[str, str]) -> None:
    runner = CliRunner(env=env)
    runner.invoke(main, ["keys", "init", *CHEAP])

    again = runner.invoke(main, ["keys", "init", *CHEAP])

    assert again.exit_code == 1
    assert again.output.startswith("Error: ")
    assert "already exists: keys are never replaced in place" in again.output
    assert again.output.count("\n") == 1


def test_show_prints_the_recipients(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner(env=env)
    runner.invoke(main, ["keys", "init", *CHEAP])

    shown = runner.invoke(main, ["keys", "show"])

    assert shown.exit_code == 0
    assert shown.output.strip() == str(read_recipients(tmp_path / "keys")[0])
    assert (tmp_path / "keys" / RECIPIENTS_FILE).read_text().count(shown.output.strip()) == 1


def test_show_without_keys_says_what_to_run(env: dict[str, str]) -> None:
    shown = CliRunner(env=env).invoke(main, ["keys", "show"])

    assert shown.exit_code == 1
    assert "run `portal keys init`" in shown.output
