"""The age v1 header: stanzas, strict parsing, writing, and the header MAC.

Parsing follows the C2SP age specification's grammar exactly. Every rule that makes an encoding
canonical is enforced, so each header has exactly one valid byte representation: that is what
lets the MAC cover the header's bytes as they were read.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal.crypto.errors import HeaderError

VERSION_LINE = b"age-encryption.org/v1\n"
STANZA_PREFIX = b"->"
FOOTER_PREFIX = b"---"
FILE_KEY_SIZE = 16
MAC_SIZE = 32
COLUMNS_PER_LINE = 64
BYTES_PER_LINE = COLUMNS_PER_LINE // 4 * 3
_MAC_LABEL = b"header"

# Bounds on what a header may hold, far above any real file, so a hostile header cannot make the
# parser read without limit.
MAX_LINE_BYTES = 16 * 1024
MAX_HEADER_BYTES = 1024 * 1024

_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]*")
_ARGUMENT = re.compile(rb"[\x21-\x7e]+")

RecipientKind = Literal["postquantum", "classic", "passphrase"]


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its type, its arguments and its body, exactly as in the header."""

    type: str
    args: tuple[str, ...]
    body: bytes


class Recipient(Protocol):
    """Something a file key can be wrapped for."""

    kind: RecipientKind

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Stanzas from which only the matching identity can recover `file_key`."""
        ...


class Identity(Protocol):
    """Something that may recover a file key from a header's stanzas."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key, or None if no stanza is for this identity.

        Raises HeaderError if a stanza of this identity's type is malformed: a malformed stanza
        is an error even when another stanza would have matched.
        """
        ...


@dataclass(frozen=True)
class ParsedHeader:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes
    """The header's bytes from the version line up to and including the footer's '---'."""


def encode_base64(data: bytes) -> str:
    """Standard base64 without padding, as every base64 string in an age header is."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def decode_base64(text: str | bytes) -> bytes:
    """Decode unpadded standard base64, refusing padding, newlines and non-canonical encodings."""
    try:
        raw = text.encode("ascii") if isinstance(text, str) else text
    except UnicodeEncodeError:
        raise HeaderError("invalid base64") from None
    if not _BASE64_TEXT.fullmatch(raw) or len(raw) % 4 == 1:
        raise HeaderError("invalid base64")
    data = binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)
    # Non-zero unused bits in the last character would give a second encoding of the same bytes.
    if base64.b64encode(data).rstrip(b"=") != raw:
        raise HeaderError("non-canonical base64")
    return data


def hkdf_sha256(secret: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    key = hkdf_sha256(file_key, b"", _MAC_LABEL)
    return hmac.digest(key, mac_input, "sha256")


def macs_match(expected: bytes, actual: bytes) -> bool:
    """Constant-time comparison, so timing reveals nothing about how much of a MAC was right."""
    return hmac.compare_digest(expected, actual)


def write_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    """The complete header for `stanzas`, MAC included, ending with its newline."""
    lines = [VERSION_LINE]
    for stanza in stanzas:
        lines.append(
            b" ".join([STANZA_PREFIX, *(a.encode("ascii") for a in (stanza.type, *stanza.args))])
            + b"\n"
        )
        body = encode_base64(stanza.body).encode("ascii")
        # Full 64-column lines, then a final shorter line, which is empty when the body's
        # encoding fills its last line exactly: the short line is what ends a stanza.
        for start in range(0, len(body) + 1, COLUMNS_PER_LINE):
            lines.append(body[start : start + COLUMNS_PER_LINE] + b"\n")
    mac_input = b"".join(lines) + FOOTER_PREFIX
    mac = header_mac(file_key, mac_input)
    return mac_input + b" " + encode_base64(mac).encode("ascii") + b"\n"


def read_header(source: BinaryIO) -> ParsedHeader:
    """Read and check the header's syntax from `source`, leaving it at the payload's first byte."""
    reader = _LineReader(source)
    if reader.line() != VERSION_LINE:
        raise HeaderError("unsupported or missing version line")
    stanzas: list[Stanza] = []
    while True:
        line = reader.line()
        if line.startswith(FOOTER_PREFIX):
            return _finish(reader, line, tuple(stanzas))
        stanzas.append(_read_stanza(reader, line))


def _read_stanza(reader: _LineReader, first_line: bytes) -> Stanza:
    prefix, *arguments = _split_line(first_line)
    if prefix != STANZA_PREFIX or not arguments:
        raise HeaderError("malformed stanza line")
    if not all(_ARGUMENT.fullmatch(argument) for argument in arguments):
        raise HeaderError("malformed stanza argument")
    type_, *args = (argument.decode("ascii") for argument in arguments)
    body = bytearray()
    while True:
        line = _strip_newline(reader.line())
        if len(line) > COLUMNS_PER_LINE:
            raise HeaderError("stanza body line too long")
        body += decode_base64(line)
        if len(line) < COLUMNS_PER_LINE:
            return Stanza(type_, tuple(args), bytes(body))


def _finish(reader: _LineReader, line: bytes, stanzas: tuple[Stanza, ...]) -> ParsedHeader:
    prefix, *arguments = _split_line(line)
    if prefix != FOOTER_PREFIX or len(arguments) != 1:
        raise HeaderError("malformed header footer")
    mac = decode_base64(arguments[0])
    if len(mac) != MAC_SIZE:
        raise HeaderError("header MAC has the wrong length")
    mac_input = reader.consumed[: -len(line)] + FOOTER_PREFIX
    return ParsedHeader(stanzas=stanzas, mac=mac, mac_input=mac_input)


def _split_line(line: bytes) -> list[bytes]:
    return _strip_newline(line).split(b" ")


def _strip_newline(line: bytes) -> bytes:
    # Lines end with LF alone; a CR anywhere is invalid base64 or an invalid argument character.
    return line[:-1]


class _LineReader:
    """Reads LF-terminated lines, keeping what it read for the MAC, within the header limits."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._consumed = bytearray()

    @property
    def consumed(self) -> bytes:
        return bytes(self._consumed)

    def line(self) -> bytes:
        line = self._source.readline(MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise HeaderError("header truncated, or a header line is too long")
        self._consumed += line
        if len(self._consumed) > MAX_HEADER_BYTES:
            raise HeaderError("header too large")
        return line
