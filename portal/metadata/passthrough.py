"""Formats the portal cannot clean: passed through unchanged, and the reviewer is told."""

from __future__ import annotations

from portal.metadata.outcome import StripOutcome

UNRECOGNISED = StripOutcome(
    "unknown", False, "Format not recognised: any metadata in this file remains."
)


class PassThrough:
    def __init__(self) -> None:
        self._finished = False

    @property
    def outcome(self) -> StripOutcome:
        if not self._finished:
            raise RuntimeError("the outcome is known only after finish()")
        return UNRECOGNISED

    def feed(self, data: bytes) -> bytes:
        return bytes(data)

    def finish(self) -> bytes:
        self._finished = True
        return b""
