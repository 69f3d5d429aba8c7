"""The keyless check that every stored secret is a well-formed age file, on both databases."""

from __future__ import annotations

import datetime
import io
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from portal import crypto
from portal.crypto.stream import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, TAG_SIZE
from portal.custody.host_key import HostKey
from portal.models import (
    Attachment,
    Author,
    Message,
    Note,
    Report,
    ReportContent,
    ReportKind,
    Reviewer,
    Role,
)
from portal.services import reviewers
from portal.services.blobs import BlobStore
from portal.services.integrity import (
    _payload_length_problem,
    check_stored_ciphertexts,
    scan_stored_ciphertexts,
)
from tests.conftest import CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR
from tests.support.reviewers import epoch_keys_of

TODAY = datetime.date(2025, 3, 1)
SECRET = b'{"answers": {"what_happened": "my manager told me to lower the rating"}}'


@dataclass
class Stored:
    """One of each kind of stored ciphertext, all well formed."""

    report: Report
    message: Message
    note: Note
    attachment: Attachment
    reviewer: Reviewer


@pytest.fixture
def stored(session: Session, blobs: BlobStore, recipients: list[crypto.Recipient]) -> Stored:
    """A report with a message, a note and an attachment (with its blob), and a reviewer."""
    report = Report(
        kind=ReportKind.RISK_RATING,
        received_on=TODAY,
        content=crypto.encrypt(SECRET, recipients),
    )
    message = Message(
        report=report,
        position=1,
        author=Author.SUBMITTER,
        sent_on=TODAY,
        content=crypto.encrypt(b"a follow-up", recipients),
    )
    note = Note(
        report=report, position=1, written_on=TODAY, content=crypto.encrypt(b"note", recipients)
    )
    attachment = _attachment(report, blobs, recipients, b"%PDF-1.7 a scanned letter")
    reviewer = Reviewer(
        username="inspector",
        role=Role.INSPECTOR,
        created_at=datetime.datetime(2025, 3, 1, 9, 0),
        keyring=crypto.encrypt(b"keyring", [crypto.ScryptRecipient("code", work_factor=10)]),
        custody_version=1,  # a bare age file, as before the review-host key
    )
    not_enrolled = Reviewer(
        username="revoked", role=Role.AUDITOR, created_at=datetime.datetime(2025, 3, 1, 9, 0)
    )
    session.add_all([report, message, note, attachment, reviewer, not_enrolled])
    session.commit()
    return Stored(report, message, note, attachment, reviewer)


def _attachment(
    report: Report, blobs: BlobStore, recipients: list[crypto.Recipient], plaintext: bytes
) -> Attachment:
    blob = blobs.create()
    with crypto.EncryptingWriter(blob, recipients) as writer:  # type: ignore[arg-type]
        writer.write(plaintext)
    blob.publish()
    return Attachment(
        id=blob.id, report=report, details=crypto.encrypt(b'{"name": "letter.pdf"}', recipients)
    )


def test_well_formed_ciphertexts_pass(session: Session, blobs: BlobStore, stored: Stored) -> None:
    # Given one of every encrypted column, a blob, and a reviewer with no keyring yet

    # When they are checked
    report = scan_stored_ciphertexts(session, blobs)

    # Then nothing is wrong: five column values and one blob were checked
    assert report.problems == [] and report.ok
    assert report.checked == 6
    assert check_stored_ciphertexts(session, blobs) == []


