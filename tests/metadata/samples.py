"""Sample uploads carrying identifying metadata, with canary strings to look for afterwards.

Each canary is planted where a real file keeps metadata (an EXIF field, a comment, a document
property...). A test first checks that the canary is in the sample, so a sample that lost it
(a library changing how it writes files) fails loudly instead of passing for the wrong reason.
"""

from __future__ import annotations

import io
import itertools
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from functools import cache

import pikepdf
from PIL import ExifTags, Image, PngImagePlugin

from portal.metadata import StripOutcome, filter_for

BUFFER_LIMIT = 1_000_000

JPEG_CANARIES = (
    b"CANARY-EXIF-ARTIST",
    b"CANARY-EXIF-DESCRIPTION",
    b"CANARY-GPS-AREA",
    b"CANARY-XMP",
    b"CANARY-COMMENT",
    b"CANARY-ICC",
    b"CANARY-IPTC",
)
PNG_CANARIES = (  # the zTXt chunk's canary is compressed: tests read it through Pillow
    b"CANARY-TEXT",
    b"CANARY-XMP",
    b"CANARY-EXIF-ARTIST",
    b"CANARY-PRIVATE",
)
PDF_CANARIES = (
    b"CANARY-AUTHOR",
    b"CANARY-TITLE",
    b"CANARY-CREATOR",
    b"CANARY-PRODUCER",
    b"CANARY-XMP",
    b"CANARY-PAGE-XMP",
    b"CANARY-PIECEINFO",
    b"CANARY-LAST-MODIFIED",
    b"CANARY-ANNOTATION-AUTHOR",
    b"CANARY-EXIF-ARTIST",
)
OFFICE_CANARIES = (
    b"CANARY-CREATOR",
    b"CANARY-LAST-MODIFIED-BY",
    b"CANARY-COMPANY",
    b"CANARY-MANAGER",
    b"CANARY-CUSTOM",
    b"CANARY-EXIF-ARTIST",
)

SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def strip(
    data: bytes, pieces: Iterable[int] = (), *, buffer_limit: int = BUFFER_LIMIT
) -> tuple[bytes, StripOutcome]:
    """Run `data` through the filter `filter_for` picks, whole or cut at the given positions."""
    cuts = sorted({0, *pieces, len(data)})
    cleaner = filter_for(data[:16], buffer_limit=buffer_limit)
    output = [cleaner.feed(data[start:end]) for start, end in itertools.pairwise(cuts)]
    output.append(cleaner.finish())
    return b"".join(output), cleaner.outcome


def picture(mode: str = "RGB") -> Image.Image:
    """A small picture with detail in every channel, so a lost or altered scan would show."""
    image = Image.new("RGB", (24, 16))
    image.putdata([(x * 10, y * 15, (x * y) % 256) for y in range(16) for x in range(24)])
    return image.convert(mode)


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = "CANARY-EXIF-ARTIST"
    exif[ExifTags.Base.ImageDescription] = "CANARY-EXIF-DESCRIPTION"
    exif[ExifTags.Base.Make] = "Phone maker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    gps[ExifTags.GPS.GPSAreaInformation] = "CANARY-GPS-AREA"
    return exif


def segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment."""
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def iptc_segment() -> bytes:
    """An APP13 Photoshop segment holding an IPTC by-line, as photo agencies' tools write."""
    by_line = b"\x1c\x02\x50" + len(b"CANARY-IPTC").to_bytes(2, "big") + b"CANARY-IPTC"
    resource = b"8BIM\x04\x04\x00\x00" + len(by_line).to_bytes(4, "big") + by_line + b"\x00"
    return segment(0xED, b"Photoshop 3.0\x00" + resource)


@cache
def jpeg(*, progressive: bool = False, mode: str = "RGB") -> bytes:
    """A JPEG with EXIF (GPS included), XMP, a comment, an ICC profile and IPTC."""
    encoded = io.BytesIO()
    picture(mode).save(
        encoded,
        "JPEG",
        exif=exif_with_gps(),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">CANARY-XMP</x:xmpmeta>',
        comment=b"CANARY-COMMENT",
        icc_profile=b"CANARY-ICC" * 8,
        progressive=progressive,
        quality=90,
    )
    data = encoded.getvalue()
    return data[:2] + iptc_segment() + data[2:]


def segments(data: bytes) -> list[tuple[int, int]]:
    """(marker, offset) of each marker segment before the first scan, SOI included."""
    found = [(data[1], 0)]
    pos = 2
    while data[pos + 1] != 0xDA:
        found.append((data[pos + 1], pos))
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    found.append((0xDA, pos))
    return found


