"""The enrolment QR code: inline SVG that is inert, accessible, stable, and encodes the URI.

The decoding test reads the SVG's own drawing back (not a second rendering of the same text):
it rasterises the SVG path with Pillow and decodes the picture with zbarimg (Debian's zbar-tools),
an independent QR decoder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from jinja2 import Environment
from markupsafe import Markup, escape
from PIL import Image, ImageDraw

from portal.accounts import totp
from portal.accounts.qr import BORDER, SCALE, TITLE, qr_svg
from tests.support.components import unavailable

SVG = "{http://www.w3.org/2000/svg}"  # ElementTree's spelling of the SVG namespace
SECRET = bytes(range(20))
URI = totp.provisioning_uri(SECRET, account="jsmith", issuer="HM Inspectorate of Probation")
# Reviewer usernames are up to 64 characters; an issuer of as many, with characters to escape.
LONG_URI = totp.provisioning_uri(
    SECRET, account="a.very-long.reviewer+name@" + "x" * 38, issuer="Inspectorate & Co/" * 3 + "ü"
)
PIXELS_PER_MODULE = 4
ZBARIMG_TIMEOUT = 60


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it


def test_the_svg_parses_as_xml_and_is_titled_for_screen_readers() -> None:
    # When the QR code of a provisioning URI is drawn
    svg = qr_svg(URI)
    root = parse(svg)

    # Then it is one SVG element, an image whose first child is its title
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root[0]
    assert title.tag == f"{SVG}title"
    assert title.text == TITLE == "QR code for your authenticator app"


def test_the_svg_is_inert_markup_with_nothing_external() -> None:
    svg = str(qr_svg(URI))
    elements = list(parse(svg).iter())

    # Then it holds only the SVG drawing elements it needs: no script, link, style or image
    allowed = {f"{SVG}{tag}" for tag in ("svg", "title", "g", "path")}
    assert {element.tag for element in elements} <= allowed
    assert "<script" not in svg.lower()
    # no reference of any kind, and no event handler attribute
    for element in elements:
        for name in element.attrib:
            assert not name.endswith("href"), name
            assert not name.lower().startswith("on"), name
    assert "href" not in svg
    assert "url(" not in svg
    assert "javascript:" not in svg.lower()


def test_the_svg_can_be_embedded_directly_in_html() -> None:
    svg = qr_svg(URI)

    # Then it has no XML declaration, doctype, comment or newline (stray text in an HTML page)
    assert svg.startswith("<svg ")
    assert svg.endswith("</svg>")
    assert "<?xml" not in svg
    assert "<!" not in svg
    assert "\n" not in svg
    # and it is Markup: escaping and autoescaping templates leave it as it is
    assert isinstance(svg, Markup)
    assert escape(svg) == svg
    page = Environment(autoescape=True).from_string("<p>{{ qr }}</p>").render(qr=svg)
    assert page == f"<p>{svg}</p>"


def test_the_svg_does_not_show_the_secret_as_text() -> None:
    # The secret is in the drawing only: nothing a search of the page source or a log would find
    svg = qr_svg(URI)
    assert URI not in svg
    assert totp.secret_text(SECRET).replace(" ", "") not in svg
    assert "otpauth" not in svg


def test_the_svg_is_dark_on_white_with_a_quiet_zone_at_five_pixels_a_module() -> None:
    root = parse(qr_svg(URI))
    background, modules = root.iter(f"{SVG}path")
    modules_wide = _modules_wide(background.get("d", ""))

    # Then a white square covers the whole symbol and its border, and the modules are black
    assert background.get("fill") == "#fff"
    assert modules.get("stroke") == "#000"
    assert root.get("width") == root.get("height") == str(modules_wide * SCALE)
    dark = _dark_modules(modules.get("d", ""))
    assert min(x for x, _ in dark) == min(y for _, y in dark) == BORDER
    assert max(x for x, _ in dark) == max(y for _, y in dark) == modules_wide - BORDER - 1


def test_the_same_text_gives_the_same_svg_and_other_text_another() -> None:
    assert qr_svg(URI) == qr_svg(URI)
    assert qr_svg(URI) != qr_svg(URI.replace("jsmith", "jsmitj"))


@pytest.mark.parametrize("text", [URI, LONG_URI], ids=["uri", "long-uri"])
def test_the_svg_decodes_back_to_the_text(tmp_path: Path, text: str) -> None:
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        unavailable("zbarimg (Debian's zbar-tools) is not installed: cannot decode the QR code")

    # Given the picture the SVG draws, rasterised from its path
    root = parse(qr_svg(text))
    background, modules = root.iter(f"{SVG}path")
    png = tmp_path / "qr.png"
    _rasterise(_modules_wide(background.get("d", "")), _dark_modules(modules.get("d", ""))).save(
        png
    )

    # When an independent decoder reads it
    decoded = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(png)],
        capture_output=True,
        check=True,
        timeout=ZBARIMG_TIMEOUT,
    )

    # Then it gives back exactly the text
    assert decoded.stdout.decode("utf-8").removesuffix("\n") == text


def _modules_wide(background_path: str) -> int:
    """The symbol's width in modules, border included, from segno's "M0 0h41v41h-41z"."""
    match = re.fullmatch(r"M0 0h(\d+)v\1h-\1z", background_path)
    assert match, background_path
    return int(match[1])


def _dark_modules(path: str) -> set[tuple[int, int]]:
    """The (x, y) modules a stroked path of 1-unit horizontal lines covers.

    segno draws each run of dark modules as a line through the middle of its row: an absolute
    "M x y+0.5" to start, then "h length" to draw and relative "m dx dy" to move.
    """
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, arguments in re.findall(r"([A-Za-z])([^A-Za-z]*)", path):
        numbers = [float(number) for number in arguments.split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            (length,) = numbers
            dark.update((int(x) + step, int(y - 0.5)) for step in range(int(length)))
            x += length
        else:
            pytest.fail(f"unexpected path command {command!r} in segno's SVG")
    return dark


def _rasterise(modules_wide: int, dark: set[tuple[int, int]]) -> Image.Image:
    size = modules_wide * PIXELS_PER_MODULE
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for x, y in dark:
        left, top = x * PIXELS_PER_MODULE, y * PIXELS_PER_MODULE
        draw.rectangle(
            (left, top, left + PIXELS_PER_MODULE - 1, top + PIXELS_PER_MODULE - 1), fill=0
        )
    return image
