"""The QR code a reviewer scans into an authenticator app at enrolment, drawn as inline SVG.

Drawn on the server (segno, pure Python) so the enrolment page needs no JavaScript and fetches
nothing: the SVG goes straight into the HTML, which the site's Content-Security-Policy allows
(inline SVG is markup, not a script or a fetched resource). The code carries the TOTP secret, so
it must never become a URL of its own, a file on disk or a cached image.
"""

from __future__ import annotations

import io

import segno
from markupsafe import Markup

TITLE = "QR code for your authenticator app"
# 5 px a module, and the 4-module quiet zone the QR code standard requires around the symbol.
SCALE = 5
BORDER = 4


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code of `text`: black on white, titled for screen readers.

    No XML declaration (it would be text in HTML), no links, no script, nothing external. The
    SVG namespace is kept so the same markup is also a valid SVG document on its own. Error
    correction is M (15%), raised by segno when the symbol has room, so a screen's glare or a
    wobbly camera still reads it. A full QR code, never a Micro QR, which phone apps cannot
    read. Raises segno.DataOverflowError (a ValueError) for text too long for any QR code.
    """
    code = segno.make_qr(text, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=SCALE,
        border=BORDER,
        dark="#000",
        light="#fff",
        title=TITLE,
        svgclass="qr-code",
        lineclass=None,
        encoding="utf-8",
    )
    svg = out.getvalue().decode("utf-8")
    if not svg.startswith("<svg "):
        raise RuntimeError("segno's SVG no longer starts with the <svg> element")
    # role="img": screen readers announce the SVG as one image named by its <title>, instead of
    # walking into its paths.
    markup = '<svg role="img" ' + svg.removeprefix("<svg ")
    return Markup(markup)  # noqa: S704 - made by segno, which escapes the title
