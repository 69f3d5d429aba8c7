"""Turning untrusted plain text into HTML that stays inert (DESIGN decision 8).

This is the only module that imports bleach: bleach is deprecated upstream, and keeping it in one
place makes it one file to swap. Text is escaped first, then paragraphs and line breaks are added,
then the result is cleaned against an allow-list of just those two tags. Nothing is linkified.
"""

from __future__ import annotations

import re

import bleach
from flask import Flask
from markupsafe import Markup, escape

ALLOWED_TAGS = frozenset({"p", "br"})
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Bidirectional controls can make text display in another order than it was written ("exe.txt"
# shown as "txt.exe"). They are shown as visible codes instead; the stored text is unchanged.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible_controls(text: str) -> str:
    """`text` with bidirectional controls shown as codes, for a single line such as a file name
    (autoescaping still applies where it is shown)."""
    return _BIDI_CONTROLS.sub(lambda match: f"[U+{ord(match.group()):04X}]", text)


def paragraphs(text: str) -> Markup:
    """`text` as HTML paragraphs, with single line breaks kept; every character inert."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    normalised = visible_controls(normalised)
    if not normalised:
        return Markup("")
    html = "".join(
        f"<p>{str(escape(block)).replace(chr(10), '<br>')}</p>"
        for block in _PARAGRAPH_BREAK.split(normalised)
    )
    cleaned = bleach.clean(html, tags=ALLOWED_TAGS, attributes={}, protocols=[], strip=True)
    return Markup(cleaned)  # noqa: S704 (escaped, then cleaned against the allow-list above)


def init_app(app: Flask) -> None:
    """Offer both to templates: `{{ text|paragraphs }}` and `{{ name|visible_controls }}`."""
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["visible_controls"] = visible_controls
