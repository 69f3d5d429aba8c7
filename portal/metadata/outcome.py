"""What stripping did to one file, in words a reviewer can act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StripOutcome:
    """The result of filtering one upload, stored beside it for the reviewer.

    `stripped` is True only when the metadata the portal knows how to find was removed, or
    provably none was present; `note` says what was done, or why it could not be.
    """

    format: str
    stripped: bool
    note: str


def removed_sentence(labels: Sequence[str]) -> str:
    """ "EXIF, XMP and comments removed." from the kinds of metadata found, in order found."""
    listed = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    return f"{listed[0].upper()}{listed[1:]} removed."
