"""The age payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks.

Each chunk's nonce is an 11-byte big-endian counter followed by a flag byte that is 1 on the last
chunk only. The counter stops chunks being reordered or dropped; the flag stops the file being
truncated at a chunk boundary. Memory stays flat: at most two chunks are held at any time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from portal.crypto.errors import PayloadError
from portal.crypto.format import hkdf_sha256

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
_PAYLOAD_LABEL = b"payload"
_LAST_COUNTER = (1 << 88) - 1


class Sink(Protocol):
    """Where an age file is written: anything with a binary `write`, such as an open file or
    a blob being staged."""

    def write(self, data: bytes, /) -> int: ...


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf_sha256(file_key, nonce, _PAYLOAD_LABEL)


def _chunk_nonce(counter: int, *, last: bool) -> bytes:
    if counter > _LAST_COUNTER:
        raise PayloadError("payload too long")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def read_up_to(source: BinaryIO, size: int) -> bytes:
    """Read `size` bytes, or fewer only at the end of `source` (pipes and sockets read short)."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    remaining = size - len(data)
    while remaining:
        more = source.read(remaining)
        if not more:
            break
        parts.append(more)
        remaining -= len(more)
    return b"".join(parts)


class PayloadEncryptor:
    """Encrypts a payload pushed to it in pieces of any size, writing whole chunks as they fill.

    A full chunk is held back until more data arrives, because only then is it known not to be
    the last one (the last chunk carries the final flag, and may itself be full).
    """

    def __init__(self, destination: Sink, key: bytes) -> None:
        self._destination = destination
        self._aead = ChaCha20Poly1305(key)
        self._pending = bytearray()
        self._counter = 0
        self._finished = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._finished:
            raise ValueError("the payload is already finished")
        view = memoryview(data)
        while view:
            if len(self._pending) == CHUNK_SIZE:
                self._emit(last=False)
            room = CHUNK_SIZE - len(self._pending)
            self._pending += view[:room]
            view = view[room:]

    def finish(self) -> None:
        """Write the last chunk (empty only if the whole payload is). Call once, at the end."""
        if self._finished:
            raise ValueError("the payload is already finished")
        self._emit(last=True)
        self._finished = True

    def _emit(self, *, last: bool) -> None:
        nonce = _chunk_nonce(self._counter, last=last)
        self._destination.write(self._aead.encrypt(nonce, bytes(self._pending), None))
        self._pending.clear()
        self._counter += 1


def encrypt_payload(source: BinaryIO, destination: Sink, key: bytes) -> None:
    encryptor = PayloadEncryptor(destination, key)
    while chunk := read_up_to(source, CHUNK_SIZE):
        encryptor.write(chunk)
    encryptor.finish()


def payload_chunks(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """Each chunk's plaintext, yielded only after that chunk has been authenticated.

    A full-size chunk is tried as a middle chunk first and then as the last one, as the
    reference implementation does; so what is released before an error matches it exactly.
    """
    aead = ChaCha20Poly1305(key)
    counter = 0
    while True:
        chunk = read_up_to(source, ENCRYPTED_CHUNK_SIZE)
        if len(chunk) < TAG_SIZE:
            raise PayloadError("payload truncated: the last chunk is missing")
        last = len(chunk) < ENCRYPTED_CHUNK_SIZE
        plaintext = None if last else _open(aead, counter, chunk, last=False)
        if plaintext is None:
            last = True
            plaintext = _open(aead, counter, chunk, last=True)
        if plaintext is None:
            raise PayloadError("payload chunk failed authentication")
        if last and not plaintext and counter > 0:
            raise PayloadError("the last chunk is empty, which only an empty payload may be")
        yield plaintext
        if last:
            if source.read(1):
                raise PayloadError("data follows the last chunk")
            return
        counter += 1


def _open(aead: ChaCha20Poly1305, counter: int, chunk: bytes, *, last: bool) -> bytes | None:
    try:
        return aead.decrypt(_chunk_nonce(counter, last=last), chunk, None)
    except InvalidTag:
        return None
