"""JPEG stripping: metadata gone wherever it sits, the picture untouched, damage never costs data.

"Untouched" is checked on decoded pixels: the filter must not change a byte of the image data,
so the decoded picture is identical, not merely similar.
"""

from __future__ import annotations

import io
import tracemalloc

import pytest
from PIL import Image

from portal.metadata import filter_for
from tests.metadata.samples import JPEG_CANARIES, SOI, jpeg, picture, segment, segments, strip

APP0, APP1, APP2, APP13, APP14, SOS, COM, DHT = 0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xDA, 0xFE, 0xC4


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def markers(data: bytes) -> list[int]:
    return [marker for marker, _ in segments(data)]


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_exif_gps_xmp_comment_icc_and_iptc_are_removed(progressive: bool) -> None:
    # Given a photo carrying EXIF with GPS, XMP, a comment, an ICC profile and IPTC
    original = jpeg(progressive=progressive)
    assert all(canary in original for canary in JPEG_CANARIES)
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(0x8825)  # the GPS IFD

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then no canary is left, and neither is any EXIF or GPS data
    assert not [canary for canary in JPEG_CANARIES if canary in cleaned]
    with Image.open(io.BytesIO(cleaned)) as image:
        assert not image.getexif()
        assert "icc_profile" not in image.info
        assert "comment" not in image.info
    assert markers(cleaned)[:2] == [0xD8, APP0]  # SOI, then the JFIF header
    assert not {APP1, APP2, APP13, COM} & set(markers(cleaned))
    # And the picture decodes to exactly the same pixels
    assert pixels(cleaned) == pixels(original)
    assert outcome.format == "jpeg"
    assert outcome.stripped
    assert (
        outcome.note == "IPTC and Photoshop data, EXIF, XMP, colour profile and comments removed."
    )


def test_metadata_between_the_scans_of_a_progressive_jpeg_is_removed() -> None:
    # Given a progressive JPEG with a comment and EXIF placed between two scans
    original = jpeg(progressive=True)
    first_scan = original.index(b"\xff\xda")
    second_tables = original.index(b"\xff\xc4", first_scan)
    late = segment(COM, b"CANARY-LATE-COMMENT") + segment(APP1, b"Exif\x00\x00CANARY-LATE")
    spliced = original[:second_tables] + late + original[second_tables:]
    assert pixels(spliced) == pixels(original)

    # When it is stripped
    cleaned, outcome = strip(spliced)

    # Then the late segments are gone too, and every scan is kept
    assert b"CANARY-LATE" not in cleaned
    assert cleaned.count(b"\xff\xda") == original.count(b"\xff\xda") > 1
    assert pixels(cleaned) == pixels(original)
    assert outcome.stripped


def test_adobe_segment_is_kept_so_cmyk_colours_decode_the_same() -> None:
    # Given a CMYK JPEG, whose APP14 Adobe segment tells decoders how to read the colours
    original = jpeg(mode="CMYK")
    assert APP14 in markers(original)

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then APP14 is still there and the colours decode the same
    assert APP14 in markers(cleaned)
    assert pixels(cleaned) == pixels(original)
    assert outcome.stripped


def test_jfif_thumbnail_is_removed_and_the_header_kept() -> None:
    # Given a JFIF header carrying a 2x1 thumbnail (a thumbnail can show what was cropped out)
    original = jpeg()
    thumbnail = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x02\x01" + b"\xfe\x00\x00" * 2
    jfif_end = segments(original)[3][1]  # SOI, APP13 (spliced in), APP0, then what follows
    with_thumbnail = SOI + segment(APP0, thumbnail) + original[jfif_end:]

    # When it is stripped
    cleaned, outcome = strip(with_thumbnail)

    # Then the header keeps its version, units and density, with no thumbnail
    assert cleaned.startswith(SOI + segment(APP0, thumbnail[:12] + b"\x00\x00"))
    assert pixels(cleaned) == pixels(original)
    assert outcome.note.startswith("Thumbnail, EXIF")


