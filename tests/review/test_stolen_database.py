"""A copy of the database, with every password, opens nothing without the review-host key.

The attack the independent testers made on custody version 1, made again: after a full run
(reports with files and replies, an administrator and an inspector enrolled, the inspector with
a password the old policy accepted, sessions open), the attacker takes a copy of the database
file, every reviewer's password, the codename salt, and even a signed-in reviewer's cookie.
They try every way of opening what the database holds. Without the review-host key, neither
the inspectorate's identity nor any report comes out; with it (and a password), they do, which
shows the test looks in the right places.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_submit_app, crypto, request_db
from portal.accounts import passwords
from portal.config import Settings, sqlite_url
from portal.custody import epochs, session_vault
from portal.custody.host_key import HostKey, SealBroken
from portal.custody.keyrings import Keyring, unwrap_keyring
from portal.db import make_engine
from portal.models import EpochGrant, Report, ReportContent, Reviewer, ReviewSession, Role
from portal.services import reviewers
from portal.submit import CODENAME_SALT_FILE
from tests.review.conftest import PASSWORD, Clock, sign_in
from tests.support.submitting import Upload, answers_for, post_form

WEAK_BUT_ONCE_ACCEPTED = "Autumn2026!!!!"
"""A season, a year and punctuation: policy version 1 accepted it; it fell in minutes."""
SQLITE_ONLY = pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)


def _full_run(settings: Settings, review_app: Flask, make_account, clock: Clock) -> FlaskClient:  # type: ignore[no-untyped-def]
    """Reports with files, two enrolled reviewers, one of them signed in; its client."""
    submit_app = create_submit_app(settings)
    for kind in ("risk-rating", "workload", "other"):
        post_form(
            submit_app.test_client(),
            f"/report/{kind}",
            answers_for(kind, "stolen"),
            [Upload(b"evidence of the pressure", "note.txt", "text/plain")],
        )
    request_db.get_engine(submit_app).dispose()
    make_account("ada", Role.ADMIN)
    inspector = make_account("ivy", Role.INSPECTOR)
    client = review_app.test_client()
    sign_in(client, inspector, clock)
    return client


def _weaken(session: Session, settings: Settings, host_key: HostKey) -> None:
    """Give the inspector the weak password, as a reviewer could under the old policy (the
    service sets it without the policy's check, as an old account's password was set)."""
    reviewer = session.scalars(select(Reviewer).where(Reviewer.username == "ivy")).one()
    policy = reviewers.AccountPolicy(settings.password_cost, settings.keyring_work_factor)
    keyring = reviewers.open_keyring(reviewer, PASSWORD, host_key)
    assert keyring is not None
    reviewers.set_password(
        reviewer, keyring, WEAK_BUT_ONCE_ACCEPTED, policy=policy, host_key=host_key
    )
    session.commit()


def _cookie_key(client: FlaskClient) -> bytes:
    """The session key inside the signed-in reviewer's cookie (the attacker has that too)."""
    with client.session_transaction() as flask_session:
        return base64.b64decode(flask_session["ticket"]["key"])


def _identities_an_attacker_recovers(
    stolen: Session, passwords_known: list[str], cookie_keys: list[bytes], host_key: HostKey
) -> list[crypto.Identity]:
    """Every way in, tried with everything the attacker has, and `host_key` (a guess of theirs,
    or the real one)."""
    found: list[crypto.Identity] = []
    for reviewer in stolen.scalars(select(Reviewer)):
        for password in passwords_known:
            # The keyring as version 1 stored it: the password alone
            try:
                keyring = Keyring.unwrapped(reviewer.keyring or b"", password)
            except crypto.AgeError:
                keyring = None
            if keyring is None:
                try:
                    keyring = unwrap_keyring(
                        reviewer.keyring or b"",
                        password,
                        host_key=host_key,
                        reviewer_id=reviewer.id,
                    )
                except SealBroken:
                    keyring = None
            if keyring is not None and keyring.identity is not None:
                found.append(keyring.identity)
    for row in stolen.scalars(select(ReviewSession)):
        for key in cookie_keys:
            opened = session_vault.open_keyring(row.sealed_keyring, key, row.id, host_key)
            if opened is not None and opened.identity is not None:
                found.append(opened.identity)
    # A reviewer's own identity reads reports only through its grants of the epochs' keys
    for sealed in stolen.scalars(select(EpochGrant.sealed_identity)):
        for identity in list(found):
            try:
                found.append(epochs.open_grant(sealed, identity))
            except crypto.AgeError:
                continue
    return found


def _readable_reports(stolen: Session, identities: list[crypto.Identity]) -> int:
    readable = 0
    for content in stolen.scalars(select(ReportContent.content)):
        try:
            crypto.decrypt(content, identities)
        except crypto.AgeError:
            continue
        readable += 1
    return readable


@SQLITE_ONLY
def test_a_copy_of_the_database_with_every_password_opens_nothing_without_the_host_key(
    settings: Settings,
    session: Session,
    review_app: Flask,
    make_account,  # type: ignore[no-untyped-def]
    clock: Clock,
    host_key: HostKey,
    tmp_path: Path,
) -> None:
    # Given a full run, a weak password, and a copy of the database taken afterwards
    client = _full_run(settings, review_app, make_account, clock)
    _weaken(session, settings, host_key)
    stolen_file = tmp_path / "stolen.sqlite3"
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    session.execute(select(1))
    session.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    session.commit()
    shutil.copy(database, stolen_file)
    salt = (settings.instance_dir / CODENAME_SALT_FILE).read_bytes()
    assert len(salt) == 32  # the attacker has it; it opens no keyring
    known = [PASSWORD, WEAK_BUT_ONCE_ACCEPTED, salt.hex()]
    cookies = [_cookie_key(client)]
    engine = make_engine(sqlite_url(stolen_file))
    try:
        with Session(engine) as stolen:
            assert stolen.scalar(select(Report.id).limit(1)) is not None
            assert stolen.scalar(select(ReviewSession.id).limit(1)) is not None

            # When the attacker tries everything, with a host key of their own making
            guessed = HostKey(bytes(range(32)))
            found = _identities_an_attacker_recovers(stolen, known, cookies, guessed)

            # Then no identity comes out, and no report opens
            assert found == []
            assert _readable_reports(stolen, found) == 0

            # But with the review host's real key as well, the same attempt opens both keyrings
            # and the session, and every report: the test looked in the right places
            recovered = _identities_an_attacker_recovers(stolen, known, cookies, host_key)
            # two keyrings (one password each) and the session, then their grants of epoch 1
            assert len(recovered) == 6
            assert _readable_reports(stolen, recovered) == 3
    finally:
        engine.dispose()


def test_a_password_hash_cannot_be_tested_without_the_host_key(
    session: Session,
    make_account,  # type: ignore[no-untyped-def]
    host_key: HostKey,
) -> None:
    # Given an enrolled account's stored hash, then without the pepper (the host key's) no
    # password tests true against it, the right one included

    make_account("ivy", Role.INSPECTOR)
    reviewer = session.scalars(select(Reviewer)).one()
    stored = reviewer.password_hash or ""
    assert not passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password(PASSWORD, stored, pepper=bytes(32))
    assert passwords.verify_password(PASSWORD, stored, pepper=reviewers.password_pepper(host_key))
