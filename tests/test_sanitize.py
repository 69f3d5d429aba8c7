"""Untrusted text becomes paragraphs of inert HTML: nothing in it can run, load or link."""

from __future__ import annotations

import pytest

from portal.sanitize import paragraphs, visible_controls

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "<style>body{background:url(https://evil.example/)}</style>",
    "{{ config }} {% raw %}",
    "https://evil.example/track.png",
    "\u202eevil.exe\u202c",
    "<p onclick=alert(1)>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_comes_out_escaped_with_no_markup_of_its_own(text: str) -> None:
    html = str(paragraphs(text))

    assert html.startswith("<p>")
    assert html.endswith("</p>")
    body = html[3:-4]
    assert "<" not in body
    assert ">" not in body
    assert "<a " not in html


def test_blank_lines_make_paragraphs_and_single_newlines_breaks() -> None:
    assert str(paragraphs("one\r\ntwo\n\n\nthree")) == "<p>one<br>two</p><p>three</p>"


def test_empty_text_gives_nothing() -> None:
    assert str(paragraphs("  \n ")) == ""


def test_bidirectional_controls_are_shown_as_codes_not_obeyed() -> None:
    html = str(paragraphs("invoice\u202eexe.txt and \u2066isolate\u2069"))

    assert "\u202e" not in html and "\u2066" not in html
    assert html == "<p>invoice[U+202E]exe.txt and [U+2066]isolate[U+2069]</p>"


def test_a_file_name_keeps_its_characters_but_shows_its_controls() -> None:
    assert visible_controls("minutes\u202etxt.exe") == "minutes[U+202E]txt.exe"
    assert visible_controls("plain name.pdf") == "plain name.pdf"