def test_plaintext_in_an_encrypted_column_is_reported_without_quoting_it(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    # Given a report whose content was stored as plain JSON
    stored.report.content = SECRET
    session.commit()

    problems = check_stored_ciphertexts(session, blobs)

    # Then it is named by table, column and row, and none of its content is repeated
    assert problems == [
        f"report_contents.content, row {stored.report.id}: not an age v1 file "
        "(it does not start with the age version line)"
    ]
    assert "manager" not in problems[0]


def test_a_report_without_content_is_reported(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    # Given a report whose content row is gone (as a half-finished write or a hand edit leaves it)
    session.execute(delete(ReportContent).where(ReportContent.report_id == stored.report.id))
    session.commit()

    problems = check_stored_ciphertexts(session, blobs)

    # Then the report is named
    assert problems == [
        f"reports, row {stored.report.id}: it has no content (no row in report_contents)"
    ]


def test_truncated_ciphertexts_are_reported(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    # Given a message cut inside its header and a note cut just after its header
    stored.message.content = stored.message.content[:200]
    header_length = _header_length(stored.note.content)
    stored.note.content = stored.note.content[: header_length + NONCE_SIZE + TAG_SIZE - 1]
    session.commit()

    problems = check_stored_ciphertexts(session, blobs)

    assert problems == [
        f"messages.content, row {stored.message.id}: not a well-formed age v1 file "
        "(header truncated, or a header line is too long)",
        f"notes.content, row {stored.note.id}: its payload is cut short (no complete chunk)",
    ]


def test_an_armored_file_in_a_column_is_reported(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    # Stored values are binary age files: armor is for files people paste, never for storage.
    stored.attachment.details = crypto.armor(stored.attachment.details)
    session.commit()

    problems = check_stored_ciphertexts(session, blobs)

    assert problems == [
        f"attachments.details, row {stored.attachment.id}: not an age v1 file "
        "(it does not start with the age version line)"
    ]


def test_the_wrong_kind_of_key_is_reported(
    session: Session, blobs: BlobStore, stored: Stored, recipients: list[crypto.Recipient]
) -> None:
    # Given a report encrypted under a passphrase, and a keyring encrypted to the inspectorate
    stored.report.content = crypto.encrypt(b"{}", [crypto.ScryptRecipient("pw", work_factor=10)])
    stored.reviewer.keyring = crypto.encrypt(b"keyring", recipients)
    session.commit()

    problems = check_stored_ciphertexts(session, blobs)

    assert problems == [
        f"report_contents.content, row {stored.report.id}: encrypted with a passphrase (scrypt) "
        "instead of to the inspectorate's keys",
        f"reviewers.keyring, row {stored.reviewer.id}: not encrypted with a passphrase alone "
        "(scrypt), as a keyring must be",
    ]


def test_a_blob_with_a_byte_cut_off_the_end_is_reported(
    session: Session, blobs: BlobStore, stored: Stored, recipients: list[crypto.Recipient]
) -> None:
    # Given a blob of one full chunk and one byte more, whose last byte was then cut off: its
    # last chunk is left holding only a tag, a length no well-formed file can have
    attachment = _attachment(stored.report, blobs, recipients, b"x" * (CHUNK_SIZE + 1))
    session.add(attachment)
    session.commit()
    path = blobs.path_of(attachment.id)
    path.write_bytes(path.read_bytes()[:-1])

    problems = check_stored_ciphertexts(session, blobs)

    assert problems == [
        f"blob of attachment {attachment.id}: its payload ends in an empty chunk after full "
        "ones (cut short)"
    ]


def test_an_empty_blob_with_a_byte_cut_off_the_end_is_reported(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    # Given the stored attachment's blob replaced by an empty file's, then cut by one byte
    path = blobs.path_of(stored.attachment.id)
    empty = crypto.encrypt(b"", [crypto.generate_identity("x25519").recipient()])
    path.write_bytes(empty[:-1])

    problems = check_stored_ciphertexts(session, blobs)

    assert problems == [
        f"blob of attachment {stored.attachment.id}: its payload is cut short (no complete chunk)"
    ]


def test_a_cut_inside_the_last_chunk_needs_the_key_to_be_seen(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    """The limit of a keyless check, kept visible: a blob cut inside its last chunk still has a
    possible length. Only decryption (the chunk's tag) shows it, as the crypto tests do."""
    path = blobs.path_of(stored.attachment.id)
    path.write_bytes(path.read_bytes()[:-1])

    assert check_stored_ciphertexts(session, blobs) == []


def test_a_missing_blob_and_an_orphan_blob_are_reported(
    session: Session, blobs: BlobStore, stored: Stored
) -> None:
    # Given the attachment's blob deleted, and a blob file that no attachment refers to
    blobs.path_of(stored.attachment.id).unlink()
    orphan = blobs.path_of(uuid.uuid4())
    orphan.write_bytes(crypto.encrypt(b"left behind", [crypto.ScryptRecipient("x", 10)]))

    problems = check_stored_ciphertexts(session, blobs)

    assert problems == [
        f"blob of attachment {stored.attachment.id}: the file {stored.attachment.id}.age "
        "is missing",
        f"blob file {orphan.name}: no attachment refers to it",
    ]


def test_an_empty_database_and_no_blob_folder_pass(session: Session, blobs: BlobStore) -> None:
    report = scan_stored_ciphertexts(session, blobs)

    assert report.ok and report.checked == 0


@pytest.mark.parametrize(
    ("length", "well_formed"),
    [
        (NONCE_SIZE - 1, False),
        (NONCE_SIZE + TAG_SIZE - 1, False),
        (NONCE_SIZE + TAG_SIZE, True),  # the empty payload
        (NONCE_SIZE + TAG_SIZE + 1, True),
        (NONCE_SIZE + ENCRYPTED_CHUNK_SIZE, True),  # one full last chunk
        (NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + 1, False),
        (NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + TAG_SIZE - 1, False),
        (NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + TAG_SIZE, False),  # an empty chunk after a full one
        (NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + TAG_SIZE + 1, True),
        (NONCE_SIZE + 3 * ENCRYPTED_CHUNK_SIZE, True),
    ],
)
def test_payload_lengths_follow_the_stream_layout(length: int, well_formed: bool) -> None:
    assert (_payload_length_problem(length) is None) is well_formed


def _header_length(ciphertext: bytes) -> int:
    source = io.BytesIO(ciphertext)
    crypto.format.read_header(source)
    return source.tell()


def test_a_keyring_is_checked_inside_the_review_host_seal(
    session: Session,
    blobs: BlobStore,
    host_key: HostKey,
    inspectorate_identity: crypto.HybridIdentity,
) -> None:
    # Given an account, its keyring sealed under the review-host key
    policy = reviewers.AccountPolicy(CHEAP_PASSWORD_COST, CHEAP_WORK_FACTOR)
    reviewers.create_account(
        session,
        username="ivy",
        role=Role.INSPECTOR,
        epoch_keys=epoch_keys_of(session, inspectorate_identity, today=datetime.date(2026, 12, 4)),
        policy=policy,
        host_key=host_key,
        now=datetime.datetime(2026, 12, 4),
    )
    session.commit()

    # Then with the key the age file inside is checked and found well formed; with another key
    # the seal is reported; off the review host it is counted as not checked
    assert scan_stored_ciphertexts(session, blobs, host_key).problems == []
    (problem,) = scan_stored_ciphertexts(session, blobs, HostKey(bytes(32))).problems
    assert "seal does not open" in problem
    unkeyed = scan_stored_ciphertexts(session, blobs)
    assert (unkeyed.problems, unkeyed.sealed_unchecked) == ([], 1)
