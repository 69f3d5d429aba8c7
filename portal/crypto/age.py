"""Encrypting and decrypting whole age files, in memory or as streams."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from portal.crypto.armor import MAGIC, ArmoredReader, looks_armored
from portal.crypto.errors import HeaderError, MacMismatch, NoIdentityMatch, RecipientMixError
from portal.crypto.format import (
    FILE_KEY_SIZE,
    Identity,
    ParsedHeader,
    Recipient,
    RecipientKind,
    Stanza,
    header_mac,
    macs_match,
    read_header,
    write_header,
)
from portal.crypto.scrypt import STANZA_TYPE as SCRYPT_TYPE
from portal.crypto.stream import (
    NONCE_SIZE,
    PayloadEncryptor,
    Sink,
    encrypt_payload,
    payload_chunks,
    payload_key,
    read_up_to,
)


def encrypt(plaintext: bytes, recipients: Sequence[Recipient]) -> bytes:
    """`plaintext` as a binary age file that each of `recipients` can decrypt."""
    ciphertext = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), ciphertext, recipients)
    return ciphertext.getvalue()


def decrypt(ciphertext: bytes, identities: Sequence[Identity]) -> bytes:
    """The plaintext of an age file (binary or armored), using the first identity that fits."""
    plaintext = io.BytesIO()
    decrypt_stream(io.BytesIO(ciphertext), plaintext, identities)
    return plaintext.getvalue()


def encrypt_stream(
    source: BinaryIO, destination: BinaryIO, recipients: Sequence[Recipient]
) -> None:
    """Encrypt all of `source` into `destination`, 64 KiB at a time."""
    encrypt_payload(source, destination, _start_file(destination, recipients))


class EncryptingWriter:
    """A binary stream that encrypts what is written to it into `destination`, as one age file.

    For data that is pushed rather than pulled, such as an upload arriving in pieces. `close()`
    (or leaving a `with` block normally) writes the last chunk. Leaving the block on an exception
    does not: the file then stays incomplete and will not decrypt, so a payload cut short by an
    error can never pass for a whole one.
    """

    def __init__(self, destination: Sink, recipients: Sequence[Recipient]) -> None:
        self._encryptor = PayloadEncryptor(destination, _start_file(destination, recipients))
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._encryptor.write(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._encryptor.finish()
            self.closed = True

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is None:
            self.close()


def _start_file(destination: Sink, recipients: Sequence[Recipient]) -> bytes:
    """Write the header and payload nonce for a new file key; return the payload key."""
    check_recipients(recipients)
    file_key = os.urandom(FILE_KEY_SIZE)
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    destination.write(write_header(stanzas, file_key))
    nonce = os.urandom(NONCE_SIZE)
    destination.write(nonce)
    return payload_key(file_key, nonce)


def decrypt_stream(source: BinaryIO, destination: BinaryIO, identities: Sequence[Identity]) -> None:
    """Decrypt the age file in `source` into `destination`, 64 KiB at a time.

    Plaintext is written chunk by chunk, each only once it has been authenticated. If the payload
    turns out to be corrupt or truncated, PayloadError is raised after the good chunks before it
    were written: callers that must not keep partial output should write to a temporary place
    and discard it on error.
    """
    for chunk in decrypt_chunks(source, identities):
        destination.write(chunk)


def decrypt_chunks(source: BinaryIO, identities: Sequence[Identity]) -> Iterator[bytes]:
    """The plaintext of the age file in `source`, as an iterator of authenticated chunks.

    The header is read and checked, and the file key found, before this returns, so a file no
    identity opens fails here rather than part way through; payload errors (PayloadError) are
    raised as iteration reaches them. For sending a decrypted file as a response, chunk by chunk.
    """
    reader = binary_reader(source)
    header = read_header(reader)
    check_scrypt_alone(header.stanzas)
    file_key = _unwrap_file_key(header.stanzas, identities)
    verify_header_mac(header, file_key)
    nonce = read_up_to(reader, NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise HeaderError("payload nonce missing or truncated")
    return payload_chunks(reader, payload_key(file_key, nonce))


def binary_reader(source: BinaryIO, *, armor_allowed: bool = True) -> io.BufferedReader[Any]:
    """`source` as a buffered binary age file, read through the armor if it is armored.

    The first bytes are read in full before deciding: a pipe or socket may return one byte at a
    time, and a single peek could then make a binary file look like armor. With
    `armor_allowed=False` armored input is refused with HeaderError, for callers that must
    write back the same encoding they read.
    """
    first_bytes = read_up_to(source, len(MAGIC))
    reader = io.BufferedReader(_Rejoined(first_bytes, source))
    if looks_armored(first_bytes):
        if not armor_allowed:
            raise HeaderError("armored input is not accepted here: give the binary age file")
        return io.BufferedReader(ArmoredReader(reader))
    return reader


def check_scrypt_alone(stanzas: Sequence[Stanza]) -> None:
    """Raise HeaderError if an scrypt stanza shares its header with any other stanza."""
    if any(stanza.type == SCRYPT_TYPE for stanza in stanzas) and len(stanzas) != 1:
        # Otherwise a passphrase-protected file could be silently readable by another key too.
        raise HeaderError("an scrypt stanza must be the only stanza in its file")


def verify_header_mac(header: ParsedHeader, file_key: bytes) -> None:
    """Raise MacMismatch unless `file_key` authenticates the header exactly as it was read."""
    if not macs_match(header_mac(file_key, header.mac_input), header.mac):
        raise MacMismatch("header MAC does not match")


class _Rejoined(io.RawIOBase):
    """`first_bytes`, already read from `source`, followed by the rest of `source`."""

    def __init__(self, first_bytes: bytes, source: BinaryIO) -> None:
        self._first_bytes = first_bytes
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._first_bytes:
            count = min(len(buffer), len(self._first_bytes))
            buffer[:count] = self._first_bytes[:count]
            self._first_bytes = self._first_bytes[count:]
            return count
        if hasattr(self._source, "readinto"):  # saves a copy of every chunk
            return self._source.readinto(buffer) or 0
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _unwrap_file_key(stanzas: Sequence, identities: Sequence[Identity]) -> bytes:
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is not None:
            return file_key
    raise NoIdentityMatch("no identity matched any of the file's recipients")


def check_recipients(recipients: Sequence[Recipient]) -> None:
    """Raise RecipientMixError unless `recipients` may share one file."""
    check_recipient_kinds(recipient.kind for recipient in recipients)


def check_recipient_kinds(kinds: Iterable[RecipientKind]) -> None:
    """Raise RecipientMixError unless recipients of these kinds, one each, may share one file."""
    every_kind = list(kinds)
    if not every_kind:
        raise RecipientMixError("at least one recipient is needed")
    kinds_present = set(every_kind)
    if "passphrase" in kinds_present and len(every_kind) > 1:
        raise RecipientMixError("a passphrase must be a file's only recipient")
    if kinds_present == {"postquantum", "classic"}:
        # Mixing would let a quantum attacker read the file through the classic stanza.
        raise RecipientMixError("post-quantum and classic recipients cannot share a file")
