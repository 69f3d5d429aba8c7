"""Benchmarks of the portal's age encryption against a ceiling, the `age` CLI and `gpg`.

Run with `make bench`, or `.venv/bin/python benchmarks/crypto_bench.py --help` for the options.
The machines the portal is built on have two cores and are noisy, so every figure is printed as
a ratio to a baseline measured in the same run, interleaved with it; absolute times are printed
beside the ratios for reference only. benchmarks/README.md says what each comparison means.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from report import load_average, machine_basics, render_pairs, render_table

from portal.crypto import (
    Identity,
    Recipient,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    generate_identity,
    parse_identity,
    parse_recipient,
)
from portal.crypto.stream import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE

MIB = 1024 * 1024
REPORT_SIZE = 2048
GPG_UID = "Portal Benchmark <benchmark@example.invalid>"
REPORT_WARMUP = 200
DIRECTIONS = ("encrypt", "decrypt")
SPAWN_WARMUP = 3

# A stream operation reads the file at its first argument and writes the file at its second.
StreamOperation = Callable[[Path, Path], None]


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- formatting


def format_duration(nanoseconds: float) -> str:
    if nanoseconds >= 1e9:
        return f"{nanoseconds / 1e9:.3f} s"
    if nanoseconds >= 1e6:
        return f"{nanoseconds / 1e6:.2f} ms"
    return f"{nanoseconds / 1e3:.0f} µs"


def format_ratio(ratio: float) -> str:
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


# --------------------------------------------------------------------------- machine info


def tool_version(command: list[str]) -> str | None:
    """The first line a tool prints for its version, or None if it cannot be run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else None


@dataclass
class Tools:
    """The external programs compared against, and why any comparison is skipped."""

    age: str | None
    age_version: str
    gpg: str | None
    gpg_version: str
    skipped: list[str]


def find_tool(name: str, comparison: str, skipped: list[str]) -> tuple[str | None, str]:
    path = shutil.which(name)
    if path is None:
        skipped.append(
            f"{comparison} skipped: `{name}` is not on PATH (Debian: apt-get install {name})"
        )
        return None, "not found"
    version = tool_version([path, "--version"])
    if version is None:
        skipped.append(f"{comparison} skipped: `{path} --version` failed")
        return None, "not runnable"
    return path, version


def find_tools() -> Tools:
    skipped: list[str] = []
    age, age_version = find_tool("age", "age CLI stream comparison", skipped)
    gpg, gpg_version = find_tool("gpg", "gpg per-report comparison", skipped)
    return Tools(age, age_version, gpg, gpg_version, skipped)


def machine_info(tools: Tools) -> list[tuple[str, str]]:
    return [
        *machine_basics(),
        ("cryptography", f"{cryptography.__version__} ({openssl_backend.openssl_version_text()})"),
        ("age", tools.age_version),
        ("gpg", tools.gpg_version),
    ]


# --------------------------------------------------------------------------- stream operations


def ceiling_encrypt(source: Path, destination: Path, key: bytes) -> None:
    """Bare ChaCha20-Poly1305 over the same 64 KiB chunks and file I/O as the portal, nothing else.

    No header, no HKDF, no last-chunk flag or look-ahead: the most a Python loop over
    `cryptography` can do with this I/O pattern, and so the ceiling for `encrypt_stream`.
    """
    aead = ChaCha20Poly1305(key)
    with source.open("rb") as reader, destination.open("wb") as writer:
        counter = 0
        while chunk := reader.read(CHUNK_SIZE):
            writer.write(aead.encrypt(counter.to_bytes(12, "big"), chunk, None))
            counter += 1


def ceiling_decrypt(source: Path, destination: Path, key: bytes) -> None:
    aead = ChaCha20Poly1305(key)
    with source.open("rb") as reader, destination.open("wb") as writer:
        counter = 0
        while chunk := reader.read(ENCRYPTED_CHUNK_SIZE):
            writer.write(aead.decrypt(counter.to_bytes(12, "big"), chunk, None))
            counter += 1


def portal_encrypt(source: Path, destination: Path, recipient: Recipient) -> None:
    with source.open("rb") as reader, destination.open("wb") as writer:
        encrypt_stream(reader, writer, [recipient])


def portal_decrypt(source: Path, destination: Path, identity: Identity) -> None:
    with source.open("rb") as reader, destination.open("wb") as writer:
        decrypt_stream(reader, writer, [identity])


