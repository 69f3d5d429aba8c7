"""The shared engine of the document filters: hold the whole file in memory, clean it at the end.

PDF and Office files cannot be cleaned as they stream past (the parts that matter may sit at the
end of the file), so the filter holds the upload in memory, never on disk, up to a limit. Past
the limit it stops holding: everything passes through unchanged and the outcome says the file
was too large to clean.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from portal.metadata.outcome import StripOutcome


class BufferedFilter(ABC):
    def __init__(self, *, buffer_limit: int) -> None:
        self._buffer_limit = buffer_limit
        self._held = bytearray()
        self._overflowed = False
        self._result: StripOutcome | None = None

    @property
    def outcome(self) -> StripOutcome:
        if self._result is None:
            raise RuntimeError("the outcome is known only after finish()")
        return self._result

    def feed(self, data: bytes) -> bytes:
        if self._overflowed:
            return bytes(data)
        self._held += data
        if len(self._held) <= self._buffer_limit:
            return b""
        self._overflowed = True
        held = bytes(self._held)
        self._held = bytearray()
        self._result = self._too_large(held)
        return held

    def finish(self) -> bytes:
        if self._overflowed:
            return b""
        original = bytes(self._held)
        self._held = bytearray()
        cleaned, self._result = self._clean(original)
        return cleaned

    @abstractmethod
    def _clean(self, original: bytes) -> tuple[bytes, StripOutcome]:
        """The cleaned file and what was done; the original unchanged if it cannot be cleaned."""

    @abstractmethod
    def _too_large(self, head: bytes) -> StripOutcome:
        """The outcome for a file larger than the limit, of which `head` is the start."""

    def _too_large_note(self, kind: str) -> str:
        return (
            f"{kind} too large to clean (over {megabytes(self._buffer_limit)}): "
            "stored as received; metadata may remain."
        )


def megabytes(size: int) -> str:
    """A size as a reviewer reads it: "20 MB", "0.5 MB"."""
    return f"{size / 1_000_000:.3g} MB"
