"""Moving stored ciphertexts off retiring key epochs: a header rewrite, resumable at any point.

An age file's payload key comes from its file key, so moving a ciphertext to another epoch
rewrites its header (`crypto.rekey`) and copies its payload unchanged: no report, message, note
or file is decrypted. Every step is idempotent, since a ciphertext no longer on a retiring
epoch is left alone (`crypto.rekey` returns None), so a run cut short anywhere is finished by
running it again.

One exception, once: a file description written before descriptions recorded the hash of the
blob's encrypted chunks names the whole blob's hash, which a header rewrite changes. Such a
description is opened and sealed again with the chunks' hash added (a small document, never a
file's content). From then on a blob and its description can be moved in either order, and a
run cut short between the two leaves both readable. Such a description's row binding (which
covers the description's payload) is made again when run on the review host (`Move.bindings`).
Every other binding survives re-keying: it covers a payload, which a header rewrite keeps.

Nothing here commits: `batches` yields after each batch, and the command that runs it (the
transaction's owner) finishes the transaction there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal import crypto
from portal.custody.bindings import BindingKey
from portal.files import sync_directory
from portal.models import Attachment, Message, Note, ReportContent
from portal.services.bindings import bind, binding_problem
from portal.services.blobs import BlobStore
from portal.services.documents import seal_document, unseal_document

BATCH = 200
_DOCUMENTS: tuple[tuple[InstrumentedAttribute[Any], InstrumentedAttribute[Any]], ...] = (
    (ReportContent.report_id, ReportContent.content),
    (Message.id, Message.content),
    (Note.id, Note.content),
)


@dataclass
class Progress:
    """How far a pass has come: ciphertexts looked at, of which moved, and blob bytes moved."""

    done: int = 0
    moved: int = 0
    blob_bytes: int = 0


def count(session: Session) -> int:
    """How many ciphertexts a pass looks at: documents, file descriptions and blobs."""
    documents = sum(session.scalar(select(func.count(key))) or 0 for key, _ in _DOCUMENTS)
    return documents + 2 * (session.scalar(select(func.count(Attachment.id))) or 0)


@dataclass(frozen=True)
class Move:
    """Where ciphertexts go: from what `old` opens to `new`. `readers` opens any live epoch's
    file description (one that must be sealed again, above)."""

    old: Sequence[crypto.Identity]
    new: Sequence[crypto.Recipient]
    readers: Sequence[crypto.Identity]
    bindings: BindingKey | None = None
    """The review host's binding key, when run there: a description sealed again (above) whose
    binding matched is bound again. Elsewhere its binding is left, and fails from then on."""


def batches(session: Session, blobs: BlobStore, move: Move) -> Iterator[Progress]:
    """Move every stored ciphertext that `move.old` opens to `move.new`, yielding after each
    batch (the caller finishes the transaction there)."""
    progress = Progress()
    for key, value in _DOCUMENTS:
        yield from _documents(session, (key, value), move, progress)
    yield from _descriptions(session, blobs, move, progress)
    yield from _blobs(session, blobs, move, progress)


def _documents(
    session: Session,
    column: tuple[InstrumentedAttribute[Any], InstrumentedAttribute[Any]],
    move: Move,
    progress: Progress,
) -> Iterator[Progress]:
    key, value = column
    ids = session.scalars(select(key).order_by(key)).all()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        for row_id, stored in session.execute(select(key, value).where(key.in_(chunk))):
            moved = crypto.rekey(bytes(stored), move.old, move.new)
            if moved is not None:
                session.execute(update(key.class_).where(key == row_id).values({value: moved}))
                progress.moved += 1
            progress.done += 1
        yield progress


def _descriptions(
    session: Session, blobs: BlobStore, move: Move, progress: Progress
) -> Iterator[Progress]:
    ids = session.scalars(select(Attachment.id).order_by(Attachment.id)).all()
    for start in range(0, len(ids), BATCH):
        for attachment in session.scalars(
            select(Attachment).where(Attachment.id.in_(ids[start : start + BATCH]))
        ):
            bound = {"attachment_id": str(attachment.id)}
            document = unseal_document(attachment.details, move.readers, bound_to=bound)
            rebind = False
            if "chunks_sha256" in document:
                moved = crypto.rekey(attachment.details, move.old, move.new)
            else:
                document["chunks_sha256"] = blobs.chunks_sha256_of(attachment.id)
                moved = seal_document(document, move.new)
                rebind = (
                    move.bindings is not None
                    and attachment.binding is not None
                    and binding_problem(attachment, move.bindings) is None
                )
            if moved is not None:
                attachment.details = moved
                if rebind and move.bindings is not None:
                    bind(attachment, move.bindings)
                progress.moved += 1
            progress.done += 1
        session.flush()
        yield progress


def _blobs(
    session: Session, blobs: BlobStore, move: Move, progress: Progress
) -> Iterator[Progress]:
    ids = session.scalars(select(Attachment.id).order_by(Attachment.id)).all()
    for number, attachment_id in enumerate(ids, start=1):
        moved = _rekey_blob(blobs.path_of(attachment_id), move)
        if moved:
            progress.moved += 1
            progress.blob_bytes += moved
        progress.done += 1
        if number % BATCH == 0 or number == len(ids):
            yield progress


def _rekey_blob(path: Path, move: Move) -> int:
    """Re-key one blob file in place, atomically (a new file renamed over the old, keeping its
    day-blurred times); its size if it moved, 0 if it was not on `move.old` (or is missing)."""
    staged = path.with_name(f".{path.name}.rekey")
    try:
        source = path.open("rb")
    except FileNotFoundError:
        return 0  # `portal audit verify` names a missing blob; nothing to move here
    with source:
        times = path.stat()
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as destination:
            if not crypto.rekey_stream(source, destination, move.old, move.new):
                staged.unlink()
                return 0
            destination.flush()
            os.fsync(destination.fileno())
    os.utime(staged, ns=(times.st_atime_ns, times.st_mtime_ns))
    staged.replace(path)
    with contextlib.suppress(OSError):
        sync_directory(path.parent)
    return times.st_size
