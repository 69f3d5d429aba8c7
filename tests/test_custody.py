"""Key custody: the identity is created once and only ever written encrypted."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal import crypto
from portal.custody.recovery import (
    DEVELOPMENT_WARNING,
    RECOVERY_FILE,
    CustodyError,
    create_keys,
    new_recovery_passphrase,
    recover_identity,
)
from portal.recipients import RECIPIENTS_FILE, read_recipients
from portal.wordlist import BITS_PER_WORD

PASSPHRASE = "correct horse battery staple for tests"
CHEAP = 10  # scrypt work factor for tests; deployments use 18


def test_keys_are_a_public_recipient_and_an_encrypted_recovery_file(tmp_path: Path) -> None:
    created = create_keys(tmp_path, PASSPHRASE, work_factor=CHEAP)

    recipients = (tmp_path / RECIPIENTS_FILE).read_bytes()
    recovery = (tmp_path / RECOVERY_FILE).read_bytes()
    assert read_recipients(tmp_path) == (created.identity.recipient(),)
    assert str(created.identity.recipient()).startswith("age1pq1")
    assert b"AGE-SECRET-KEY" not in recipients + recovery
    assert str(created.identity).encode() not in recipients + recovery
    assert recovery.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert (tmp_path / RECIPIENTS_FILE).stat().st_mode & 0o777 == 0o644
    assert (tmp_path / RECOVERY_FILE).stat().st_mode & 0o777 == 0o600


def test_the_recovery_file_gives_back_the_identity_with_its_passphrase(tmp_path: Path) -> None:
    created = create_keys(tmp_path, PASSPHRASE, work_factor=CHEAP)

    recovered = recover_identity(tmp_path / RECOVERY_FILE, PASSPHRASE)

    assert str(recovered) == str(created.identity)
    report = crypto.encrypt(b"canary report", read_recipients(tmp_path))
    assert crypto.decrypt(report, [recovered]) == b"canary report"


def test_a_wrong_passphrase_does_not_open_the_recovery_file(tmp_path: Path) -> None:
    create_keys(tmp_path, PASSPHRASE, work_factor=CHEAP)

    with pytest.raises(CustodyError, match="passphrase does not open"):
        recover_identity(tmp_path / RECOVERY_FILE, PASSPHRASE + "!")


@pytest.mark.parametrize("existing", [RECIPIENTS_FILE, RECOVERY_FILE])
def test_existing_keys_are_never_replaced(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("previous keys\n")

    with pytest.raises(CustodyError, match="never replaced"):
        create_keys(tmp_path, PASSPHRASE, work_factor=CHEAP)

    assert (tmp_path / existing).read_text() == "previous keys\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == [existing]


def test_a_short_passphrase_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(CustodyError, match="at least 20 characters"):
        create_keys(tmp_path, "too short", work_factor=CHEAP)

    assert list(tmp_path.iterdir()) == []


def test_classic_keys_and_development_labels(tmp_path: Path) -> None:
    created = create_keys(tmp_path, PASSPHRASE, kind="x25519", development=True, work_factor=CHEAP)

    assert isinstance(created.identity, crypto.X25519Identity)
    assert DEVELOPMENT_WARNING in (tmp_path / RECIPIENTS_FILE).read_text()
    recovered_text = crypto.decrypt(
        (tmp_path / RECOVERY_FILE).read_bytes(), [crypto.ScryptIdentity(PASSPHRASE)]
    ).decode()
    assert DEVELOPMENT_WARNING in recovered_text


def test_a_generated_passphrase_is_ten_words_of_over_128_bits() -> None:
    passphrases = {new_recovery_passphrase() for _ in range(20)}

    assert len(passphrases) == 20
    for passphrase in passphrases:
        assert len(passphrase.split()) * BITS_PER_WORD > 128
