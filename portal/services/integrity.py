"""Evidence, without any report's key, that every stored secret is an age file and nothing else.

Every encrypted column and every attachment blob must be a well-formed age v1 file: a header
that parses under the specification's strict grammar, then a payload whose length fits the
STREAM layout (a 16-byte nonce, then 64 KiB chunks each with a 16-byte tag). Plaintext, such as
a report's JSON written by mistake, fails the header check at its first line; a value or blob
cut short fails one or the other, where its new length is impossible.

What this cannot see without the key: a cut inside the last chunk that leaves a possible
length, or bytes changed in place. Only decryption (the tag and the header MAC) shows those.
Reviewers' keyrings (custody version 2) are age files inside a seal of the review-host key: on
the review host the seal is opened and the file inside checked; elsewhere they are counted as
not checked.

Problems name the table, the column and the row's id, or the blob's file name; never a byte of
what is stored.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.crypto.errors import HeaderError
from portal.crypto.format import VERSION_LINE, read_header
from portal.crypto.scrypt import STANZA_TYPE as SCRYPT_STANZA
from portal.crypto.stream import ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, TAG_SIZE
from portal.custody.host_key import HostKey, SealBroken
from portal.custody.keyrings import sealed_keyring_file
from portal.models import Attachment, EpochGrant, Message, Note, Report, ReportContent, Reviewer
from portal.services.blobs import BlobStore
from portal.services.reviewers import CUSTODY_VERSION

_BATCH = 200


@dataclass(frozen=True)
class _Column:
    """An encrypted column, and which kind of key its files must be encrypted to."""

    id: InstrumentedAttribute[Any]
    value: InstrumentedAttribute[Any]
    passphrase: bool
    """True for scrypt (passphrase) files, False for files to the inspectorate's public keys."""

    @property
    def name(self) -> str:
        return f"{self.value.class_.__tablename__}.{self.value.key}"


ENCRYPTED_COLUMNS = (
    _Column(ReportContent.report_id, ReportContent.content, passphrase=False),
    _Column(Message.id, Message.content, passphrase=False),
    _Column(Note.id, Note.content, passphrase=False),
    _Column(Attachment.id, Attachment.details, passphrase=False),
    _Column(EpochGrant.id, EpochGrant.sealed_identity, passphrase=False),
)
"""Every column that holds an age file. A new encrypted column belongs here too. Reviewers'
keyrings are checked apart (`_keyring_problems`): from custody version 2 each is an age file
sealed under the review-host key."""


@dataclass(frozen=True)
class CiphertextReport:
    """What `scan_stored_ciphertexts` found."""

    checked: int
    """How many values and blob files were checked."""
    problems: list[str]
    sealed_unchecked: int = 0
    """Keyrings sealed under the review-host key, left unchecked for want of that key."""

    @property
    def ok(self) -> bool:
        return not self.problems


def check_stored_ciphertexts(
    session: Session, blobs: BlobStore, host_key: HostKey | None = None
) -> list[str]:
    """One line per stored value or blob file that is not a well-formed age file, per missing
    blob and per blob file no attachment refers to. Empty when all is well."""
    return scan_stored_ciphertexts(session, blobs, host_key).problems


def scan_stored_ciphertexts(
    session: Session, blobs: BlobStore, host_key: HostKey | None = None
) -> CiphertextReport:
    """`check_stored_ciphertexts`, with the count of what was checked (for the auditor's
    summary). Rows are streamed in batches and blobs read only for their header, so memory
    stays flat however many reports and files there are.

    A keyring sealed under the review-host key is opened with `host_key` (its seal only: the
    age file inside stays under the reviewer's password) and the file inside checked; without
    that key (a check run off the review host) such keyrings are counted as unchecked.
    """
    problems: list[str] = []
    checked = 0
    for column in ENCRYPTED_COLUMNS:
        for row_id, value in _stored_values(session, column):
            checked += 1
            problem = age_file_problem(io.BytesIO(value), len(value), passphrase=column.passphrase)
            if problem is not None:
                problems.append(f"{column.name}, row {row_id}: {problem}")
    keyrings = _keyring_problems(session, host_key)
    problems.extend(keyrings.problems)
    checked += keyrings.checked
    for report_id in _reports_without_content(session):
        problems.append(f"reports, row {report_id}: it has no content (no row in report_contents)")
    attachment_ids: set[uuid.UUID] = set()
    rows = session.execute(
        select(Attachment.id).order_by(Attachment.id).execution_options(yield_per=_BATCH)
    )
    for attachment_id in rows.scalars():
        attachment_ids.add(attachment_id)
        checked += 1
        problem = _blob_problem(blobs.path_of(attachment_id))
        if problem is not None:
            problems.append(f"blob of attachment {attachment_id}: {problem}")
    for orphan in sorted(blobs.orphans(attachment_ids)):
        problems.append(f"blob file {orphan.name}: no attachment refers to it")
    return CiphertextReport(
        checked=checked, problems=problems, sealed_unchecked=keyrings.sealed_unchecked
    )


