"""Choosing a filter by content, and the contract every filter keeps.

The upload arrives in pieces cut wherever the network and Werkzeug's parser cut it, so every
filter must give the same output and outcome however the same bytes are split.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.metadata import SNIFF_SIZE, StripOutcome, filter_for
from tests.metadata.samples import BUFFER_LIMIT, docx, jpeg, pdf, png, strip

UNRECOGNISED = StripOutcome(
    "unknown", False, "Format not recognised: any metadata in this file remains."
)


def samples() -> dict[str, bytes]:
    return {
        "jpeg": jpeg(),
        "progressive jpeg": jpeg(progressive=True),
        "png": png(),
        "pdf": pdf(),
        "docx": docx(),
        "damaged jpeg": jpeg()[:300] + b"\x00" * 50 + jpeg()[300:],
        "unknown": b"GIF89a CANARY-NOT-CLEANED" * 10,
    }


@pytest.mark.parametrize(
    ("first_bytes", "kind"),
    [
        (b"\xff\xd8\xff\xe0", "JpegFilter"),
        (b"\x89PNG\r\n\x1a\n\x00", "PngFilter"),
        (b"%PDF-1.7\n", "PdfFilter"),
        (b"PK\x03\x04\x14\x00", "ZipFilter"),
        (b"GIF89a", "PassThrough"),
        (b"\xff\xd8", "PassThrough"),  # too short to be a JPEG
        (b"", "PassThrough"),
    ],
)
def test_the_filter_is_chosen_by_the_first_bytes(first_bytes: bytes, kind: str) -> None:
    # Given the first bytes of an upload; When a filter is chosen; Then it fits the content
    assert type(filter_for(first_bytes, buffer_limit=BUFFER_LIMIT)).__name__ == kind


def test_a_jpeg_named_and_typed_as_text_is_still_cleaned() -> None:
    # Given a JPEG (whatever the client called it: the filter never sees the name)
    original = jpeg()

    # When only its first SNIFF_SIZE bytes choose the filter
    cleaner = filter_for(original[:SNIFF_SIZE], buffer_limit=BUFFER_LIMIT)
    cleaned = cleaner.feed(original) + cleaner.finish()

    # Then it is cleaned
    assert len(cleaned) < len(original)
    assert cleaner.outcome.format == "jpeg"


@pytest.mark.parametrize("original", [b"", b"plain text CANARY", b"GIF89a" + bytes(range(256))])
def test_an_unknown_format_passes_through_unchanged(original: bytes) -> None:
    # Given an upload in a format the portal cannot clean; When it is stripped
    cleaned, outcome = strip(original)

    # Then it is unchanged and the reviewer is told its metadata remains
    assert cleaned == original
    assert outcome == UNRECOGNISED


@pytest.mark.parametrize("name", list(samples()))
def test_the_outcome_is_unknown_until_finish(name: str) -> None:
    # Given a filter fed a whole file but not finished
    original = samples()[name]
    cleaner = filter_for(original, buffer_limit=BUFFER_LIMIT)
    cleaner.feed(original)

    # When the outcome is asked for, Then that is refused; after finish it is there
    with pytest.raises(RuntimeError):
        _ = cleaner.outcome
    cleaner.finish()
    assert isinstance(cleaner.outcome, StripOutcome)


@pytest.mark.parametrize("name", ["jpeg", "progressive jpeg", "png", "damaged jpeg", "unknown"])
def test_one_byte_at_a_time_gives_the_same_result(name: str) -> None:
    # Given a file; When it is fed one byte at a time
    original = samples()[name]
    one_by_one = strip(original, range(len(original)))

    # Then the output and outcome are those of feeding it whole
    assert one_by_one == strip(original)


@pytest.mark.parametrize("name", ["jpeg", "png", "damaged jpeg"])
def test_a_split_at_every_position_gives_the_same_result(name: str) -> None:
    # Given a file, cut in two at each position in turn
    original = samples()[name]
    whole = strip(original)
    for cut in range(len(original) + 1):
        # When each half is fed; Then the result is that of feeding it whole
        assert strip(original, [cut]) == whole, cut


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(list(samples())),
    fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=12),
)
def test_random_splits_give_the_same_result(name: str, fractions: list[float]) -> None:
    # Given a file cut at random positions
    original = samples()[name]
    cuts = [round(fraction * len(original)) for fraction in fractions]

    # When the pieces are fed in turn; Then the result is that of feeding it whole
    assert strip(original, cuts) == strip(original)