def test_unknown_and_application_segments_are_removed_but_decoding_segments_kept() -> None:
    # Given segments of every kind the filter does not know, and one APP14 not from Adobe
    original = jpeg()
    strangers = b"".join(
        segment(marker, b"CANARY-STRANGER")
        for marker in (0xE3, 0xEF, 0xF0, 0xC8, 0x02, 0xBF, APP14, APP0)
    )
    spliced = SOI + strangers + original[2:]

    # When it is stripped
    cleaned, outcome = strip(spliced)

    # Then they are all gone, and the tables, frame and scan remain
    assert b"CANARY-STRANGER" not in cleaned
    assert {0xDB, 0xC0, DHT, SOS} <= set(markers(cleaned))
    assert pixels(cleaned) == pixels(original)
    assert outcome.note.startswith("Other application data, IPTC")


def test_fill_bytes_before_markers_are_dropped_and_restart_markers_kept() -> None:
    # Given a JPEG with restart markers in its scan and fill bytes before two markers
    encoded = io.BytesIO()
    picture().resize((64, 64)).save(encoded, "JPEG", restart_marker_blocks=1)
    original = encoded.getvalue()
    restarts = sum(original.count(bytes((0xFF, marker))) for marker in range(0xD0, 0xD8))
    assert restarts > 4
    quantisation = original.index(b"\xff\xdb")
    padded = original[:quantisation] + b"\xff\xff\xff" + original[quantisation:-2]
    padded += b"\xff\xff" + original[-2:]

    # When it is stripped
    cleaned, outcome = strip(padded)

    # Then the fill bytes are gone and every restart marker is where it was
    assert cleaned == original
    assert outcome == strip(original)[1]


def test_data_after_the_end_of_the_image_is_removed() -> None:
    # Given a JPEG with something appended after its EOI marker
    original = jpeg()
    hidden = b"PK\x03\x04CANARY-APPENDED" * 10

    # When it is stripped
    cleaned, outcome = strip(original + hidden)

    # Then the appended bytes are gone and the note says how many
    assert cleaned == strip(original)[0]
    assert cleaned.endswith(b"\xff\xd9")
    assert outcome.stripped
    assert outcome.note.endswith(f"{len(hidden)} bytes after the end of the image removed.")


def test_a_jpeg_without_metadata_is_passed_through_unchanged() -> None:
    # Given a JPEG with only the JFIF header and what decoding needs
    encoded = io.BytesIO()
    picture().save(encoded, "JPEG")

    # When it is stripped
    cleaned, outcome = strip(encoded.getvalue())

    # Then nothing changes and the reviewer is told there was nothing to remove
    assert cleaned == encoded.getvalue()
    assert outcome.stripped
    assert outcome.note == "No metadata found."


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_every_truncation_keeps_a_clean_prefix_and_passes_the_rest_unchanged(
    progressive: bool,
) -> None:
    """A JPEG cut anywhere: never an error, and what is not cleaned reaches the reviewer as is.

    Precisely: the output is a prefix of the cleaned whole file, followed by the cut file's
    own last bytes, unchanged (the segment that was cut, passed on rather than guessed at). When
    the cut falls inside the scan of a baseline JPEG the output is just the prefix and still
    counts as stripped.
    """
    original = jpeg(progressive=progressive)
    whole, _ = strip(original)
    first_scan_data = segments(original)[-1][1] + 20
    for cut in range(3, len(original) + 1):  # shorter, it is not recognised as a JPEG
        # Given the file cut short; When it is stripped
        cleaned, outcome = strip(original[:cut])

        # Then it is a clean prefix and an unchanged tail
        common = _common_prefix(cleaned, whole)
        assert original[:cut].endswith(cleaned[common:]), cut
        if outcome.stripped:
            assert common == len(cleaned), cut
            assert not [canary for canary in JPEG_CANARIES if canary in cleaned]
        else:
            assert "metadata may remain" in outcome.note
        if not progressive and first_scan_data <= cut < len(original):
            assert outcome.stripped
            assert outcome.note.endswith("The image ends early: it may be incomplete.")


