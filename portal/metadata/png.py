"""PNG: drop text, EXIF and time chunks; stream the image data through chunk by chunk.

A PNG file is its signature and then chunks: a four-byte length, a four-letter type, the data
and a CRC of type and data. A lower-case first letter marks an ancillary chunk, one a decoder may
ignore. Kept: every critical chunk, and the ancillary chunks that only describe how to show the
pixels (transparency, colour space, physical size, palettes, animation frames). Dropped: text
(tEXt, zTXt, iTXt, where XMP lives too), EXIF (eXIf), the modification time (tIME), every other
ancillary chunk, and anything after IEND.

Kept chunks pass through as they arrive, so an IDAT of any size costs no memory; their CRC is
checked at the end, and a mismatch means the length was wrong and later chunks cannot be
trusted, so the rest passes through unchanged. A chunk to drop is held (up to the hold limit)
until its CRC confirms that its length was right: a wrong length must not make the filter drop
image data along with a metadata chunk.
"""

from __future__ import annotations

import zlib
from enum import Enum, auto

from portal.metadata.streaming import Malformed, StreamingFilter

MAGIC = b"\x89PNG\r\n\x1a\n"

_HEADER_SIZE = 8
_CRC_SIZE = 4
_MAX_LENGTH = 2**31 - 1
_KEPT_ANCILLARY = frozenset(
    {
        *(b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"mDCV", b"cLLI"),
        *(b"bKGD", b"pHYs", b"hIST", b"sPLT"),
        *(b"acTL", b"fcTL", b"fdAT"),  # APNG animation
    }
)
_LABELS = {
    b"tEXt": "text",
    b"zTXt": "text",
    b"iTXt": "text",
    b"eXIf": "EXIF",
    b"tIME": "time stamp",
}
_XMP_KEYWORD = b"XML:com.adobe.xmp\x00"


class _State(Enum):
    SIGNATURE = auto()
    HEADER = auto()
    DATA = auto()
    CRC = auto()
    AFTER_END = auto()


class PngFilter(StreamingFilter):
    format = "png"
    _name = "PNG"

    def __init__(self, *, hold_limit: int) -> None:
        super().__init__()
        self._hold_limit = hold_limit
        self._state = _State.SIGNATURE
        # The kept chunk being passed through: its type, where it began, bytes to come, CRC so far.
        self._type = b""
        self._start = 0
        self._remaining = 0
        self._crc = 0

    def _complete(self) -> bool:
        return self._state is _State.AFTER_END

    def _check_end(self) -> None:
        if self._state in (_State.DATA, _State.CRC):
            raise Malformed(at=self._start)  # its CRC never came: its length is unconfirmed

    def _step(self, data: bytearray, pos: int, final: bool) -> int | None:
        if self._state is _State.SIGNATURE:
            if len(data) - pos < len(MAGIC):
                return None
            if data[pos : pos + len(MAGIC)] != MAGIC:
                raise Malformed
            self._emit(data[pos : pos + len(MAGIC)])
            self._state = _State.HEADER
            return pos + len(MAGIC)
        if self._state is _State.HEADER:
            return self._header(data, pos)
        if self._state is _State.DATA:
            taken = min(self._remaining, len(data) - pos)
            chunk_data = data[pos : pos + taken]
            self._emit(chunk_data)
            self._crc = zlib.crc32(chunk_data, self._crc)
            self._remaining -= taken
            if not self._remaining:
                self._state = _State.CRC
            return pos + taken
        if self._state is _State.CRC:
            return self._check_crc(data, pos)
        return self._drop_trailing(data, pos)

    def _header(self, data: bytearray, pos: int) -> int | None:
        if len(data) - pos < _HEADER_SIZE:
            return None
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunk_type = bytes(data[pos + 4 : pos + 8])
        if length > _MAX_LENGTH or not chunk_type.isalpha():
            raise Malformed
        critical = chunk_type[0] & 0x20 == 0
        if critical or chunk_type in _KEPT_ANCILLARY:
            self._emit(data[pos : pos + _HEADER_SIZE])
            self._type = chunk_type
            self._start = self._position(pos)
            self._remaining = length
            self._crc = zlib.crc32(chunk_type)
            self._state = _State.DATA if length else _State.CRC
            return pos + _HEADER_SIZE
        return self._drop_chunk(data, pos, length, chunk_type)

    def _drop_chunk(self, data: bytearray, pos: int, length: int, chunk_type: bytes) -> int | None:
        if length > self._hold_limit:
            raise Malformed  # too big to hold until its CRC is known
        end = pos + _HEADER_SIZE + length + _CRC_SIZE
        if len(data) < end:
            return None
        crc = int.from_bytes(data[end - _CRC_SIZE : end], "big")
        if zlib.crc32(data[pos + 4 : end - _CRC_SIZE]) != crc:
            raise Malformed
        chunk_data = data[pos + _HEADER_SIZE : end - _CRC_SIZE]
        if chunk_type == b"iTXt" and chunk_data.startswith(_XMP_KEYWORD):
            self._record_removed("XMP")
        else:
            self._record_removed(_LABELS.get(chunk_type, "other ancillary data"))
        return end

    def _check_crc(self, data: bytearray, pos: int) -> int | None:
        if len(data) - pos < _CRC_SIZE:
            return None
        if int.from_bytes(data[pos : pos + _CRC_SIZE], "big") != self._crc:
            raise Malformed(at=self._start)
        self._emit(data[pos : pos + _CRC_SIZE])
        self._state = _State.AFTER_END if self._type == b"IEND" else _State.HEADER
        return pos + _CRC_SIZE