def age_encrypt(source: Path, destination: Path, age: str, recipient: str) -> None:
    subprocess.run([age, "-r", recipient, "-o", str(destination), str(source)], check=True)


def age_decrypt(source: Path, destination: Path, age: str, identity: str) -> None:
    """Give `age` the identity through a pipe (`-i /dev/fd/N`) so that it never touches disk."""
    read_end, write_end = os.pipe()
    try:
        # An identity is far smaller than a pipe's buffer, so this write cannot block.
        os.write(write_end, f"{identity}\n".encode())
        os.close(write_end)
        write_end = -1
        command = [age, "-d", "-i", f"/dev/fd/{read_end}", "-o", str(destination), str(source)]
        subprocess.run(command, check=True, pass_fds=(read_end,))
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


# --------------------------------------------------------------------------- stream benchmark


@dataclass
class Contender:
    """One way of encrypting and decrypting the payload file, and its timings in nanoseconds."""

    name: str
    slug: str
    encrypt: StreamOperation
    decrypt: StreamOperation
    samples: dict[str, list[int]] = field(
        default_factory=lambda: {direction: [] for direction in DIRECTIONS}
    )

    def median_ns(self, direction: str) -> float:
        return statistics.median(self.samples[direction])

    def mib_per_s(self, direction: str, size_mib: int) -> float:
        return size_mib / (self.median_ns(direction) / 1e9)

    def range_mib_per_s(self, direction: str, size_mib: int) -> str:
        """Slowest..fastest round, so that the reader can see how noisy the machine was."""
        speeds = [size_mib / (sample / 1e9) for sample in self.samples[direction]]
        return f"{min(speeds):,.0f}..{max(speeds):,.0f}"


def stream_contenders(age: str | None, age_version: str) -> list[Contender]:
    key = ChaCha20Poly1305.generate_key()
    pq = generate_identity("pq")
    classic = generate_identity("x25519")
    # Round-trip through the strings so that the portal's own parsers make the keys used.
    pq_recipient, pq_identity = parse_recipient(str(pq.recipient())), parse_identity(str(pq))
    x_recipient, x_identity = (
        parse_recipient(str(classic.recipient())),
        parse_identity(str(classic)),
    )
    contenders = [
        Contender(
            "ceiling (bare ChaCha20-Poly1305)",
            "ceiling",
            lambda s, d: ceiling_encrypt(s, d, key),
            lambda s, d: ceiling_decrypt(s, d, key),
        ),
        Contender(
            "portal, post-quantum",
            "portal-pq",
            lambda s, d: portal_encrypt(s, d, pq_recipient),
            lambda s, d: portal_decrypt(s, d, pq_identity),
        ),
        Contender(
            "portal, X25519",
            "portal-x25519",
            lambda s, d: portal_encrypt(s, d, x_recipient),
            lambda s, d: portal_decrypt(s, d, x_identity),
        ),
    ]
    if age is not None:
        recipient_text, identity_text = str(classic.recipient()), str(classic)
        contenders.append(
            Contender(
                f"age CLI {age_version}, X25519",
                "age",
                lambda s, d: age_encrypt(s, d, age, recipient_text),
                lambda s, d: age_decrypt(s, d, age, identity_text),
            )
        )
    return contenders


