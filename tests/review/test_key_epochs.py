"""Key epochs: rotation needs no secret and keeps every report readable; revocation really
revokes; re-keying moves every ciphertext by rewriting headers, survives interruption, and
retires the old epoch (DESIGN decision 3)."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.accounts import passwords, totp
from portal.cli import main
from portal.config import Settings
from portal.custody import epochs
from portal.custody.host_key import HostKey
from portal.custody.keyrings import Keyring
from portal.custody.recovery import create_keys
from portal.models import (
    Attachment,
    Author,
    EpochGrant,
    EpochState,
    KeyEpoch,
    Message,
    Note,
    ReportContent,
    Reviewer,
    Role,
)
from portal.recipients import RECIPIENTS_FILE, read_recipients
from portal.services import rekeying, reviewers, transaction
from portal.services.casework import add_note
from portal.services.followup import add_message
from tests.review.conftest import START, Account, Clock, reviewer_row, sign_in
from tests.support.environment import environment_for
from tests.support.pages import csrf_token
from tests.support.submitting import submit_with_file

PASSPHRASE = "a recovery passphrase for the epoch tests"


@pytest.fixture
def recovered(settings: Settings, tmp_path: Path) -> crypto.Identity:
    """Keys made as `portal keys init` makes them, in the test's keys folder: the recovery
    identity is epoch 1's, and the recipients file names it."""
    (settings.keys_dir / RECIPIENTS_FILE).unlink()
    created = create_keys(settings.keys_dir, PASSPHRASE, work_factor=10)
    return created.identity


def _portal(settings: Settings, *args: str) -> Result:
    env = {**environment_for(settings), "PORTAL_RECOVERY_PASSPHRASE": PASSPHRASE}
    return CliRunner(env=env).invoke(main, list(args))


def _reader(settings: Settings) -> Account:
    """An inspector made as `portal users add --enrolled` makes one, from the recovery file:
    the first account starts epoch 1 and gets its grant."""
    result = _portal(settings, "users", "add", "ivy", "--enrolled")
    assert result.exit_code == 0, result.output
    password = re.search(r"password:\s+(.+)", result.output).group(1)  # type: ignore[union-attr]
    key = re.search(r"TOTP key:\s+([A-Z2-7 ]+)", result.output).group(1).replace(" ", "")  # type: ignore[union-attr]
    secret = base64.b32decode(key + "=" * (-len(key) % 8))
    return Account("ivy", Role.INSPECTOR, secret, password=password)


def _keys_folder(settings: Settings) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(settings.keys_dir.iterdir())}


