"""Streaming keeps memory flat: a 1 GiB payload goes through `encrypt_stream` and back through
`decrypt_stream` with the process's peak memory less than 64 MiB above where it started.

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

# Arguments: plaintext size in bytes, where to write the ciphertext, MiB of ballast to allocate
# (and free) inside the measured window. Prints one JSON line.
ROUND_TRIP_SCRIPT = r"""
import hashlib
import io
import json
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from portal.crypto import decrypt, decrypt_stream, encrypt, encrypt_stream, generate_identity

size, ciphertext_path, ballast_mib = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
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


identity = generate_identity()  # post-quantum, the portal's default
# Everything the round trip uses is imported and initialised before the baseline is taken.
assert decrypt(encrypt(b"warm-up", [identity.recipient()]), [identity]) == b"warm-up"
try:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    high_water_mark_reset = True
except OSError:
    high_water_mark_reset = False  # then the figure also counts start-up's peak: an overestimate
baseline_kib = status_kib("VmRSS")
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


def _round_trip(tmp_path: Path, size: int, ballast_mib: int = 0) -> dict[str, Any]:
    if not Path("/proc/self/status").is_file():
        unavailable("peak memory is read from /proc/self/status, which only Linux has")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            ROUND_TRIP_SCRIPT,
            str(size),
            str(tmp_path / "payload.age"),
            str(ballast_mib),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


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