def test_a_cut_inside_a_metadata_segment_passes_that_segment_on_unchanged() -> None:
    # Given a JPEG cut in the middle of its EXIF segment
    original = jpeg()
    exif_start = segments(original)[3][1]
    assert original[exif_start + 1] == APP1
    cut = original[: exif_start + 60]

    # When it is stripped
    cleaned, outcome = strip(cut)

    # Then the partial segment reaches the reviewer as received, and the note says why
    assert cleaned == strip(original[:exif_start])[0] + original[exif_start : exif_start + 60]
    assert not outcome.stripped
    assert outcome.note == (
        "IPTC and Photoshop data removed. Could not be read as a JPEG image from byte "
        f"{exif_start}: the rest was stored as received; metadata may remain."
    )


def test_a_segment_whose_length_is_wrong_is_kept_with_everything_after_it() -> None:
    # Given a comment whose length field claims more bytes than it has
    original = jpeg()
    wrong = b"\xff\xfe\x00\x40CANARY-COMMENT"
    damaged = SOI + wrong + original[2:]

    # When it is stripped
    cleaned, outcome = strip(damaged)

    # Then nothing is dropped from the comment on: a wrong length must not swallow image data
    assert cleaned == damaged
    assert not outcome.stripped
    assert outcome.note == (
        "Could not be read as a JPEG image from byte 2: "
        "the rest was stored as received; metadata may remain."
    )


@pytest.mark.parametrize(
    "damaged",
    [
        pytest.param(b"\xff\xd8\xff", id="magic only"),
        pytest.param(b"\xff\xd8\xff\x00" + b"x" * 40, id="stuffed byte as a marker"),
        pytest.param(b"\xff\xd8\xffCANARY not a JPEG after all", id="text after the magic"),
        pytest.param(b"\xff\xd8\xff\xe1\x00\x01" + b"x" * 40, id="length below two"),
        pytest.param(b"\xff\xd8\xff\xd8" + b"x" * 40, id="second start of image"),
    ],
)
def test_a_file_that_is_not_really_a_jpeg_passes_through_unchanged(damaged: bytes) -> None:
    # Given bytes that begin like a JPEG; When they are stripped
    cleaned, outcome = strip(damaged)

    # Then they pass through unchanged, and the reviewer is told metadata may remain
    assert cleaned == damaged
    assert outcome.format == "jpeg"
    assert not outcome.stripped
    assert outcome.note.endswith("the rest was stored as received; metadata may remain.")


def test_a_large_scan_is_passed_on_as_it_arrives() -> None:
    # Given a 1 MB scan fed in 64 KiB pieces
    encoded = io.BytesIO()
    Image.effect_noise((1024, 1024), 64).convert("RGB").save(encoded, "JPEG", quality=100)
    original = encoded.getvalue()
    assert len(original) > 1_000_000
    cleaner = filter_for(original[:16], buffer_limit=1_000)

    # When it is fed, Then each piece is passed on at once, but for a 0xFF that may start a marker
    received = passed = 0
    for start in range(0, len(original), 65536):
        piece = original[start : start + 65536]
        received += len(piece)
        passed += len(cleaner.feed(piece))
        assert received - passed <= 1
    passed += len(cleaner.finish())
    assert passed == len(original)
    assert cleaner.outcome.stripped


@pytest.mark.parametrize("where", ["between segments", "in the scan"])
def test_a_long_run_of_fill_bytes_is_not_held_in_memory(where: str) -> None:
    # Given a JPEG padded with 4 MB of fill bytes, fed in 64 KiB pieces
    original = jpeg()
    at = 2 if where == "between segments" else len(original) - 2
    padded = original[:at] + b"\xff" * 4_000_000 + original[at:]
    cleaner = filter_for(padded[:16], buffer_limit=1_000)

    # When it is stripped
    tracemalloc.start()
    try:
        output = [cleaner.feed(padded[i : i + 65536]) for i in range(0, len(padded), 65536)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    output.append(cleaner.finish())

    # Then the padding is dropped as it comes, never accumulated
    assert peak < 1_000_000
    assert b"".join(output) == strip(original)[0]


def _common_prefix(first: bytes, second: bytes) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length
