"""JPEG: drop metadata segments, keep what decoding needs, pass image data through as it comes.

A JPEG file is a run of marker segments (0xFF, a marker byte, a two-byte length, the payload);
after each start-of-scan segment comes entropy-coded image data, in which a 0xFF byte is either
stuffed (followed by 0x00), a restart marker (0xD0-0xD7), a fill byte (another 0xFF) or the next
segment's marker. Scanning for those keeps progressive files working, whose scans are separated
by more table segments, and drops metadata segments placed after the first scan as well.

Kept: the segments decoding needs (frame, scan, tables, restart interval, hierarchical and
JPEG-LS extensions), the JFIF header (its thumbnail removed) and Adobe's APP14, whose transform
flag tells decoders how to convert the colours. Dropped: every other application segment (EXIF,
XMP, ICC colour profile, IPTC...), comments, unknown segments and anything after the end of the
image. The colour profile goes too: it can name the device that made the picture.

Each segment is held whole before it is passed on or dropped (at most 64 KiB), and only once the
next byte confirms that its length was right: a wrong length must not make the filter drop image
data along with a metadata segment.
"""

from __future__ import annotations

import re
from enum import Enum, auto

from portal.metadata.streaming import Malformed, StreamingFilter

MAGIC = b"\xff\xd8\xff"

_SOI = 0xD8
_EOI = 0xD9
_SOS = 0xDA
_APP0 = 0xE0
_APP1 = 0xE1
_APP2 = 0xE2
_APP13 = 0xED
_APP14 = 0xEE
_COM = 0xFE
_NOT_FILL = re.compile(rb"[^\xff]")  # fill bytes (0xFF) may pad before any marker, any number
_RESTARTS = frozenset(range(0xD0, 0xD8))
_WITHOUT_LENGTH = _RESTARTS | {0x01}  # RSTn and TEM stand alone
# SOFn, DHT, DAC (0xC0-0xCF but JPG 0xC8), SOS, DQT, DNL, DRI, DHP, EXP, and JPEG-LS SOF55, LSE.
_DECODING = frozenset({*range(0xC0, 0xD0)} - {0xC8}) | frozenset(range(0xDA, 0xE0)) | {0xF7, 0xF8}

_JFIF = b"JFIF\x00"
_JFIF_HEADER_SIZE = 14  # identifier, version, units, densities, thumbnail width and height
_LABELS = (
    (_APP1, b"Exif\x00", "EXIF"),
    (_APP1, b"http://ns.adobe.com/xap/1.0/\x00", "XMP"),
    (_APP1, b"http://ns.adobe.com/xmp/extension/\x00", "XMP"),
    (_APP2, b"ICC_PROFILE\x00", "colour profile"),
    (_APP2, b"MPF\x00", "extra images"),
    (_APP13, b"Photoshop 3.0\x00", "IPTC and Photoshop data"),
    (_APP0, b"JFXX\x00", "thumbnail"),
)


class _State(Enum):
    START = auto()
    SEGMENTS = auto()
    SCAN = auto()
    AFTER_END = auto()


class JpegFilter(StreamingFilter):
    format = "jpeg"
    _name = "JPEG"

    def __init__(self) -> None:
        super().__init__()
        self._state = _State.START

    def _complete(self) -> bool:
        return self._state is _State.AFTER_END

    def _check_end(self) -> None:
        """Nothing to check: scan data has no length, and segments are held until complete."""

    def _step(self, data: bytearray, pos: int, final: bool) -> int | None:
        if self._state is _State.START:
            if len(data) - pos < 2:
                return None
            if data[pos : pos + 2] != b"\xff\xd8":
                raise Malformed
            self._emit(data[pos : pos + 2])
            self._state = _State.SEGMENTS
            return pos + 2
        if self._state is _State.SEGMENTS:
            return self._segment(data, pos, final)
        if self._state is _State.SCAN:
            return self._scan(data, pos, final)
        return self._drop_trailing(data, pos)

    def _segment(self, data: bytearray, pos: int, final: bool) -> int | None:
        if len(data) - pos < 2:
            return None
        if data[pos] != 0xFF:
            raise Malformed
        marker = data[pos + 1]
        if marker == 0xFF:
            return _last_fill_byte(data, pos)  # padding before the marker: nothing to keep
        if marker in (0x00, _SOI):
            raise Malformed
        if marker in _WITHOUT_LENGTH or marker == _EOI:
            self._emit(data[pos : pos + 2])
            if marker == _EOI:
                self._state = _State.AFTER_END
            return pos + 2
        end = _segment_end(data, pos, final)
        if end is not None:
            self._pass_or_drop(marker, data[pos:end])
        return end

    def _pass_or_drop(self, marker: int, segment: bytearray) -> None:
        payload = bytes(segment[4:])
        if marker in _DECODING:
            self._emit(segment)
            if marker == _SOS:
                self._state = _State.SCAN
        elif marker == _APP0 and payload.startswith(_JFIF) and len(payload) >= _JFIF_HEADER_SIZE:
            if len(payload) > _JFIF_HEADER_SIZE:
                self._record_removed("thumbnail")
            # Version, units and pixel density kept; the thumbnail's width and height set to 0.
            header = payload[: _JFIF_HEADER_SIZE - 2] + b"\x00\x00"
            self._emit(segment[:2] + (2 + len(header)).to_bytes(2, "big") + header)
        elif marker == _APP14 and payload.startswith(b"Adobe"):
            self._emit(segment)
        else:
            self._record_removed(_label(marker, payload))

    def _scan(self, data: bytearray, pos: int, final: bool) -> int | None:
        """Pass entropy-coded data on up to the next marker that is not a restart."""
        origin = start = pos
        while (found := data.find(b"\xff", pos)) >= 0:
            if found + 1 == len(data):
                if final:
                    break  # a lone 0xFF at the very end goes on with the rest of the data
                # Whether this 0xFF is data or a marker shows only with the next byte.
                self._emit(data[start:found])
                return found if found > origin else None
            following = data[found + 1]
            if following == 0x00 or following in _RESTARTS:
                pos = found + 2
            elif following == 0xFF:
                self._emit(data[start:found])  # padding before a marker
                start = pos = _last_fill_byte(data, found)
            else:
                self._emit(data[start:found])
                self._state = _State.SEGMENTS
                return found
        self._emit(data[start:])
        return len(data)


def _last_fill_byte(data: bytearray, pos: int) -> int:
    """Where the run of 0xFF bytes at `pos` ends, less one: the last may begin a marker."""
    after = _NOT_FILL.search(data, pos)
    return (after.start() if after else len(data)) - 1


def _segment_end(data: bytearray, pos: int, final: bool) -> int | None:
    """Where the segment at `pos` ends, once it is all here and its length is confirmed."""
    if len(data) - pos < 4:
        return None
    marker = data[pos + 1]
    end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    if end < pos + 4:
        raise Malformed  # the length counts its own two bytes
    if len(data) < end or (len(data) == end and not final and marker != _SOS):
        return None  # incomplete, or waiting for the byte that confirms its length
    if marker != _SOS and len(data) > end and data[end] != 0xFF:
        raise Malformed  # the next segment is not where this one's length says
    return end


def _label(marker: int, payload: bytes) -> str:
    """What a dropped segment held, in the reviewer's words."""
    if marker == _COM:
        return "comments"
    for labelled_marker, signature, label in _LABELS:
        if marker == labelled_marker and payload.startswith(signature):
            return label
    return "other application data"
