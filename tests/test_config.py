"""Settings: safe defaults, and one clear line for anything unsafe or malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.config import PROJECT_ROOT, ConfigError, Settings
from portal.files import UnsafeFolder, ensure_private_dir


def test_defaults_put_sqlite_in_the_instance_folder_and_keys_beside_the_package() -> None:
    settings = Settings.from_env({})

    assert settings.instance_dir == PROJECT_ROOT / "instance"
    assert settings.keys_dir == PROJECT_ROOT / "keys"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'portal.sqlite3'}"
    assert settings.plain_http is False


def test_environment_overrides_every_default(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "PORTAL_INSTANCE_DIR": str(tmp_path / "state"),
            "PORTAL_KEYS_DIR": str(tmp_path / "public-keys"),
            "PORTAL_DATABASE_URL": "postgresql+psycopg://portal@db.internal/portal",
            "PORTAL_PLAIN_HTTP": "1",
            "PORTAL_MAX_REQUEST_MB": "3",
        }
    )

    assert settings.instance_dir == tmp_path / "state"
    assert settings.keys_dir == tmp_path / "public-keys"
    assert settings.database_url == "postgresql+psycopg://portal@db.internal/portal"
    assert settings.plain_http is True
    assert settings.max_request_bytes == 3 * 1024 * 1024


def test_the_default_database_follows_the_instance_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"PORTAL_INSTANCE_DIR": str(tmp_path)})

    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.sqlite3'}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORTAL_DATABASE_URL", "mysql://root@localhost/portal", "must start with sqlite"),
        ("PORTAL_INSTANCE_DIR", "relative/instance", "must be an absolute path"),
        ("PORTAL_KEYS_DIR", "keys", "must be an absolute path"),
        ("PORTAL_PLAIN_HTTP", "maybe", "must be 1 or 0"),
        ("PORTAL_MAX_REQUEST_MB", "ten", "whole number of megabytes"),
        ("PORTAL_MAX_REQUEST_MB", "0", "whole number of megabytes"),
    ],
)
def test_a_bad_setting_is_refused_in_one_line_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({variable: value})

    text = str(refused.value)
    assert variable in text
    assert message in text
    assert "\n" not in text


def test_a_database_url_with_a_password_is_not_echoed_when_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"PORTAL_DATABASE_URL": "mysql://admin:hunter2@db/portal"})

    assert "hunter2" not in str(refused.value)


def test_a_private_folder_is_created_for_the_owner_only(tmp_path: Path) -> None:
    folder = ensure_private_dir(tmp_path / "instance")

    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_folder_other_users_can_write_to_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)

    with pytest.raises(UnsafeFolder, match="writable by other users"):
        ensure_private_dir(folder)