def in_memory_aead_ns(size_mib: int) -> int:
    """Nanoseconds to encrypt `size_mib` MiB as 64 KiB chunks of one buffer, with no file I/O.

    Not a contender: it shows how much of the file-to-file ceiling is the cipher and how much
    is reading and writing files.
    """
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    chunk = os.urandom(CHUNK_SIZE)
    start = time.perf_counter_ns()
    for counter in range(size_mib * MIB // CHUNK_SIZE):
        aead.encrypt(counter.to_bytes(12, "big"), chunk, None)
    return time.perf_counter_ns() - start


def write_payload(path: Path, size_mib: int) -> str:
    """Write `size_mib` MiB of random bytes to `path`; return their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as writer:
        for _ in range(size_mib):
            block = os.urandom(MIB)
            digest.update(block)
            writer.write(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as reader:
        return hashlib.file_digest(reader, "sha256").hexdigest()


def timed_file_operation(operation: StreamOperation, source: Path, destination: Path) -> int:
    """Wall-clock nanoseconds of one operation, from the opening of its files to their closing.

    The destination is removed and dirty pages are flushed first (outside the timing), so that
    the write-back of an earlier run's output does not land inside this one's measurement.
    """
    destination.unlink(missing_ok=True)
    os.sync()
    start = time.perf_counter_ns()
    operation(source, destination)
    return time.perf_counter_ns() - start


def run_stream_benchmark(
    contenders: list[Contender], workdir: Path, size_mib: int, repeat: int
) -> list[int]:
    """Interleave the contenders round by round, rotating who goes first in each round.

    Each contender's decryption reads its own encryption's output; every decryption is checked
    against the plaintext's SHA-256 (outside the timing) in the first round. Returns the
    in-memory cipher timings, one per round.
    """
    plaintext = workdir / "payload.bin"
    log(f"writing a {size_mib} MiB random payload to {plaintext}")
    expected = write_payload(plaintext, size_mib)
    in_memory = []
    for round_number in range(repeat):
        in_memory.append(in_memory_aead_ns(size_mib))
        shift = round_number % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            log(f"  round {round_number + 1}/{repeat}: {contender.name}")
            ciphertext = workdir / f"{contender.slug}.age"
            output = workdir / f"{contender.slug}.out"
            encrypted = timed_file_operation(contender.encrypt, plaintext, ciphertext)
            contender.samples["encrypt"].append(encrypted)
            decrypted = timed_file_operation(contender.decrypt, ciphertext, output)
            contender.samples["decrypt"].append(decrypted)
            if round_number == 0 and file_sha256(output) != expected:
                raise SystemExit(f"{contender.name}: decrypted output differs from the plaintext")
            output.unlink()
    return in_memory


def stream_table(contenders: list[Contender], size_mib: int) -> str:
    ceiling = contenders[0]
    age = next((contender for contender in contenders if contender.slug == "age"), None)
    rows = []
    for direction in DIRECTIONS:
        for contender in contenders:
            speed = contender.mib_per_s(direction, size_mib)
            versus_age = format_ratio(speed / age.mib_per_s(direction, size_mib)) if age else "-"
            rows.append(
                [
                    f"{direction} {contender.name}",
                    f"{speed:,.0f}",
                    contender.range_mib_per_s(direction, size_mib),
                    format_duration(contender.median_ns(direction)),
                    format_ratio(speed / ceiling.mib_per_s(direction, size_mib)),
                    versus_age,
                ]
            )
    header = ["operation", "MiB/s", "rounds' range", "median time", "x ceiling", "x age CLI"]
    return render_table(header, rows)


def in_memory_note(in_memory: list[int], ceiling: Contender, size_mib: int) -> str:
    speed = size_mib / (statistics.median(in_memory) / 1e9)
    ratio = format_ratio(speed / ceiling.mib_per_s("encrypt", size_mib))
    return (
        f"   reference: the cipher alone, one 64 KiB buffer in memory, no files: {speed:,.0f} MiB/s"
        f"\n   = {ratio} the file-to-file encrypt ceiling; the rest of that ceiling is file I/O"
    )


# --------------------------------------------------------------------------- per-report benchmark


def interleaved_medians(
    operations: dict[str, Callable[[], object]], runs: int, warmup: int
) -> dict[str, float]:
    """Median nanoseconds of each operation, run in turn so that they share the same noise."""
    for _ in range(warmup):
        for operation in operations.values():
            operation()
    samples: dict[str, list[int]] = {name: [] for name in operations}
    for _ in range(runs):
        for name, operation in operations.items():
            start = time.perf_counter_ns()
            operation()
            samples[name].append(time.perf_counter_ns() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def portal_report_operations(report: bytes) -> dict[str, Callable[[], object]]:
    """Encrypt and decrypt one report with recipients and identities parsed once, in advance.

    Parsing a post-quantum recipient string costs milliseconds in pure-Python Bech32; the portal
    parses its recipient once at start-up, so the per-report cost excludes it.
    """
    pq, classic = generate_identity("pq"), generate_identity("x25519")
    pq_recipient, x_recipient = (
        parse_recipient(str(pq.recipient())),
        parse_recipient(str(classic.recipient())),
    )
    pq_identity, x_identity = parse_identity(str(pq)), parse_identity(str(classic))
    pq_ciphertext, x_ciphertext = encrypt(report, [pq_recipient]), encrypt(report, [x_recipient])
    if (
        decrypt(pq_ciphertext, [pq_identity]) != report
        or decrypt(x_ciphertext, [x_identity]) != report
    ):
        raise SystemExit("the portal did not give the report back")
    return {
        "portal encrypt, X25519": lambda: encrypt(report, [x_recipient]),
        "portal encrypt, post-quantum": lambda: encrypt(report, [pq_recipient]),
        "portal decrypt, X25519": lambda: decrypt(x_ciphertext, [x_identity]),
        "portal decrypt, post-quantum": lambda: decrypt(pq_ciphertext, [pq_identity]),
    }


@contextlib.contextmanager
def gpg_home(gpg: str) -> Iterator[tuple[dict[str, str], str]]:
    """A throw-away GNUPGHOME holding one fresh key pair with an empty passphrase.

    Yields the environment to run gpg in and a description of the encryption key. The gpg-agent
    it starts is stopped, and the directory removed, on the way out.
    """
    with tempfile.TemporaryDirectory(prefix="bench-gnupg-") as home:
        env = {**os.environ, "GNUPGHOME": home}
        try:
            generate = [gpg, "--batch", "--passphrase", "", "--pinentry-mode", "loopback"]
            generate += ["--quick-gen-key", GPG_UID, "default", "default", "never"]
            subprocess.run(generate, env=env, check=True, capture_output=True, timeout=300)
            yield env, gpg_encryption_key(gpg, env)
        finally:
            gpgconf = shutil.which("gpgconf")
            if gpgconf is not None:
                subprocess.run(
                    [gpgconf, "--kill", "gpg-agent"], env=env, check=False, capture_output=True
                )


def gpg_encryption_key(gpg: str, env: dict[str, str]) -> str:
    listing = subprocess.run(
        [gpg, "--batch", "--with-colons", "--list-keys", GPG_UID],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for entry in listing.splitlines():
        fields = entry.split(":")
        if fields[0] == "sub" and "e" in fields[11]:
            algorithm = {"1": "RSA", "18": "ECDH"}.get(fields[3], f"algorithm {fields[3]}")
            curve = fields[16] if len(fields) > 16 and fields[16] else ""
            return f"{algorithm}-{fields[2]}" if algorithm == "RSA" else f"{algorithm} {curve}"
    return "unknown"


def spawn_operations(
    gpg: str | None, env: dict[str, str], report: bytes
) -> dict[str, Callable[[], object]]:
    """`gpg` per report, as a whole process each time, and the bare cost of spawning a process."""
    true = "/bin/true" if Path("/bin/true").exists() else shutil.which("true") or "true"
    operations: dict[str, Callable[[], object]] = {
        "spawn /bin/true": lambda: subprocess.run([true], check=True),
    }
    if gpg is None:
        return operations
    common = [gpg, "--batch", "--yes", "--quiet", "--output", "-"]
    encrypt_command = [*common, "--trust-model", "always", "--encrypt", "-r", GPG_UID]
    decrypt_command = [*common, "--pinentry-mode", "loopback", "--passphrase", "", "--decrypt"]
    ciphertext = run_gpg(encrypt_command, env, report)
    if run_gpg(decrypt_command, env, ciphertext) != report:
        raise SystemExit("gpg did not give the report back")
    operations["gpg --encrypt (process)"] = lambda: run_gpg(encrypt_command, env, report)
    operations["gpg --decrypt (process)"] = lambda: run_gpg(decrypt_command, env, ciphertext)
    return operations


def run_gpg(command: list[str], env: dict[str, str], data: bytes) -> bytes:
    return subprocess.run(command, input=data, env=env, check=True, capture_output=True).stdout


@dataclass
class ReportResults:
    medians: dict[str, float]
    gpg_key: str | None


def run_report_benchmark(
    gpg: str | None, runs: int, spawn_runs: int, skipped: list[str]
) -> ReportResults:
    report = os.urandom(REPORT_SIZE)
    log(f"per-report: portal, {runs} runs each after {REPORT_WARMUP} warm-up runs")
    medians = interleaved_medians(portal_report_operations(report), runs, REPORT_WARMUP)
    if gpg is not None:
        log("per-report: generating a gpg test key in a temporary GNUPGHOME")
        try:
            with gpg_home(gpg) as (env, key):
                log(f"per-report: gpg and /bin/true, {spawn_runs} runs each")
                operations = spawn_operations(gpg, env, report)
                medians |= interleaved_medians(operations, spawn_runs, SPAWN_WARMUP)
        except subprocess.SubprocessError as error:
            skipped.append(f"gpg per-report comparison skipped: gpg failed ({error})")
        else:
            return ReportResults(medians, key)
    log(f"per-report: spawning /bin/true, {spawn_runs} runs")
    medians |= interleaved_medians(spawn_operations(None, {}, report), spawn_runs, SPAWN_WARMUP)
    return ReportResults(medians, None)


def report_table(results: ReportResults) -> str:
    medians = results.medians
    rows = []
    for name, median in medians.items():
        direction = "decrypt" if "decrypt" in name else "encrypt"
        gpg_median = medians.get(f"gpg --{direction} (process)")
        x25519_median = medians.get(f"portal {direction}, X25519")
        versus_gpg = format_ratio(median / gpg_median) if gpg_median else "-"
        versus_x25519 = format_ratio(median / x25519_median) if name.startswith("portal") else "-"
        rows.append([name, format_duration(median), versus_gpg, versus_x25519])
    header = ["operation (2048-byte report)", "median", "x gpg (same direction)", "x X25519"]
    return render_table(header, rows)


def report_summary(results: ReportResults) -> list[str]:
    medians = results.medians
    lines = [
        "post-quantum costs {} of X25519 to encrypt and {} to decrypt".format(
            format_ratio(
                medians["portal encrypt, post-quantum"] / medians["portal encrypt, X25519"]
            ),
            format_ratio(
                medians["portal decrypt, post-quantum"] / medians["portal decrypt, X25519"]
            ),
        )
    ]
    spawn = medians["spawn /bin/true"]
    lines.append(
        "spawning /bin/true alone costs {} a whole portal X25519 encryption".format(
            format_ratio(spawn / medians["portal encrypt, X25519"])
        )
    )
    for direction in ("encrypt", "decrypt"):
        gpg_median = medians.get(f"gpg --{direction} (process)")
        if gpg_median is None:
            continue
        for kind in ("X25519", "post-quantum"):
            portal = medians[f"portal {direction}, {kind}"]
            lines.append(
                f"gpg --{direction} is {gpg_median / portal:.0f}x slower than portal {kind} "
                f"{direction} (portal: {format_ratio(portal / gpg_median)} of gpg)"
            )
        lines.append(
            f"spawning /bin/true is {format_ratio(spawn / gpg_median)} of gpg --{direction} "
            "(process start-up from Python, before gpg does any work)"
        )
    return lines


# --------------------------------------------------------------------------- main


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mib", type=int, default=256, help="stream payload size in MiB (default 256)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of each stream measurement; the median is reported (default 3)",
    )
    parser.add_argument(
        "--report-runs",
        type=int,
        default=2000,
        help="timed runs of each in-process per-report operation (default 2000)",
    )
    parser.add_argument(
        "--spawn-runs",
        type=int,
        default=30,
        help="timed runs of each process-spawning operation: gpg, /bin/true (default 30)",
    )
    arguments = parser.parse_args(argv)
    for option in ("size_mib", "repeat", "report_runs", "spawn_runs"):
        if getattr(arguments, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    tools = find_tools()
    info = machine_info(tools)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crypto-bench-") as workdir:
        contenders = stream_contenders(tools.age, tools.age_version)
        in_memory = run_stream_benchmark(
            contenders, Path(workdir), arguments.size_mib, arguments.repeat
        )
    reports = run_report_benchmark(
        tools.gpg, arguments.report_runs, arguments.spawn_runs, tools.skipped
    )
    elapsed = time.perf_counter() - started
    info.append(("load average at end", load_average()))

    print("Machine")
    print(render_pairs(info))
    print()
    print(
        f"1. Stream throughput: {arguments.size_mib} MiB, file to file in a temporary directory "
        f"on disk, median of {arguments.repeat} interleaved rounds"
    )
    print(stream_table(contenders, arguments.size_mib))
    print("   x ceiling, x age CLI: throughput relative to that row (above 1 = faster)")
    print(in_memory_note(in_memory, contenders[0], arguments.size_mib))
    print()
    gpg_key = f"; gpg key {reports.gpg_key}" if reports.gpg_key else ""
    print(
        f"2. Per-report cost: medians of {arguments.report_runs} in-process runs and "
        f"{arguments.spawn_runs} process runs{gpg_key}"
    )
    print(report_table(reports))
    print("   gpg rows are whole processes (start-up included), as when a server shells out")
    print(
        "   to gpg per submission; x gpg, x X25519: cost relative to that row (below 1 = cheaper)"
    )
    for line in report_summary(reports):
        print(f"   - {line}")
    if tools.skipped:
        print()
        for line in tools.skipped:
            print(line)
    print()
    print(f"Total run time {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
