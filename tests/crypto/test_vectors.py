"""The C2SP CCTV age test vectors: each meets its expected outcome.

The vectors live outside this repository, in ../shared/vectors/age/ (or PORTAL_AGE_VECTORS).
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from portal import crypto
from portal.config import PROJECT_ROOT
from tests.support.components import unavailable

VECTORS_DIR = (
    Path(os.environ.get("PORTAL_AGE_VECTORS", PROJECT_ROOT.parent / "shared" / "vectors" / "age"))
    / "testdata"
)

EXPECTED_ERRORS: dict[str, type[crypto.AgeError]] = {
    "no match": crypto.NoIdentityMatch,
    "HMAC failure": crypto.MacMismatch,
    "header failure": crypto.HeaderError,
    "payload failure": crypto.PayloadError,
    "armor failure": crypto.ArmorError,
}


@dataclass
class Vector:
    name: str
    expect: str
    payload_sha256: str | None
    identities: list[crypto.Identity] = field(default_factory=list)
    body: bytes = b""


def _load(path: Path) -> Vector:
    raw = path.read_bytes()
    metadata, _, body = raw.partition(b"\n\n")
    vector = Vector(name=path.name, expect="", payload_sha256=None)
    compressed = False
    for line in metadata.decode().splitlines():
        key, _, value = line.partition(": ")
        if key == "expect":
            vector.expect = value
        elif key == "payload":
            vector.payload_sha256 = value
        elif key == "identity":
            vector.identities.append(crypto.parse_identity(value))
        elif key == "passphrase":
            vector.identities.append(crypto.ScryptIdentity(value))
        elif key == "compressed":
            compressed = value == "zlib"
    vector.body = zlib.decompress(body) if compressed else body
    return vector


def _vector_paths() -> list[Path]:
    return sorted(VECTORS_DIR.iterdir()) if VECTORS_DIR.is_dir() else []


@pytest.fixture(scope="module", autouse=True)
def _vectors_present() -> None:
    if not _vector_paths():
        unavailable(f"age test vectors not found at {VECTORS_DIR}")


def test_the_whole_vector_suite_is_present() -> None:
    assert len(_vector_paths()) >= 140


@pytest.mark.parametrize("path", _vector_paths(), ids=lambda path: path.name)
def test_vector(path: Path) -> None:
    vector = _load(path)
    released = io.BytesIO()

    if vector.expect == "success":
        crypto.decrypt_stream(io.BytesIO(vector.body), released, vector.identities)
    else:
        with pytest.raises(crypto.AgeError) as raised:
            crypto.decrypt_stream(io.BytesIO(vector.body), released, vector.identities)
        assert type(raised.value) is EXPECTED_ERRORS[vector.expect]

    if vector.payload_sha256 is not None:
        assert hashlib.sha256(released.getvalue()).hexdigest() == vector.payload_sha256