def chunk(chunk_type: bytes, data: bytes) -> bytes:
    """A PNG chunk with its CRC."""
    crc = zlib.crc32(chunk_type + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + chunk_type + data + crc


def chunks(data: bytes) -> list[tuple[bytes, int]]:
    """(type, offset) of each chunk of a PNG file, up to IEND."""
    found = []
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        chunk_type = data[pos + 4 : pos + 8]
        found.append((chunk_type, pos))
        if chunk_type == b"IEND":
            break
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
    return found


@cache
def png() -> bytes:
    """A PNG with tEXt, zTXt, iTXt (XMP), eXIf, tIME and a private chunk, besides pHYs and gAMA."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "CANARY-TEXT")
    info.add_text("Comment", "CANARY-ZTXT " * 4, zip=True)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>CANARY-XMP</x:xmpmeta>")
    encoded = io.BytesIO()
    picture().save(encoded, "PNG", pnginfo=info, exif=exif_with_gps(), dpi=(300, 300))
    data = encoded.getvalue()
    extra = (
        chunk(b"gAMA", (45455).to_bytes(4, "big"))
        + chunk(b"tIME", b"\x07\xe9\x03\x0e\x0c\x22\x38")
        + chunk(b"prVt", b"CANARY-PRIVATE")
    )
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + extra + data[iend:]


@cache
def pdf() -> bytes:
    """A two-page PDF with document properties, XMP, private data, a photo and a comment."""
    document = pikepdf.new()
    for _ in range(2):
        document.add_blank_page()
    document.docinfo[pikepdf.Name.Author] = "CANARY-AUTHOR"
    document.docinfo[pikepdf.Name.Title] = "CANARY-TITLE"
    document.docinfo[pikepdf.Name.Creator] = "CANARY-CREATOR"
    document.docinfo[pikepdf.Name.Producer] = "CANARY-PRODUCER"
    with document.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
        xmp["dc:description"] = "CANARY-XMP"
    page = document.pages[0].obj
    page.Metadata = document.make_stream(b"<x:xmpmeta>CANARY-PAGE-XMP</x:xmpmeta>")
    page.PieceInfo = pikepdf.Dictionary(App=pikepdf.Dictionary(Private="CANARY-PIECEINFO"))
    page.LastModified = "D:20250314123456CANARY-LAST-MODIFIED"
    photo = io.BytesIO()
    picture().save(photo, "JPEG", exif=exif_with_gps())
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=pdf_image(document, photo)))
    field = document.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            Rect=[40, 10, 90, 30],
            FT=pikepdf.Name.Tx,
            T="case_reference",  # a form field's name, not an author: it must stay
        )
    )
    document.Root.AcroForm = pikepdf.Dictionary(Fields=[field])
    page.Annots = document.make_indirect(
        pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Text,
                    Rect=[10, 10, 30, 30],
                    Contents="The comment itself stays.",
                    T="CANARY-ANNOTATION-AUTHOR",
                    M="D:20250314123456Z",
                ),
                field,
            ]
        )
    )
    encoded = io.BytesIO()
    document.save(encoded, compress_streams=False)
    return encoded.getvalue()


def pdf_image(document: pikepdf.Pdf, jpeg_file: io.BytesIO) -> pikepdf.Stream:
    return pikepdf.Stream(
        document,
        jpeg_file.getvalue(),
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=24,
        Height=16,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.DCTDecode,
    )


def pdf_contents(data: bytes) -> bytes:
    """The file's bytes and every object and stream decoded, to look for canaries in."""
    parts = [data]
    with pikepdf.open(io.BytesIO(data)) as document:
        parts.append(repr(document.trailer).encode())
        for obj in document.objects:
            parts.append(repr(obj).encode())
            if isinstance(obj, pikepdf.Stream):
                parts.append(obj.read_raw_bytes())
                if obj.get(pikepdf.Name.Filter) != pikepdf.Name.DCTDecode:
                    parts.append(obj.read_bytes())
    return b"\n".join(parts)


def office_file(parts: Sequence[tuple[str, bytes]]) -> bytes:
    """A ZIP archive holding `parts` in order, as Office writes them."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        for name, data in parts:
            entry = zipfile.ZipInfo(name, date_time=(2025, 3, 14, 12, 34, 56))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.comment = b"CANARY-ENTRY-COMMENT"
            writer.writestr(entry, data)
        writer.comment = b"CANARY-ARCHIVE-COMMENT"
    return archive.getvalue()


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels"'
    b' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Default Extension="jpeg" ContentType="image/jpeg"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/>'
    b'<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.'
    b'core-properties+xml"/>'
    b'<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.extended-properties+xml"/>'
    b'<Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.custom-properties+xml"/>'
    b"</Types>"
)
DOCUMENT = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>My caseload is 74 cases at 160% capacity.</w:t></w:r></w:p>"
    b"</w:body></w:document>"
)
CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b"<cp:coreProperties"
    b' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
    b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b"<dc:creator>CANARY-CREATOR</dc:creator>"
    b"<cp:lastModifiedBy>CANARY-LAST-MODIFIED-BY</cp:lastModifiedBy>"
    b'<dcterms:created xsi:type="dcterms:W3CDTF">2025-03-14T12:34:56Z</dcterms:created>'
    b"</cp:coreProperties>"
)
APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    b"<Template>Normal.dotm</Template><TotalTime>42</TotalTime>"
    b"<Company>CANARY-COMPANY</Company><Manager>CANARY-MANAGER</Manager></Properties>"
)
CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner">'
    b"<vt:lpwstr>CANARY-CUSTOM</vt:lpwstr></property></Properties>"
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
    b'metadata/core-properties" Target="docProps/core.xml"/>'
    b'<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/extended-properties" Target="docProps/app.xml"/>'
    b'<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/custom-properties" Target="docProps/custom.xml"/>'
    b"</Relationships>"
)


def docx_parts() -> list[tuple[str, bytes]]:
    photo = io.BytesIO()
    picture().save(photo, "JPEG", exif=exif_with_gps())
    return [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("word/document.xml", DOCUMENT),
        ("word/media/image1.jpeg", photo.getvalue()),
        ("docProps/core.xml", CORE),
        ("docProps/app.xml", APP),
        ("docProps/custom.xml", CUSTOM),
    ]


@cache
def docx() -> bytes:
    """A Word document with author, company, a custom property and a photo with EXIF."""
    return office_file(docx_parts())
