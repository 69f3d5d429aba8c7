"""PNG stripping: text, EXIF and time chunks gone, the picture untouched, no data lost to damage."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageSequence

from portal.metadata import filter_for
from tests.metadata.samples import PNG_CANARIES, PNG_SIGNATURE, chunk, chunks, picture, png, strip


def chunk_types(data: bytes) -> list[bytes]:
    return [chunk_type for chunk_type, _ in chunks(data)]


def offset_of(data: bytes, chunk_type: bytes) -> int:
    return dict(chunks(data))[chunk_type]


def test_text_exif_time_and_private_chunks_are_removed() -> None:
    # Given a PNG carrying tEXt, zTXt, iTXt (XMP), eXIf, tIME and a private chunk
    original = png()
    assert all(canary in original for canary in PNG_CANARIES)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"prVt"} <= set(chunk_types(original))
    with Image.open(io.BytesIO(original)) as image:
        assert "CANARY-ZTXT" in image.text["Comment"]

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then no canary is left, the display chunks are kept, and the picture is the same
    assert not [canary for canary in PNG_CANARIES if canary in cleaned]
    assert chunk_types(cleaned) == [b"IHDR", b"pHYs", b"IDAT", b"gAMA", b"IEND"]
    with Image.open(io.BytesIO(cleaned)) as image:
        assert not image.getexif()
        assert not image.text
        assert image.tobytes() == picture().tobytes()
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert outcome.format == "png"
    assert outcome.stripped
    assert outcome.note == "Text, XMP, EXIF, time stamp and other ancillary data removed."


def test_an_animated_png_keeps_every_frame() -> None:
    # Given an APNG of two frames with a text chunk
    frames = [picture(), picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    encoded = io.BytesIO()
    frames[0].save(encoded, "PNG", save_all=True, append_images=frames[1:], duration=100)
    original = encoded.getvalue()
    original = original[:33] + chunk(b"tEXt", b"Author\x00CANARY-TEXT") + original[33:]

    # When it is stripped
    cleaned, outcome = strip(original)

    # Then both frames survive as they were
    assert b"CANARY-TEXT" not in cleaned
    assert {b"acTL", b"fcTL", b"fdAT"} <= set(chunk_types(cleaned))
    with Image.open(io.BytesIO(cleaned)) as image:
        decoded = [frame.convert("RGB").tobytes() for frame in ImageSequence.Iterator(image)]
    assert decoded == [frame.tobytes() for frame in frames]
    assert outcome.stripped


def test_data_after_iend_is_removed() -> None:
    # Given a PNG with a ZIP archive appended (a common way to hide a file in a picture)
    original = png()
    hidden = b"PK\x03\x04CANARY-APPENDED" * 4

    # When it is stripped
    cleaned, outcome = strip(original + hidden)

    # Then the appended bytes are gone
    assert cleaned == strip(original)[0]
    assert outcome.note.endswith(f"{len(hidden)} bytes after the end of the image removed.")


def test_a_metadata_chunk_with_a_wrong_crc_is_kept_with_everything_after_it() -> None:
    # Given a tEXt chunk whose CRC does not match (its length may be wrong: it may swallow IDAT)
    original = png()
    text = offset_of(original, b"tEXt")
    damaged = bytearray(original)
    damaged[text + 8] ^= 0x01

    # When it is stripped
    cleaned, outcome = strip(bytes(damaged))

    # Then that chunk and all after it reach the reviewer unchanged, cleaned before it
    assert cleaned == strip(original[:text])[0] + damaged[text:]
    assert not outcome.stripped
    assert outcome.note == (
        f"Could not be read as a PNG image from byte {text}: "
        "the rest was stored as received; metadata may remain."
    )


def test_an_image_chunk_with_a_wrong_crc_passes_the_rest_through() -> None:
    # Given IDAT data whose CRC does not match: the chunks after it cannot be trusted
    original = png()
    image_data = offset_of(original, b"IDAT")
    damaged = bytearray(original)
    damaged[image_data + 9] ^= 0x01

    # When it is stripped
    cleaned, outcome = strip(bytes(damaged))

    # Then the image chunk and everything after it pass on unchanged
    assert cleaned == strip(original[:image_data])[0] + damaged[image_data:]
    assert not outcome.stripped
    assert f"from byte {image_data}:" in outcome.note


def test_a_metadata_chunk_larger_than_the_hold_limit_passes_through() -> None:
    # Given a tEXt chunk larger than the filter may hold to check its CRC
    original = png()
    header_end = offset_of(original, b"tEXt")  # right after IHDR
    large = chunk(b"tEXt", b"Comment\x00" + b"CANARY-LARGE" * 100)
    spliced = original[:header_end] + large + original[header_end:]
    cleaner = filter_for(spliced, buffer_limit=1_000)

    # When it is stripped
    cleaned = cleaner.feed(spliced) + cleaner.finish()

    # Then it is kept with the rest, and the reviewer is told
    assert cleaned == spliced
    assert not cleaner.outcome.stripped
    assert cleaner.outcome.note.startswith(
        f"Could not be read as a PNG image from byte {header_end}"
    )


@pytest.mark.parametrize(
    "damaged",
    [
        pytest.param(PNG_SIGNATURE + b"\x00\x00\x00\x0dIH", id="header cut short"),
        pytest.param(PNG_SIGNATURE + b"\x00\x00\x00\x0d1234CANARY-1234567", id="bad chunk type"),
        pytest.param(PNG_SIGNATURE + b"\xff\xff\xff\xffIHDR" + b"x" * 30, id="length over 2**31"),
    ],
)
def test_a_file_that_is_not_really_a_png_passes_through_unchanged(damaged: bytes) -> None:
    # Given bytes that begin like a PNG; When they are stripped
    cleaned, outcome = strip(damaged)

    # Then they pass through unchanged
    assert cleaned == damaged
    assert outcome.format == "png"
    assert not outcome.stripped


def test_every_truncation_keeps_a_clean_prefix_and_passes_the_cut_chunk_unchanged() -> None:
    """A PNG cut anywhere: never an error, and what is not cleaned reaches the reviewer as is.

    Precisely: cut inside a chunk, the output is the cleaned file up to that chunk followed by
    the chunk's bytes as received (its CRC never came, so its length is unconfirmed). Cut between
    two chunks, the output is the cleaned file up to there, which counts as stripped.
    """
    original = png()
    whole, _ = strip(original)
    boundaries = sorted(offset for _, offset in chunks(original))
    cleaned_up_to = {boundary: strip(original[:boundary])[0] for boundary in boundaries}
    assert all(whole.startswith(prefix) for prefix in cleaned_up_to.values())
    for cut in range(len(PNG_SIGNATURE), len(original)):
        # Given the file cut short; When it is stripped
        cleaned, outcome = strip(original[:cut])

        # Then it is a clean prefix and the cut chunk unchanged
        chunk_start = max(boundary for boundary in boundaries if boundary <= cut)
        assert cleaned == cleaned_up_to[chunk_start] + original[chunk_start:cut], cut
        assert outcome.stripped == (cut == chunk_start), cut
