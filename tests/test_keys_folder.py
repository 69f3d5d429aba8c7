"""Reading the recipients file: parsed once, checked, and refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal import crypto
from portal.recipients import (
    RECIPIENTS_FILE,
    IdentityInRecipientsFile,
    KeysError,
    RecipientsMissing,
    read_recipients,
)


def _write(folder: Path, text: str) -> Path:
    (folder / RECIPIENTS_FILE).write_text(text)
    return folder


def test_recipients_are_parsed_with_comments_and_blanks_ignored(tmp_path: Path) -> None:
    first, second = (crypto.generate_identity("pq").recipient() for _ in range(2))

    recipients = read_recipients(_write(tmp_path, f"# team\n\n{first}\n  {second}  \n"))

    assert recipients == (first, second)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (None, RecipientsMissing, "does not exist"),
        ("# only a comment\n", RecipientsMissing, "lists no recipients"),
        ("age1notarealrecipient\n", KeysError, "line 1 is not a valid recipient"),
        ("ssh-ed25519 AAAA...\n", KeysError, "line 1 is not a valid recipient"),
    ],
)
def test_unusable_recipients_files_are_refused(
    tmp_path: Path, text: str | None, error: type[KeysError], message: str
) -> None:
    if text is not None:
        _write(tmp_path, text)

    with pytest.raises(error, match=message):
        read_recipients(tmp_path)


def test_post_quantum_and_classic_recipients_cannot_be_mixed(tmp_path: Path) -> None:
    pq = crypto.generate_identity("pq").recipient()
    classic = crypto.generate_identity("x25519").recipient()

    with pytest.raises(KeysError, match="cannot share a file"):
        read_recipients(_write(tmp_path, f"{pq}\n{classic}\n"))


def test_a_secret_key_is_refused_and_not_quoted(tmp_path: Path) -> None:
    secret = str(crypto.generate_identity("pq"))

    with pytest.raises(IdentityInRecipientsFile) as refused:
        read_recipients(_write(tmp_path, f"# comment\n{secret}\n"))

    assert "line 2 is a secret key" in str(refused.value)
    assert secret not in str(refused.value)
