"""English and Welsh: every public text is translated, and the language switch works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask

from portal.config import PROJECT_ROOT
from portal.i18n import TRANSLATIONS_DIR

CATALOGUE = TRANSLATIONS_DIR / "cy" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[sd]|%%")
# The extraction `make translations` does (portal/translations/babel.cfg), run in memory.
METHODS = [
    ("portal/**.py", "python"),
    ("templates/submit/**.html", "jinja2"),
    ("templates/common/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "_l": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def _read_catalogue(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return read_po(handle)


def _texts_in_sources() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map=METHODS, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_text_of_the_public_site_has_a_welsh_translation() -> None:
    catalogue = _read_catalogue(CATALOGUE)
    translated = {
        message.id[0] if isinstance(message.id, tuple) else message.id: message
        for message in catalogue
        if message.id
    }

    missing = sorted(_texts_in_sources() - set(translated))
    assert not missing, f"run `make translations` and translate: {missing}"
    for text, message in translated.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"not translated: {text!r}"
        assert not message.fuzzy, f"marked fuzzy (check and unmark): {text!r}"
        for string in strings:
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(text)), text


@pytest.mark.parametrize(
    ("path", "english", "welsh"),
    [
        ("/", "Report a concern in probation", "Rhoi gwybod am bryder"),
        ("/report/workload", "What is your role?", "Beth yw eich rôl?"),
        ("/follow-up", "Check for a reply", "Gwirio am ateb"),
    ],
)
def test_the_language_switch_changes_the_page_and_is_remembered(
    submit_app: Flask, path: str, english: str, welsh: str
) -> None:
    client = submit_app.test_client()

    in_english = client.get(path).text
    in_welsh = client.get(f"{path}?lang=cy").text
    remembered = client.get(path).text
    back = client.get(f"{path}?lang=en").text

    assert '<html lang="en">' in in_english and english in in_english
    assert '<html lang="cy">' in in_welsh and welsh in in_welsh and english not in in_welsh
    assert '<html lang="cy">' in remembered
    assert '<html lang="en">' in back


def test_an_unknown_language_falls_back_to_english(submit_app: Flask) -> None:
    page = submit_app.test_client().get("/?lang=xx").text

    assert '<html lang="en">' in page


def test_error_pages_are_welsh_too(submit_app: Flask) -> None:
    page = submit_app.test_client().get("/no-such-page?lang=cy")

    assert page.status_code == 404
    assert '<html lang="cy">' in page.text
    assert "Page not found" not in page.text
