"""Streaming keeps memory flat: a 1 GiB payload goes through `encrypt_stream` and back through
`decrypt_stream` with the process's peak memory less than 64 MiB above where it started, and
`rekey_stream` moves a 256 MiB file to a new key with its peak less than 16 MiB above.

The round trip runs in a subprocess of its own, so nothing pytest or other tests allocated blurs
the figure. The plaintext is made on the fly (a ChaCha20 keystream) and never held whole; it is
hashed as it is read, and what decryption releases is hashed as it arrives, so the round trip is
checked without keeping either. Peak memory is the kernel's own high-water mark (VmHWM in
/proc/self/status), reset just before the round trip starts. A second, small run allocates a
known ballast inside the measured window, to show the measurement would see a leak.

Run with `pytest -s` to see the measured figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from portal.config import PROJECT_ROOT
from tests.support.components import unavailable

GIB = 1 << 30
MIB = 1 << 20
CEILING_MIB = 64

REKEY_SIZE = 256 * MIB
# rekey_stream holds one 64 KiB piece of the payload at a time: the ceiling is tighter.
REKEY_CEILING_MIB = 16

# What every measuring script starts with: a generated source, a hashing sink, and a way to start
# the measured window.
SCRIPT_HELPERS = r"""
import hashlib
import io
import json
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

ZEROS = memoryview(bytes(1 << 20))


def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"{field} is missing from /proc/self/status")


class GeneratedSource(io.RawIOBase):
    # `size` deterministic pseudo-random bytes (a ChaCha20 keystream), made as they are read.

    def __init__(self, size):
        self.remaining = size
        self.keystream = Cipher(algorithms.ChaCha20(b"k" * 32, bytes(16)), mode=None).encryptor()
        self.digest = hashlib.sha256()

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.remaining, len(ZEROS))
        block = self.keystream.update(ZEROS[:count])
        buffer[:count] = block
        self.digest.update(block)
        self.remaining -= count
        return count


class HashingSink:
    def __init__(self):
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def start_measuring():
    # Returns the baseline RSS in KiB, and whether the high-water mark could be reset to it.
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
        reset = True
    except OSError:
        reset = False  # then the figure also counts start-up's peak: an overestimate
    return status_kib("VmRSS"), reset
"""

# Arguments: plaintext size in bytes, where to write the ciphertext, MiB of ballast to allocate
# (and free) inside the measured window. Prints one JSON line.
ROUND_TRIP_SCRIPT = (
    SCRIPT_HELPERS
    + r"""
from portal.crypto import decrypt, decrypt_stream, encrypt, encrypt_stream, generate_identity

size, ciphertext_path, ballast_mib = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
identity = generate_identity()  # post-quantum, the portal's default
# Everything the round trip uses is imported and initialised before the baseline is taken.
assert decrypt(encrypt(b"warm-up", [identity.recipient()]), [identity]) == b"warm-up"
baseline_kib, high_water_mark_reset = start_measuring()
if ballast_mib:
    ballast = b"\x01" * (ballast_mib << 20)
    del ballast

started = time.monotonic()
source = GeneratedSource(size)
with ciphertext_path.open("wb") as destination:
    encrypt_stream(source, destination, [identity.recipient()])
encrypt_peak_kib = status_kib("VmHWM")
encrypt_seconds = time.monotonic() - started
ciphertext_size = ciphertext_path.stat().st_size

sink = HashingSink()
try:
    with ciphertext_path.open("rb") as ciphertext:
        decrypt_stream(ciphertext, sink, [identity])
finally:
    ciphertext_path.unlink()
peak_kib = status_kib("VmHWM")

print(json.dumps({
    "plaintext_size": size,
    "plaintext_sha256": source.digest.hexdigest(),
    "plaintext_bytes_read": size - source.remaining,
    "ciphertext_size": ciphertext_size,
    "released_size": sink.size,
    "released_sha256": sink.digest.hexdigest(),
    "baseline_kib": baseline_kib,
    "encrypt_peak_kib": encrypt_peak_kib,
    "peak_kib": peak_kib,
    "high_water_mark_reset": high_water_mark_reset,
    "encrypt_seconds": round(encrypt_seconds, 2),
    "total_seconds": round(time.monotonic() - started, 2),
}))
"""
)


# Arguments: plaintext size in bytes, a directory for the two files. Prints one JSON line.
REKEY_SCRIPT = (
    SCRIPT_HELPERS
    + r"""
from portal.crypto import decrypt_stream, encrypt, encrypt_stream, generate_identity, rekey
from portal.crypto import rekey_stream
from portal.crypto.format import read_header

size, workdir = int(sys.argv[1]), Path(sys.argv[2])
original_path, rekeyed_path = workdir / "original.age", workdir / "rekeyed.age"
old, new = generate_identity(), generate_identity()  # post-quantum, the portal's default
source = GeneratedSource(size)
with original_path.open("wb") as destination:
    encrypt_stream(source, destination, [old.recipient()])
# Everything the re-key uses is imported and initialised before the baseline is taken.
assert rekey(encrypt(b"warm-up", [old.recipient()]), [old], [new.recipient()])
baseline_kib, high_water_mark_reset = start_measuring()

