"""The Flask secret keys: made on first run, private to the owner, identical across workers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from portal.config import ConfigError
from portal.instance import SECRET_KEY_BYTES, load_or_create_secret_key


def test_first_use_creates_a_random_key_readable_by_the_owner_only(tmp_path: Path) -> None:
    key = load_or_create_secret_key(tmp_path / "instance", "submit-secret-key")

    path = tmp_path / "instance" / "submit-secret-key"
    assert len(key) == SECRET_KEY_BYTES
    assert path.read_bytes() == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret_key(tmp_path / "instance", "other-key") != key


def test_later_uses_return_the_same_key(tmp_path: Path) -> None:
    first = load_or_create_secret_key(tmp_path, "review-secret-key")

    assert load_or_create_secret_key(tmp_path, "review-secret-key") == first


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_or_create_secret_key(tmp_path, "submit-secret-key")
    (tmp_path / "submit-secret-key").chmod(0o644)

    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_secret_key(tmp_path, "submit-secret-key")


def test_a_truncated_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "submit-secret-key"
    path.write_bytes(b"short")
    path.chmod(0o600)

    with pytest.raises(ConfigError, match="damaged"):
        load_or_create_secret_key(tmp_path, "submit-secret-key")


def _load_key(folder: str) -> bytes:
    return load_or_create_secret_key(Path(folder), "race-secret-key")


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with multiprocessing.get_context("fork").Pool(8) as pool:
        keys = pool.map(_load_key, [str(tmp_path)] * 32)

    assert len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race-secret-key"]
