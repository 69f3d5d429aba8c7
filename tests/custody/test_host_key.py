"""The review-host key: made once, private to the service's user, and what it seals stays put."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from portal.custody import host_key as host_keys
from portal.custody.host_key import (
    CREDENTIAL_NAME,
    HOST_KEY_FILE,
    HostKey,
    HostKeyError,
    SealBroken,
)
from portal.custody.keyrings import Keyring, unwrap_keyring, wrap_keyring


def test_the_key_is_made_once_private_and_then_read_back(tmp_path: Path) -> None:
    first = host_keys.load_or_create(tmp_path / "instance")
    path = tmp_path / "instance" / HOST_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert host_keys.load_or_create(tmp_path / "instance").secret == first.secret
    assert first.secret not in repr(first).encode()


def test_a_systemd_credential_is_preferred_to_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    secret = os.urandom(32)
    (credentials / CREDENTIAL_NAME).write_bytes(secret)
    (credentials / CREDENTIAL_NAME).chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    assert host_keys.load_or_create(tmp_path / "instance").secret == secret
    assert not (tmp_path / "instance" / HOST_KEY_FILE).exists()


@pytest.mark.parametrize(
    ("mode", "content", "reason"),
    [
        (0o644, os.urandom(32), "readable by other users"),
        (0o600, os.urandom(31), "not a review-host key"),
    ],
)
def test_a_key_file_that_is_shared_or_damaged_is_refused_with_one_line(
    tmp_path: Path, mode: int, content: bytes, reason: str
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o700)
    path = instance / HOST_KEY_FILE
    path.write_bytes(content)
    path.chmod(mode)
    with pytest.raises(HostKeyError, match=reason) as refused:
        host_keys.load_or_create(instance)
    assert "\n" not in str(refused.value)


def test_what_is_sealed_opens_only_with_its_key_purpose_and_row() -> None:
    key, other = HostKey(os.urandom(32)), HostKey(os.urandom(32))
    row, another_row = uuid.uuid4().bytes, uuid.uuid4().bytes
    sealed = key.seal("totp-secret", b"secret", bound_to=row)

    assert key.open("totp-secret", sealed, bound_to=row) == b"secret"
    for opener, purpose, bound_to in [
        (other, "totp-secret", row),  # another host's key
        (key, "keyring", row),  # moved to another use
        (key, "totp-secret", another_row),  # moved to another row
    ]:
        with pytest.raises(SealBroken):
            opener.open(purpose, sealed, bound_to=bound_to)


def test_a_keyring_needs_both_the_password_and_the_host_key() -> None:
    key, reviewer_id = HostKey(os.urandom(32)), uuid.uuid4()
    keyring = Keyring(totp_secret=os.urandom(20), identity=None)
    wrapped = wrap_keyring(
        keyring, "a password", work_factor=4, host_key=key, reviewer_id=reviewer_id
    )

    opened = unwrap_keyring(wrapped, "a password", host_key=key, reviewer_id=reviewer_id)
    assert opened is not None and opened.totp_secret == keyring.totp_secret
    assert unwrap_keyring(wrapped, "another", host_key=key, reviewer_id=reviewer_id) is None
    with pytest.raises(SealBroken):
        unwrap_keyring(
            wrapped, "a password", host_key=HostKey(os.urandom(32)), reviewer_id=reviewer_id
        )
