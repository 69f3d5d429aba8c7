"""What the service tests share: a blob folder, uploads received as the submission site receives
them, reports stored as it stores them, and reviewer accounts at the lowest costs.

Nothing here goes through a web request: the point of these tests is that the rules hold in
the services themselves, whichever site (or command) calls them.
"""

from __future__ import annotations

import datetime
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from portal import crypto
from portal.custody import audit_signing
from portal.custody.audit_signing import AuditSigner
from portal.custody.host_key import HostKey
from portal.models import Report, ReportKind
from portal.services import audit, transaction
from portal.services.blobs import BlobStore
from portal.services.codenames import CodenameKeys
from portal.services.intake import EncryptingUpload, ReceivedFile, UploadPolicy
from portal.services.reports import NewReport, store_report
from portal.services.reviewers import AccountPolicy
from tests.conftest import CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR

TODAY = datetime.date(2026, 11, 25)
NOW = datetime.datetime(2026, 11, 25, 9, 0, 0)
MAX_FILE_BYTES = 200_000
PIECE = 4096
"""Bytes per write, as a form parser hands an upload over: in pieces, not whole."""


@pytest.fixture
def audit_signer() -> AuditSigner:
    """A review host's audit signer (of a host key made for the test)."""
    return audit_signing.signer(HostKey(os.urandom(32)))


@pytest.fixture
def session(engine: Engine, audit_signer: AuditSigner) -> Iterator[Session]:
    """A session as the review site and the review host's commands have one: the audit
    entries it appends are signed."""
    with Session(engine, info=audit.session_info(audit_signer)) as session:
        yield session


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def recipients(inspectorate_identity: crypto.HybridIdentity) -> list[crypto.Recipient]:
    return [inspectorate_identity.recipient()]


@pytest.fixture
def upload_policy(blobs: BlobStore, recipients: list[crypto.Recipient]) -> UploadPolicy:
    return UploadPolicy(
        store=blobs, recipients=recipients, max_file_bytes=MAX_FILE_BYTES, max_files=5
    )


def receive(
    policy: UploadPolicy,
    content: bytes,
    name: str = "evidence.txt",
    content_type: str = "text/plain",
    *,
    piece: int = PIECE,
) -> ReceivedFile:
    """`content` received as an upload, written in pieces of `piece` bytes."""
    upload = EncryptingUpload(policy)
    for start in range(0, len(content), piece):
        upload.write(content[start : start + piece])
    return upload.finish(name, content_type)


def files_in(blobs: BlobStore) -> list[str]:
    """The names in the blob folder, staged ones included (an absent folder holds none)."""
    if not blobs.directory.is_dir():
        return []
    return sorted(path.name for path in blobs.directory.iterdir())


def new_codename_keys() -> CodenameKeys:
    """Keys as a codename gives them (a random lookup, a fresh reply identity): the hashing
    itself is tested in test_codenames."""
    return CodenameKeys(lookup=secrets.token_bytes(32), reply_identity=crypto.generate_identity())


StoreReport = Callable[..., tuple[Report, CodenameKeys]]


@pytest.fixture
def stored_report(session: Session, recipients: list[crypto.Recipient]) -> StoreReport:
    """Store and commit a report as the submission site does: `store_report`, then `finish`."""

    def store(
        files: Sequence[ReceivedFile] = (),
        *,
        kind: ReportKind = ReportKind.OTHER,
        answers: dict[str, object] | None = None,
        today: datetime.date = TODAY,
    ) -> tuple[Report, CodenameKeys]:
        keys = new_codename_keys()
        report = store_report(
            session,
            NewReport(kind=kind, urgent=False, region=None, answers=answers or {"account": "x"}),
            files,
            recipients=recipients,
            codename_keys=keys,
            today=today,
        )
        transaction.finish(session)
        return report, keys

    return store


@pytest.fixture
def account_policy() -> AccountPolicy:
    return AccountPolicy(password_cost=CHEAP_PASSWORD_COST, keyring_work_factor=CHEAP_WORK_FACTOR)


def totp_code(secret: bytes, at: datetime.datetime) -> str:
    """The code an authenticator app shows at `at` (naive means UTC), as RFC 6238 computes it."""
    moment = at.replace(tzinfo=datetime.UTC).timestamp()
    return TOTP(secret, 6, SHA1(), 30).generate(moment).decode()  # noqa: S303 (RFC 6238)
