"""ASCII armor for age files: strict PEM-style Base64 between BEGIN and END lines.

The portal stores binary age files; armor is for files people handle by hand (the recovery file,
files an auditor pastes), and for reading what other age implementations write.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import BinaryIO

from portal.crypto.errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
# The first bytes of every binary age file (its version line begins "age-encryption.org/v1").
MAGIC = b"age"
COLUMNS_PER_LINE = 64
BYTES_PER_LINE = COLUMNS_PER_LINE // 4 * 3
# Whitespace allowed around the armor, bounded so a stream of blanks cannot be read forever.
MAX_WHITESPACE = 1024


def armor(data: bytes) -> bytes:
    """`data` (an age file) as ASCII armor, 64 columns a line."""
    encoded = base64.b64encode(data)
    lines = [
        encoded[start : start + COLUMNS_PER_LINE] + b"\n"
        for start in range(0, len(encoded), COLUMNS_PER_LINE)
    ]
    return BEGIN + b"\n" + b"".join(lines) + END + b"\n"


def looks_armored(first_bytes: bytes) -> bool:
    """Whether a file starting with `first_bytes` (its first len(MAGIC) bytes) is read as armor.

    A binary age file starts with its version line; anything else non-empty is armor or
    nothing valid, and the armor reader gives the precise error.
    """
    return bool(first_bytes) and not first_bytes.startswith(MAGIC)


class ArmoredReader(io.RawIOBase):
    """Reads the binary age file inside armored `source`, one line at a time."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._started = False
        self._finished = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._finished:
            self._pending = self._next_data()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _next_data(self) -> bytes:
        if not self._started:
            self._skip_leading_whitespace()
        line = self._line(COLUMNS_PER_LINE)
        if line == END:
            self._finish()
            return b""
        if not line:
            raise ArmorError("armor has an empty line")
        data = _decode_line(line)
        if len(data) < BYTES_PER_LINE:
            # A short line is the last one, and only the END line may follow it.
            if self._line(COLUMNS_PER_LINE) != END:
                raise ArmorError("armor has a short line before its end")
            self._finish()
        return data

    def _skip_leading_whitespace(self) -> None:
        skipped = 0
        while True:
            line = self._line(MAX_WHITESPACE)
            if line.strip():
                break
            skipped += len(line) + 1
            if skipped > MAX_WHITESPACE:
                raise ArmorError("too much whitespace before the armor")
        if line != BEGIN:
            raise ArmorError("armor does not start with its BEGIN line")
        self._started = True

    def _line(self, limit: int) -> bytes:
        """The next line without its LF or CRLF; refuses end of input and overlong lines."""
        line = self._source.readline(limit + 2)
        if not line:
            raise ArmorError("armor ends before its END line")
        if line.endswith(b"\n"):
            line = line[:-1]
        elif len(line) == limit + 2:
            raise ArmorError("armor line too long")
        line = line.removesuffix(b"\r")
        if len(line) > limit:
            raise ArmorError("armor line too long")
        return line

    def _finish(self) -> None:
        trailing = self._source.read(MAX_WHITESPACE + 1)
        if trailing.strip():
            raise ArmorError("data after the armor's END line")
        if len(trailing) > MAX_WHITESPACE:
            raise ArmorError("too much whitespace after the armor")
        self._finished = True


def _decode_line(line: bytes) -> bytes:
    try:
        data = binascii.a2b_base64(line, strict_mode=True)
    except binascii.Error:
        raise ArmorError("armor line is not valid base64") from None
    if base64.b64encode(data) != line:
        raise ArmorError("armor line is not canonical base64")
    return data