def _keyring_problems(session: Session, host_key: HostKey | None) -> CiphertextReport:
    problems: list[str] = []
    checked = unchecked = 0
    rows = session.execute(
        select(Reviewer.id, Reviewer.keyring, Reviewer.custody_version)
        .where(Reviewer.keyring.is_not(None))
        .order_by(Reviewer.id)
        .execution_options(yield_per=_BATCH)
    )
    for reviewer_id, stored, version in rows:
        value = bytes(stored or b"")
        if version >= CUSTODY_VERSION:
            if host_key is None:
                unchecked += 1
                continue
            try:
                value = sealed_keyring_file(value, host_key=host_key, reviewer_id=reviewer_id)
            except SealBroken:
                checked += 1
                problems.append(
                    f"reviewers.keyring, row {reviewer_id}: its seal does not open with this "
                    "review-host key (sealed under another, or moved from another row)"
                )
                continue
        checked += 1
        problem = age_file_problem(io.BytesIO(value), len(value), passphrase=True)
        if problem is not None:
            problems.append(f"reviewers.keyring, row {reviewer_id}: {problem}")
    return CiphertextReport(checked=checked, problems=problems, sealed_unchecked=unchecked)


def age_file_problem(source: BinaryIO, size: int, *, passphrase: bool = False) -> str | None:
    """Why the `size`-byte age file at `source`'s position is not well formed, or None if it is.

    Reads the header only, from a seekable `source`; the payload is judged by its length.
    `passphrase` says whether the file must be encrypted with scrypt (a reviewer's keyring) or
    must not be (everything encrypted to the inspectorate, where a passphrase stanza has no
    place).
    """
    start = source.tell()
    if source.read(len(VERSION_LINE)) != VERSION_LINE:
        # Said plainly, since it is the likeliest finding: plaintext stored by mistake.
        return "not an age v1 file (it does not start with the age version line)"
    source.seek(start)
    try:
        header = read_header(source)
    except HeaderError as error:
        # HeaderError messages name the broken rule, never the bytes that broke it.
        return f"not a well-formed age v1 file ({error})"
    scrypt_stanzas = sum(stanza.type == SCRYPT_STANZA for stanza in header.stanzas)
    if not header.stanzas:
        return "its age header has no recipient stanza"
    if passphrase and (scrypt_stanzas != 1 or len(header.stanzas) != 1):
        return "not encrypted with a passphrase alone (scrypt), as a keyring must be"
    if not passphrase and scrypt_stanzas:
        return "encrypted with a passphrase (scrypt) instead of to the inspectorate's keys"
    return _payload_length_problem(size - (source.tell() - start))


def _payload_length_problem(length: int) -> str | None:
    """Whether `length` bytes can be a STREAM payload: a nonce, then chunks of 64 KiB + tag, the
    last one shorter or full but holding at least one byte unless it is the only chunk."""
    if length < NONCE_SIZE:
        return "its payload nonce is missing or cut short"
    chunks_length = length - NONCE_SIZE
    full_chunks, last_chunk = divmod(chunks_length, ENCRYPTED_CHUNK_SIZE)
    if full_chunks == 0 and last_chunk < TAG_SIZE:
        return "its payload is cut short (no complete chunk)"
    if 0 < last_chunk < TAG_SIZE:
        return "its payload's last chunk is cut short (shorter than its tag)"
    if full_chunks > 0 and last_chunk == TAG_SIZE:
        # age allows an empty last chunk only when the whole payload is empty, so no
        # well-formed file has this length: one with a single byte in its last chunk lost it.
        return "its payload ends in an empty chunk after full ones (cut short)"
    return None


def _blob_problem(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            # The size of the file opened, not of whatever the path names a moment later.
            return age_file_problem(handle, os.fstat(handle.fileno()).st_size)
    except FileNotFoundError:
        return f"the file {path.name} is missing"


def _reports_without_content(session: Session) -> Iterator[uuid.UUID]:
    statement = (
        select(Report.id)
        .outerjoin(ReportContent)
        .where(ReportContent.report_id.is_(None))
        .order_by(Report.id)
        .execution_options(yield_per=_BATCH)
    )
    return iter(session.scalars(statement))


def _stored_values(session: Session, column: _Column) -> Iterator[tuple[Any, bytes]]:
    statement = (
        select(column.id, column.value)
        .where(column.value.is_not(None))
        .order_by(column.id)
        .execution_options(yield_per=_BATCH)
    )
    for row_id, value in session.execute(statement):
        yield row_id, bytes(value)
