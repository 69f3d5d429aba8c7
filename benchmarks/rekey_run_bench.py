"""How fast `portal keys rekey` moves a deployment off a retiring key epoch.

Run with `make bench-rekey-run`, or `.venv/bin/python benchmarks/rekey_run_bench.py --help`.
It builds a throwaway SQLite deployment in a temporary folder: reports (each with a message and
a note) and files sealed to epoch 1 by the portal's own services, then rotates to epoch 2 and
times one pass of the re-keying the command runs (`portal.services.rekeying.batches`, each batch
committed), reporting ciphertexts per second and MiB per second of files. Baselines measured in
the same run, on the same bytes: `crypto.rekey` of the documents in memory (what the pass adds
to it is the database), and a plain copy of the blob files (what a header rewrite cannot beat).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from report import machine_basics, render_pairs, render_table
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto, migrate
from portal.config import sqlite_url
from portal.costs import HashCost
from portal.custody import epochs
from portal.custody.recovery import create_keys
from portal.db import make_engine
from portal.models import Attachment, Author, Message, Note, ReportContent, ReportKind
from portal.services import rekeying, transaction
from portal.services.blobs import BlobStore
from portal.services.casework import add_note
from portal.services.codenames import CodenameHasher, new_codename
from portal.services.followup import add_message
from portal.services.intake import EncryptingUpload, UploadPolicy
from portal.services.reports import NewReport, store_report

TODAY = datetime.date(2026, 12, 4)
PASSPHRASE = "a recovery passphrase for this benchmark only"  # noqa: S105 (a throwaway)
ANSWER = "x" * 1800  # with the document's fields, a sealed report of the 2 KiB bucket


def build(folder: Path, reports: int, files: int, file_mib: int) -> tuple[str, crypto.Identity]:
    """A deployment on epoch 1, rotated to epoch 2: its database URL and the recovery identity."""
    url = sqlite_url(folder / "portal.sqlite3")
    migrate.upgrade(url)
    identity = create_keys(folder / "keys", PASSPHRASE, work_factor=10).identity
    recipients = [identity.recipient()]
    store = BlobStore(folder / "blobs")
    hasher = CodenameHasher(salt=os.urandom(32), cost=HashCost(8, 1, 1), reply_kind="pq")
    policy = UploadPolicy(store, recipients, max_file_bytes=file_mib << 21, max_files=1)
    engine = make_engine(url)
    with Session(engine) as session:
        epochs.start_first_epoch(session, identity, today=TODAY)
        for number in range(reports):
            received = []
            if number < files:
                upload = EncryptingUpload(policy)
                piece = os.urandom(1 << 20)
                for _ in range(file_mib):
                    upload.write(piece)
                received.append(upload.finish(name="evidence.bin", content_type="text/plain"))
            report = store_report(
                session,
                NewReport(ReportKind.OTHER, urgent=False, region=None, answers={"a": ANSWER}),
                received,
                recipients=recipients,
                codename_keys=hasher.derive(new_codename()),
                today=TODAY,
            )
            add_message(
                session,
                report,
                author=Author.SUBMITTER,
                text="more",
                recipients=recipients,
                today=TODAY,
            )
            add_note(session, report, author=None, text="seen", recipients=recipients, today=TODAY)  # type: ignore[arg-type]
            transaction.finish(session)
        epochs.rotate(session, today=TODAY)
        transaction.finish(session)
    engine.dispose()
    return url, identity


@dataclass(frozen=True)
class Pass:
    """One timed pass: its progress, and the seconds spent on documents and on blob files."""

    progress: rekeying.Progress
    document_seconds: float
    blob_seconds: float


def timed_pass(url: str, folder: Path, identity: crypto.Identity) -> Pass:
    engine = make_engine(url)
    with Session(engine) as session:
        held = epochs.keys_held(session, identity, reviewer_id=None)
        current = epochs.current_epoch(session)
        if current is None:
            raise SystemExit("the deployment was not rotated")
        move = rekeying.Move(
            old=[held[1]],
            new=[crypto.parse_recipient(current.recipient)],
            readers=list(held.values()),
        )
        start = time.perf_counter()
        documents_done = start
        progress = rekeying.Progress()
        for done in rekeying.batches(session, BlobStore(folder / "blobs"), move):
            transaction.finish(session)
            progress = done
            if not done.blob_bytes:  # blobs come last: this is still a document batch
                documents_done = time.perf_counter()
        end = time.perf_counter()
    engine.dispose()
    return Pass(progress, documents_done - start, end - documents_done)


def baseline_documents(url: str, identity: crypto.Identity) -> tuple[float, int]:
    """`crypto.rekey` of the same documents in memory (read first, outside the timing)."""
    engine = make_engine(url)
    with Session(engine) as session:
        documents = [
            bytes(value)
            for column in (ReportContent.content, Message.content, Note.content, Attachment.details)
            for value in session.scalars(select(column))
        ]
    engine.dispose()
    new = [crypto.generate_identity("pq").recipient()]
    start = time.perf_counter()
    for document in documents:
        crypto.rekey(document, [identity], new)
    return time.perf_counter() - start, len(documents)


def baseline_copy(folder: Path) -> tuple[float, int]:
    blobs = sorted((folder / "blobs").glob("*.age"))
    copies = folder / "copies"
    copies.mkdir()
    start = time.perf_counter()
    for blob in blobs:
        destination = copies / blob.name
        shutil.copyfile(blob, destination)
        with destination.open("rb+") as handle:
            os.fsync(handle.fileno())
    return time.perf_counter() - start, sum(blob.stat().st_size for blob in blobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=500, help="reports (default 500)")
    parser.add_argument("--files", type=int, default=8, help="reports with a file (default 8)")
    parser.add_argument("--file-mib", type=int, default=16, help="size of each file (default 16)")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rekey-run-") as name:
        folder = Path(name)
        url, identity = build(folder, arguments.reports, arguments.files, arguments.file_mib)
        # The baselines first, while everything is still on epoch 1, like the pass that follows
        copy_seconds, blob_bytes = baseline_copy(folder)
        document_seconds, documents = baseline_documents(url, identity)
        run = timed_pass(url, folder, identity)
    mib = blob_bytes / 2**20
    moved_documents = run.progress.moved - arguments.files
    print(render_pairs(machine_basics()))
    print(
        f"{arguments.reports} reports, each with a message and a note; {arguments.files} of them "
        f"with a {arguments.file_mib} MiB file; SQLite; post-quantum epochs"
    )
    rows = [
        [
            "portal keys rekey: documents and descriptions",
            f"{moved_documents / run.document_seconds:,.0f} ciphertexts/s",
            f"{moved_documents / run.document_seconds * document_seconds / documents:.2f}x",
        ],
        [
            "crypto.rekey of the same documents, in memory",
            f"{documents / document_seconds:,.0f} ciphertexts/s",
            "1.00x",
        ],
        [
            "portal keys rekey: blob files",
            f"{mib / run.blob_seconds:,.0f} MiB/s",
            f"{copy_seconds / run.blob_seconds:.2f}x",
        ],
        ["copy of the same blob files, fsynced", f"{mib / copy_seconds:,.0f} MiB/s", "1.00x"],
    ]
    print(render_table(["operation", "rate", "x its baseline"], rows))
    total = run.document_seconds + run.blob_seconds
    print(
        f"moved {run.progress.moved} ciphertexts ({run.progress.blob_bytes / 2**20:.0f} MiB of "
        f"files) in {total:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
