"""The shared engine of the image filters: parse as bytes arrive, never lose what cannot be parsed.

An image is a sequence of units (JPEG segments, PNG chunks). A subclass reads one unit per call
of `_step`, deciding whether to pass it on or drop it; a unit split across `feed` calls is simply
waited for, so the output never depends on how the upload was cut into pieces. When a unit makes
no sense, everything from its first byte to the end of the upload is passed on unchanged: a
damaged or unusual file reaches the reviewer whole, and the outcome says metadata may remain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from portal.metadata.outcome import StripOutcome, removed_sentence


class Malformed(Exception):
    """Raised at a unit that cannot be read; the filter then passes the rest through unchanged.

    `at` is the unit's position in the upload, given when some of its bytes were already passed
    on (unchanged) before the problem showed; by default the unit starts where parsing stands.
    """

    def __init__(self, at: int | None = None) -> None:
        super().__init__(at)
        self.at = at


class StreamingFilter(ABC):
    """Feed bytes in pieces of any size; memory stays bounded by the largest unit held."""

    format: ClassVar[str]
    _name: ClassVar[str]  # the format as the reviewer's note names it: "JPEG"

    def __init__(self) -> None:
        self._pending = bytearray()  # received, not yet passed on or dropped
        self._offset = 0  # position in the upload of _pending[0]
        self._output: list[bytes] = []
        self._failed_at: int | None = None
        self._removed: list[str] = []
        self._trailing = 0
        self._result: StripOutcome | None = None

    @property
    def outcome(self) -> StripOutcome:
        if self._result is None:
            raise RuntimeError("the outcome is known only after finish()")
        return self._result

    def feed(self, data: bytes) -> bytes:
        if self._failed_at is not None:
            return bytes(data)
        self._pending += data
        return self._advance(final=False)

    def finish(self) -> bytes:
        tail = b"" if self._failed_at is not None else self._advance(final=True)
        self._result = self._conclude()
        return tail

    @abstractmethod
    def _step(self, data: bytearray, pos: int, final: bool) -> int | None:
        """Handle the unit at `data[pos:]`: return where the next one starts, or None to wait.

        With `final` set no more bytes will come. Emit kept bytes with `_emit`, name dropped
        metadata with `_record_removed`, and raise Malformed, before consuming anything, when the
        unit cannot be read.
        """

    @abstractmethod
    def _complete(self) -> bool:
        """Whether the image's end marker was reached."""

    @abstractmethod
    def _check_end(self) -> None:
        """Raise Malformed if the upload ended inside a unit that was being passed on."""

    def _emit(self, data: bytes | bytearray) -> None:
        self._output.append(bytes(data))

    def _record_removed(self, label: str) -> None:
        if label not in self._removed:
            self._removed.append(label)

    def _position(self, pos: int) -> int:
        """Where `_pending[pos]` lies in the upload."""
        return self._offset + pos

    def _drop_trailing(self, data: bytearray, pos: int) -> int:
        """Discard what follows the end of the image: no viewer shows it, and data hides there."""
        self._trailing += len(data) - pos
        return len(data)

    def _advance(self, *, final: bool) -> bytes:
        data = self._pending
        pos = 0
        try:
            while pos < len(data):
                after = self._step(data, pos, final)
                if after is None:
                    break
                pos = after
            if final:
                self._check_end()
                if pos < len(data):
                    raise Malformed  # the upload ends inside a unit
        except Malformed as error:
            self._failed_at = self._offset + pos if error.at is None else error.at
            self._output.append(bytes(data[pos:]))
            pos = len(data)
        del data[:pos]
        self._offset += pos
        output = b"".join(self._output)
        self._output.clear()
        return output

    def _conclude(self) -> StripOutcome:
        sentences = []
        if self._removed:
            sentences.append(removed_sentence(self._removed))
        elif self._failed_at is None:
            sentences.append("No metadata found.")
        if self._trailing:
            sentences.append(f"{self._trailing:,} bytes after the end of the image removed.")
        if self._failed_at == 0:
            sentences.append(
                f"Could not be read as a {self._name} image: "
                "stored as received; metadata may remain."
            )
        elif self._failed_at is not None:
            sentences.append(
                f"Could not be read as a {self._name} image from byte {self._failed_at:,}: "
                "the rest was stored as received; metadata may remain."
            )
        elif not self._complete():
            sentences.append("The image ends early: it may be incomplete.")
        return StripOutcome(self.format, self._failed_at is None, " ".join(sentences))