def test_rotation_needs_no_secret_and_every_report_stays_readable(
    settings: Settings,
    session: Session,
    review_app: Flask,
    clock: Clock,
    recovered: crypto.Identity,
) -> None:
    # Given a reader (from the recovery file, as `portal users add` does) and a report on epoch 1
    account = _reader(settings)
    submit_with_file(settings, "before-rotation")
    before = _keys_folder(settings)

    # When the keys are rotated, with no password and no passphrase
    rotated = CliRunner(env=environment_for(settings)).invoke(main, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output

    # Then only the recipients file changed, and it names epoch 2, which the reader holds
    after = _keys_folder(settings)
    assert {name for name in after if after[name] != before.get(name)} == {RECIPIENTS_FILE}
    session.rollback()
    epoch_two = session.get_one(KeyEpoch, 2)
    assert [str(r) for r in read_recipients(settings.keys_dir)] == [epoch_two.recipient]
    assert session.get_one(KeyEpoch, 1).state is EpochState.PREVIOUS
    ivy = reviewer_row(session, "ivy")
    held = session.scalars(select(EpochGrant.epoch_number).where(EpochGrant.reviewer_id == ivy.id))
    assert sorted(held) == [1, 2]

    # And a report sent after the submission host restarts with that file goes to epoch 2
    submit_with_file(settings, "after-rotation")
    inspector = review_app.test_client()
    sign_in(inspector, account, clock)
    pages = [inspector.get(f"/reports/{rid}") for rid in _report_ids(session)]
    assert all(page.status_code == 200 for page in pages)
    shown = "".join(page.text for page in pages)
    assert "before-rotation" in shown and "after-rotation" in shown
    contents = session.scalars(select(ReportContent.content)).all()
    epoch_one_only = sum(_opens(content, recovered) for content in contents)
    assert epoch_one_only == 1  # the first report; the second needs epoch 2's key


def _report_ids(session: Session) -> list[uuid.UUID]:
    session.rollback()
    return list(session.scalars(select(ReportContent.report_id)))


def _opens(ciphertext: bytes, identity: crypto.Identity) -> bool:
    try:
        crypto.decrypt(ciphertext, [identity])
    except crypto.NoIdentityMatch:
        return False
    return True


def test_a_revoked_reviewers_grants_go_at_once_and_a_copy_of_their_keyring_opens_no_new_epoch(
    settings: Settings,
    session: Session,
    host_key: HostKey,
    recovered: crypto.Identity,
) -> None:
    # Given a reader, and a copy of their keyring taken while they could still read
    account = _reader(settings)
    ivy = reviewer_row(session, "ivy")
    copied = reviewers.open_keyring(ivy, account.password, host_key)
    assert copied is not None and copied.identity is not None
    assert set(epochs.keys_held(session, copied.identity, reviewer_id=ivy.id)) == {1}

    # When the account is revoked, and the keys rotated as the administrator is told to
    revoked = _portal(settings, "users", "revoke", "ivy")
    assert revoked.exit_code == 0, revoked.output
    assert "Rotate the keys now" in revoked.output
    session.rollback()
    assert (
        session.scalar(
            select(func.count()).select_from(EpochGrant).where(EpochGrant.reviewer_id == ivy.id)
        )
        == 0
    )
    assert _portal(settings, "keys", "rotate").exit_code == 0
    submit_with_file(settings, "after-revocation")

    # Then the copied keyring opens no grant, and no report sealed to the new epoch
    session.rollback()
    assert epochs.keys_held(session, copied.identity, reviewer_id=ivy.id) == {}
    every_grant = session.scalars(select(EpochGrant.sealed_identity)).all()
    assert not any(_opens(sealed, copied.identity) for sealed in every_grant)
    newest = session.scalars(select(ReportContent.content)).all()
    assert not any(_opens(content, copied.identity) for content in newest)


def _stored_plaintexts(session: Session, settings: Settings, keys: list[crypto.Identity]) -> dict:  # type: ignore[type-arg]
    """Every stored ciphertext, decrypted: documents by row, and each blob's SHA-256."""
    session.rollback()
    found: dict[str, object] = {}
    for model, key, value in [
        (ReportContent, ReportContent.report_id, ReportContent.content),
        (Message, Message.id, Message.content),
        (Note, Note.id, Note.content),
        (Attachment, Attachment.id, Attachment.details),
    ]:
        for row_id, stored in session.execute(select(key, value)):
            document = crypto.decrypt(stored, keys).decode("utf-8")
            if model is Attachment:
                # Descriptions gain the hash of the blob's chunks once; the rest stays the same
                document = document.replace(document[document.find('"chunks_sha256"') :], "")
            found[f"{model.__tablename__}/{row_id}"] = document.rstrip()
    for attachment_id in session.scalars(select(Attachment.id)):
        blob = (settings.blobs / f"{attachment_id}.age").read_bytes()
        found[f"blob/{attachment_id}"] = hashlib.sha256(crypto.decrypt(blob, keys)).hexdigest()
    return found


class Crash(Exception):
    """Stands for the process dying part way through."""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rekey_interrupted_anywhere_then_resumed_moves_everything_and_retires_the_epoch(
    seed: int,
    settings: Settings,
    session: Session,
    recovered: crypto.Identity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given reports with files, replies and notes on epoch 1, then a rotation
    _reader(settings)
    for canary in ("first", "second"):
        submit_with_file(settings, canary)
    session.rollback()
    epoch_one = [recovered]
    author = session.scalars(select(Reviewer)).first()
    for report_id in _report_ids(session):
        report = session.get_one(ReportContent, report_id).report
        recipients = [recovered.recipient()]
        add_message(
            session,
            report,
            author=Author.INSPECTOR,
            text="reply",
            recipients=recipients,
            today=report.received_on,
        )
        add_note(
            session,
            report,
            author=author,  # type: ignore[arg-type]
            text="note",
            recipients=recipients,
            today=report.received_on,
        )
        transaction.finish(session)
    assert _portal(settings, "keys", "rotate").exit_code == 0
    session.rollback()
    epoch_two = epochs.keys_held(session, recovered, reviewer_id=None)[2]
    before = _stored_plaintexts(session, settings, epoch_one)

    # When re-keying dies at a random point, one ciphertext per batch, and is run again
    monkeypatch.setattr(rekeying, "BATCH", 1)
    # Ten ciphertexts: two reports, replies, notes, file descriptions and files
    crash_at = random.Random(seed).randint(1, 10)  # noqa: S311 (where to crash, not a secret)
    batches = rekeying.batches

    def dying(*args, **kwargs):  # type: ignore[no-untyped-def]
        for number, progress in enumerate(batches(*args, **kwargs), start=1):
            if number == crash_at:
                raise Crash
            yield progress

    monkeypatch.setattr(rekeying, "batches", dying)
    interrupted = _portal(settings, "keys", "rekey")
    assert isinstance(interrupted.exception, Crash)
    assert _portal(settings, "audit", "verify").exit_code == 0  # green part way, too
    monkeypatch.setattr(rekeying, "batches", batches)
    finished = _portal(settings, "keys", "rekey")
    assert finished.exit_code == 0, finished.output

    # Then everything decrypts with epoch 2 to what it was, nothing opens with epoch 1 any more,
    # epoch 1 is retired with its grants destroyed, and the audit log and ciphertexts verify
    assert _stored_plaintexts(session, settings, [epoch_two]) == before
    with pytest.raises(crypto.NoIdentityMatch):
        _stored_plaintexts(session, settings, epoch_one)
    assert session.get_one(KeyEpoch, 1).state is EpochState.RETIRED
    assert (
        session.scalar(
            select(func.count()).select_from(EpochGrant).where(EpochGrant.epoch_number == 1)
        )
        == 0
    )
    verified = _portal(settings, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert _portal(settings, "keys", "rekey").output.startswith("Nothing to re-key")
    assert session.scalar(select(func.count()).select_from(Reviewer)) == 1


def test_an_administrator_rotates_the_keys_from_the_review_site(
    settings: Settings,
    session: Session,
    review_app: Flask,
    make_account,  # type: ignore[no-untyped-def]
    clock: Clock,
) -> None:
    # Given a signed-in administrator (their account started epoch 1) on the keys page
    admin = review_app.test_client()
    sign_in(admin, make_account("ada", Role.ADMIN), clock)
    page = admin.get("/admin/keys")
    assert page.status_code == 200 and "current" in page.text

    # When they rotate the keys
    rotated = admin.post("/admin/keys/rotate", data={"csrf_token": csrf_token(page)})

    # Then epoch 2 is current, named in the recipients file the page says to copy, and a report
    # the submission host seals to it afterwards opens for them at once
    assert rotated.status_code == 200
    session.rollback()
    epoch_two = session.get_one(KeyEpoch, 2)
    assert epoch_two.recipient in rotated.text
    assert [str(r) for r in read_recipients(settings.keys_dir)] == [epoch_two.recipient]
    submit_with_file(settings, "sealed-to-epoch-two")
    (newest,) = _report_ids(session)
    assert "sealed-to-epoch-two" in admin.get(f"/reports/{newest}").text


def test_an_old_account_moved_on_after_a_rotation_is_granted_the_later_epochs(
    settings: Settings,
    session: Session,
    review_app: Flask,
    clock: Clock,
    recovered: crypto.Identity,
) -> None:
    # Given an account from before key epochs (its keyring holds epoch 1's identity itself),
    # a reader made since, and a rotation before the old account's owner signs in again
    secret = totp.new_secret()
    old = Reviewer(
        username="old",
        role=Role.INSPECTOR,
        password_hash=passwords.hash_password(OLD_PASSWORD, settings.password_cost),
        keyring=Keyring(secret, recovered).wrapped(OLD_PASSWORD, settings.keyring_work_factor),
        custody_version=1,
        failed_sign_ins=0,
        created_at=START,
    )
    session.add(old)
    session.commit()
    _reader(settings)
    assert _portal(settings, "keys", "rotate").exit_code == 0

    # When its owner signs in, it moves on with the only epoch it held
    signed_in = sign_in(
        review_app.test_client(), Account("old", Role.INSPECTOR, secret, OLD_PASSWORD), clock
    )
    assert signed_in.headers["Location"] == "/"
    assert _epochs_held(session, "old") == [1]

    # Then `portal users grant` gives it the later epoch, from the recovery file
    granted = _portal(settings, "users", "grant", "old")
    assert granted.exit_code == 0, granted.output
    assert _epochs_held(session, "old") == [1, 2]
    assert _portal(settings, "users", "grant", "old").output.endswith("it may.\n")


OLD_PASSWORD = "an old account's long passphrase"


def _epochs_held(session: Session, username: str) -> list[int]:
    reviewer = reviewer_row(session, username)
    return sorted(
        session.scalars(
            select(EpochGrant.epoch_number).where(EpochGrant.reviewer_id == reviewer.id)
        )
    )
