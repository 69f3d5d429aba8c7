"""Benchmarks of re-keying (`rekey`, `rekey_stream`) against decrypting and encrypting again.

Run with `make bench-rekey`, or `.venv/bin/python benchmarks/rekey_bench.py --help` for the
options. Re-keying rewrites a file's header and copies its payload, so it should cost about what
a file copy costs, whatever the file's size; the alternative, decrypting and encrypting again,
costs two passes of the cipher over every byte and holds the plaintext while it does. As in
crypto_bench.py, every figure is printed as a ratio to a baseline measured in the same run,
interleaved with it; benchmarks/README.md says what each comparison means.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cryptography
from crypto_bench import (
    file_sha256,
    format_duration,
    format_ratio,
    log,
    timed_file_operation,
    write_payload,
)
from report import load_average, machine_basics, render_pairs, render_table

from portal.crypto import (
    EncryptingWriter,
    Recipient,
    decrypt,
    decrypt_chunks,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    generate_identity,
    rekey,
    rekey_stream,
)
from portal.crypto.format import read_header
from portal.crypto.keys import AnyIdentity
from portal.crypto.stream import CHUNK_SIZE

DOCUMENT_SIZE = 2048
# A stream operation reads the file at its first argument and writes the file at its second.
StreamOperation = Callable[[Path, Path], None]


@dataclass(frozen=True)
class Epochs:
    """An old and a new key of one type: what a re-key moves files between."""

    name: str
    old: AnyIdentity
    new: Recipient
    new_identity: AnyIdentity

    @staticmethod
    def of(kind: Literal["pq", "x25519"], name: str) -> Epochs:
        old, new = generate_identity(kind), generate_identity(kind)
        return Epochs(name, old, new.recipient(), new)


# --------------------------------------------------------------------------- documents


@dataclass
class DocumentRun:
    """One key type's documents, and the seconds each way of moving all of them took, a round."""

    epochs: Epochs
    documents: list[bytes]
    samples: dict[str, list[float]] = field(
        default_factory=lambda: {"rekey": [], "decrypt + re-encrypt": []}
    )

    def per_second(self, way: str) -> float:
        return len(self.documents) / statistics.median(self.samples[way])


def move_by_rekey(documents: list[bytes], epochs: Epochs) -> list[bytes | None]:
    return [rekey(document, [epochs.old], [epochs.new]) for document in documents]


def move_by_re_encryption(documents: list[bytes], epochs: Epochs) -> list[bytes | None]:
    return [encrypt(decrypt(document, [epochs.old]), [epochs.new]) for document in documents]


def run_document_benchmark(count: int, repeat: int) -> list[DocumentRun]:
    """Move `count` 2 KiB documents of each key type, both ways, in interleaved rounds.

    The first round's results are checked (outside the timing) to decrypt with the new key.
    """
    runs = []
    for epochs in (Epochs.of("pq", "post-quantum"), Epochs.of("x25519", "X25519")):
        plaintexts = [os.urandom(DOCUMENT_SIZE) for _ in range(count)]
        documents = [encrypt(plaintext, [epochs.old.recipient()]) for plaintext in plaintexts]
        runs.append(DocumentRun(epochs, documents))
    ways = {"rekey": move_by_rekey, "decrypt + re-encrypt": move_by_re_encryption}
    for round_number in range(repeat):
        for run in runs:
            order = list(ways.items())
            for way, move in order if round_number % 2 == 0 else reversed(order):
                log(f"  documents round {round_number + 1}/{repeat}: {run.epochs.name}, {way}")
                start = time.perf_counter()
                moved = move(run.documents, run.epochs)
                run.samples[way].append(time.perf_counter() - start)
                if round_number == 0:
                    check_documents(run, moved, way)
    return runs


def check_documents(run: DocumentRun, moved: list[bytes | None], way: str) -> None:
    for original, result in zip(run.documents, moved, strict=True):
        if result is None or decrypt(result, [run.epochs.new_identity]) != decrypt(
            original, [run.epochs.old]
        ):
            raise SystemExit(f"{way}: a moved document does not decrypt to its plaintext")


def document_table(runs: list[DocumentRun]) -> str:
    rows = []
    for run in runs:
        baseline = run.per_second("decrypt + re-encrypt")
        for way in run.samples:
            median = statistics.median(run.samples[way])
            rows.append(
                [
                    f"{way}, {run.epochs.name}",
                    f"{run.per_second(way):,.0f}",
                    format_duration(median / len(run.documents) * 1e9),
                    format_ratio(run.per_second(way) / baseline),
                ]
            )
    header = ["operation", "ciphertexts/s", "median each", "x decrypt + re-encrypt"]
    return render_table(header, rows)


# --------------------------------------------------------------------------- stream


def python_copy(source: Path, destination: Path) -> None:
    """The same bytes copied in 64 KiB reads and writes: what rekey_stream does after the header."""
    with source.open("rb") as reader, destination.open("wb") as writer:
        while data := reader.read(CHUNK_SIZE):
            writer.write(data)


def stream_rekey(source: Path, destination: Path, epochs: Epochs) -> None:
    with source.open("rb") as reader, destination.open("wb") as writer:
        if not rekey_stream(reader, writer, [epochs.old], [epochs.new]):
            raise SystemExit("rekey_stream found no stanza for the old key")


def stream_re_encryption(source: Path, destination: Path, epochs: Epochs) -> None:
    """Decrypt and encrypt again, chunk by chunk, with flat memory: the alternative to a re-key."""
    with (
        source.open("rb") as reader,
        destination.open("wb") as writer,
        EncryptingWriter(writer, [epochs.new]) as encryptor,
    ):
        for chunk in decrypt_chunks(reader, [epochs.old]):
            encryptor.write(chunk)


