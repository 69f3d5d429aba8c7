"""Log anonymisation: addresses removed, exception messages withheld."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from portal.logs import (
    ADDRESS_PLACEHOLDER,
    RedactAddresses,
    format_exception_without_messages,
    redact_addresses,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Invalid request from ip=203.0.113.9: bad", "Invalid request from ip=[A]: bad"),
        ("Invalid request from ip=::1: bad", "Invalid request from ip=[A]: bad"),
        ("peer 2001:db8::8a2e:370:7334 left", "peer [A] left"),
        ("peer [fe80::1]:443 left", "peer [[A]]:443 left"),
        ("mapped ::ffff:198.51.100.7 here", "mapped [A] here"),
        ("two: 10.0.0.1 and 10.0.0.2.", "two: [A] and [A]."),
    ],
)
def test_addresses_are_replaced(text: str, expected: str) -> None:
    assert redact_addresses(text) == expected.replace("[A]", ADDRESS_PLACEHOLDER)


@pytest.mark.parametrize(
    "text",
    [
        "GET /report/new HTTP/1.1 200",
        "took 12:34:56 to run",
        "worker 999.1.2.3 is not an address",
        "Error: the form was invalid",
        "ratio 3:2 and dead:beef",
    ],
)
def test_text_without_addresses_is_unchanged(text: str) -> None:
    assert redact_addresses(text) == text


def test_the_filter_rewrites_a_formatted_record() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "from %s", ("192.0.2.44",), None)

    assert RedactAddresses().filter(record)
    assert record.getMessage() == f"from {ADDRESS_PLACEHOLDER}"


def _raise_chained(first: str, second: str) -> None:
    try:
        raise KeyError(first)
    except KeyError as error:
        raise ValueError(second) from error


def test_a_traceback_keeps_types_and_frames_but_no_message() -> None:
    # The canaries are built at run time: a traceback quotes source lines, never data.
    secret = "-".join(("canary", "secret"))
    try:
        _raise_chained(f"{secret}-one", f"{secret}-two")
    except ValueError as error:
        error.add_note(f"{secret}-note")
        text = format_exception_without_messages(error)

    assert "canary-secret" not in text
    assert "builtins.KeyError: (message withheld)" in text
    assert "builtins.ValueError: (message withheld)" in text
    assert "in _raise_chained" in text
    assert text.index("KeyError") < text.index("ValueError")


PIKEPDF_SPEAKS = """
import logging, warnings
from portal.logs import configure
configure()
logging.getLogger("pikepdf._core").error("qpdf: file is damaged")
warnings.warn_explicit("page copy", UserWarning, "_methods.py", 1, module="pikepdf._methods")
"""


def test_what_pikepdf_says_about_an_uploaded_pdf_never_reaches_the_logs() -> None:
    # Given a process with the portal's logging (pytest's own capture would hide the output)
    # When pikepdf logs and warns, as it does while cleaning some damaged PDFs
    result = subprocess.run(
        [sys.executable, "-c", PIKEPDF_SPEAKS], capture_output=True, text=True, check=True
    )

    # Then nothing was written: a line there would mark when a file was submitted
    assert (result.stdout, result.stderr) == ("", "")