started = time.monotonic()
with original_path.open("rb") as original, rekeyed_path.open("wb") as rekeyed:
    moved = rekey_stream(original, rekeyed, [old], [new.recipient()])
peak_kib = status_kib("VmHWM")
rekey_seconds = time.monotonic() - started


def payload_sha256(path):
    with path.open("rb") as file:
        read_header(file)
        return hashlib.file_digest(file, "sha256").hexdigest()


sink = HashingSink()
try:
    with rekeyed_path.open("rb") as rekeyed:
        decrypt_stream(rekeyed, sink, [new])
    payloads = [payload_sha256(original_path), payload_sha256(rekeyed_path)]
finally:
    original_path.unlink()
    rekeyed_path.unlink()

print(json.dumps({
    "moved": moved,
    "plaintext_sha256": source.digest.hexdigest(),
    "released_size": sink.size,
    "released_sha256": sink.digest.hexdigest(),
    "original_payload_sha256": payloads[0],
    "rekeyed_payload_sha256": payloads[1],
    "baseline_kib": baseline_kib,
    "peak_kib": peak_kib,
    "high_water_mark_reset": high_water_mark_reset,
    "rekey_seconds": round(rekey_seconds, 2),
}))
"""
)


def _measure(script: str, *arguments: str) -> dict[str, Any]:
    """Run `script` in a fresh interpreter and return the JSON line it prints last."""
    if not Path("/proc/self/status").is_file():
        unavailable("peak memory is read from /proc/self/status, which only Linux has")
    result = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _round_trip(tmp_path: Path, size: int, ballast_mib: int = 0) -> dict[str, Any]:
    return _measure(ROUND_TRIP_SCRIPT, str(size), str(tmp_path / "payload.age"), str(ballast_mib))


def _growth_mib(figures: dict[str, Any], peak: str = "peak_kib") -> float:
    return (figures[peak] - figures["baseline_kib"]) / 1024


def _expected_ciphertext_overhead(size: int) -> int:
    """Nonce and tags: 16 bytes of nonce, and 16 bytes of tag per 64 KiB chunk."""
    return 16 + 16 * max(1, -(-size // (64 * 1024)))


def test_a_1_gib_round_trip_stays_under_64_mib_of_peak_memory_growth(tmp_path: Path) -> None:
    # Given 1 GiB of plaintext made as it is read, encrypted to a file and decrypted to a hash
    figures = _round_trip(tmp_path, GIB)
    growth, encrypt_growth = _growth_mib(figures), _growth_mib(figures, "encrypt_peak_kib")
    print(
        f"\n1 GiB encrypt_stream + decrypt_stream: peak RSS growth {growth:.1f} MiB "
        f"(encryption alone {encrypt_growth:.1f} MiB) over a baseline of "
        f"{figures['baseline_kib'] / 1024:.1f} MiB; high-water mark reset: "
        f"{figures['high_water_mark_reset']}; {figures['encrypt_seconds']} s to encrypt, "
        f"{figures['total_seconds']} s in all"
    )

    # Then all of it came back unchanged
    assert figures["plaintext_bytes_read"] == GIB
    assert figures["released_size"] == GIB
    assert figures["released_sha256"] == figures["plaintext_sha256"]
    header_size = figures["ciphertext_size"] - GIB - _expected_ciphertext_overhead(GIB)
    assert 0 < header_size < 4096
    # And the process never held more than a sliver of it
    assert growth < CEILING_MIB


def test_the_measurement_sees_memory_allocated_during_the_round_trip(tmp_path: Path) -> None:
    # Given a small round trip during which 128 MiB is allocated and freed again
    figures = _round_trip(tmp_path, 4 * MIB, ballast_mib=128)

    # Then the peak shows it: a leak of that size in streaming could not go unseen
    assert figures["released_sha256"] == figures["plaintext_sha256"]
    assert _growth_mib(figures) >= 120


def test_rekey_stream_of_a_256_mib_file_stays_under_16_mib_of_peak_memory_growth(
    tmp_path: Path,
) -> None:
    # Given a 256 MiB file for one post-quantum key, re-keyed file to file to another
    figures = _measure(REKEY_SCRIPT, str(REKEY_SIZE), str(tmp_path))
    growth = _growth_mib(figures)
    print(
        f"\n256 MiB rekey_stream: peak RSS growth {growth:.1f} MiB over a baseline of "
        f"{figures['baseline_kib'] / 1024:.1f} MiB; high-water mark reset: "
        f"{figures['high_water_mark_reset']}; {figures['rekey_seconds']} s"
    )

    # Then the new key decrypts all of it, and the payload was copied, not re-encrypted
    assert figures["moved"] is True
    assert figures["released_size"] == REKEY_SIZE
    assert figures["released_sha256"] == figures["plaintext_sha256"]
    assert figures["rekeyed_payload_sha256"] == figures["original_payload_sha256"]
    # And the process never held more than a sliver of it
    assert growth < REKEY_CEILING_MIB