@dataclass
class StreamContender:
    name: str
    operation: StreamOperation
    samples: list[int] = field(default_factory=list)

    def mib_per_s(self, size_mib: int) -> float:
        return size_mib / (statistics.median(self.samples) / 1e9)

    def range_mib_per_s(self, size_mib: int) -> str:
        speeds = [size_mib / (sample / 1e9) for sample in self.samples]
        return f"{min(speeds):,.0f}..{max(speeds):,.0f}"


def payload_sha256(path: Path) -> str:
    """SHA-256 of everything after an age file's header: its nonce and chunks."""
    with path.open("rb") as reader:
        read_header(reader)
        return hashlib.file_digest(reader, "sha256").hexdigest()


def run_stream_benchmark(workdir: Path, size_mib: int, repeat: int) -> list[StreamContender]:
    """Move one post-quantum file of `size_mib` MiB each way, in interleaved, rotating rounds.

    In the first round (outside the timing) the copy must equal the original, the re-keyed file
    must keep the original's payload, and both moved files must decrypt to the plaintext.
    """
    epochs = Epochs.of("pq", "post-quantum")
    plaintext, original = workdir / "payload.bin", workdir / "original.age"
    log(f"writing a {size_mib} MiB random payload to {plaintext} and encrypting it")
    expected = write_payload(plaintext, size_mib)
    with plaintext.open("rb") as reader, original.open("wb") as writer:
        encrypt_stream(reader, writer, [epochs.old.recipient()])
    plaintext.unlink()
    contenders = [
        StreamContender("copy, 64 KiB reads and writes", python_copy),
        StreamContender("rekey_stream", lambda s, d: stream_rekey(s, d, epochs)),
        StreamContender("decrypt + re-encrypt", lambda s, d: stream_re_encryption(s, d, epochs)),
    ]
    for round_number in range(repeat):
        shift = round_number % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            log(f"  stream round {round_number + 1}/{repeat}: {contender.name}")
            output = workdir / "moved.age"
            contender.samples.append(timed_file_operation(contender.operation, original, output))
            if round_number == 0:
                check_stream(contender, original, output, epochs, expected)
            output.unlink()
    return contenders


def check_stream(
    contender: StreamContender, original: Path, output: Path, epochs: Epochs, expected: str
) -> None:
    if contender.operation is python_copy:
        if file_sha256(output) != file_sha256(original):
            raise SystemExit("the copy differs from the original")
        return
    if contender.name == "rekey_stream" and payload_sha256(output) != payload_sha256(original):
        raise SystemExit("rekey_stream changed the payload")
    decrypted = output.with_suffix(".out")
    with output.open("rb") as reader, decrypted.open("wb") as writer:
        decrypt_stream(reader, writer, [epochs.new_identity])
    if file_sha256(decrypted) != expected:
        raise SystemExit(f"{contender.name}: the moved file does not decrypt to the plaintext")
    decrypted.unlink()


def stream_table(contenders: list[StreamContender], size_mib: int) -> str:
    copy, re_encryption = contenders[0], contenders[2]
    rows = []
    for contender in contenders:
        speed = contender.mib_per_s(size_mib)
        rows.append(
            [
                contender.name,
                f"{speed:,.0f}",
                contender.range_mib_per_s(size_mib),
                format_duration(statistics.median(contender.samples)),
                format_ratio(speed / copy.mib_per_s(size_mib)),
                format_ratio(speed / re_encryption.mib_per_s(size_mib)),
            ]
        )
    header = ["operation", "MiB/s", "rounds' range", "median time", "x copy", "x re-encrypt"]
    return render_table(header, rows)


# --------------------------------------------------------------------------- main


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--documents", type=int, default=1000, help="2 KiB documents per key type (default 1000)"
    )
    parser.add_argument(
        "--size-mib", type=int, default=256, help="stream file size in MiB (default 256)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="rounds of each measurement; the median is reported (default 5)",
    )
    arguments = parser.parse_args(argv)
    for option in ("documents", "size_mib", "repeat"):
        if getattr(arguments, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    info = [*machine_basics(), ("cryptography", cryptography.__version__)]
    started = time.perf_counter()
    documents = run_document_benchmark(arguments.documents, arguments.repeat)
    with tempfile.TemporaryDirectory(prefix="rekey-bench-") as workdir:
        stream = run_stream_benchmark(Path(workdir), arguments.size_mib, arguments.repeat)
    elapsed = time.perf_counter() - started
    info.append(("load average at end", load_average()))

    print("Machine")
    print(render_pairs(info))
    print()
    print(
        f"1. Documents: {arguments.documents} ciphertexts of {DOCUMENT_SIZE} bytes per key type, "
        f"moved to a new key of the same type; median of {arguments.repeat} interleaved rounds"
    )
    print(document_table(documents))
    print("   x decrypt + re-encrypt: throughput relative to that way, same key type (above 1 =")
    print("   faster); keys are parsed once, in advance, for both ways")
    print()
    print(
        f"2. Stream: one {arguments.size_mib} MiB post-quantum file, file to file in a temporary "
        f"directory on disk, median of {arguments.repeat} interleaved rounds"
    )
    print(stream_table(stream, arguments.size_mib))
    print("   x copy, x re-encrypt: throughput relative to that row (above 1 = faster)")
    print()
    print(f"Total run time {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
