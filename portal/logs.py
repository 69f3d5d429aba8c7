"""Logging that cannot identify a submitter.

Log lines carry no time (the process manager adds one if it must), no client address and no
exception message: messages can quote submitted text or decrypted content, so a logged exception
keeps only its type and where it was raised. Any IP address that still reaches a log line (from a
library, say) is replaced before the line is written.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
import traceback
import warnings
from types import TracebackType

LOG_FORMAT = "%(levelname)s [%(process)d] %(name)s: %(message)s"
ADDRESS_PLACEHOLDER = "[address removed]"

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
# Runs of hex digits, colons and dots that contain a colon: every IPv6 address is one of these.
_IPV6_CANDIDATE = re.compile(r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")


def redact_addresses(text: str) -> str:
    """Replace every IPv4 and IPv6 address in `text` with a placeholder."""
    text = _IPV6_CANDIDATE.sub(_replace_longest_address_prefix, text)
    return _IPV4.sub(_replace_if_address, text)


def _replace_if_address(match: re.Match[str]) -> str:
    return ADDRESS_PLACEHOLDER if _is_address(match.group()) else match.group()


def _replace_longest_address_prefix(match: re.Match[str]) -> str:
    # A candidate can run into punctuation that follows the address ("ip=::1: bad request").
    candidate = match.group()
    for end in range(len(candidate), 1, -1):
        if _is_address(candidate[:end]):
            return ADDRESS_PLACEHOLDER + candidate[end:]
    return candidate


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class RedactAddresses(logging.Filter):
    """Rewrites a record's message with every IP address removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_addresses(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class AnonymousFormatter(logging.Formatter):
    """Formats exceptions as their type and stack only, never their message."""

    def formatException(  # noqa: N802 (the name logging calls)
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return format_exception_without_messages(ei[1]) if ei[1] is not None else ""


def format_exception_without_messages(error: BaseException) -> str:
    """The traceback of `error` and of the exceptions that led to it, with no message or note."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for position, exception in enumerate(reversed(chain)):
        if position:
            lines.append("\nwhich led to:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(exception.__traceback__))
        kind = type(exception)
        lines.append(f"{kind.__module__}.{kind.__qualname__}: (message withheld)\n")
    return "".join(lines).rstrip("\n")


class _PortalHandler(logging.StreamHandler):
    """Whatever sys.stderr is when a record is written: gunicorn sends it to its error log."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(AnonymousFormatter(LOG_FORMAT))
        self.addFilter(RedactAddresses())

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure() -> None:
    """Send the portal's own log records to stderr, anonymised; quiet Werkzeug's request log."""
    logger = logging.getLogger("portal")
    if not any(isinstance(handler, _PortalHandler) for handler in logger.handlers):
        logger.addHandler(_PortalHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    # Werkzeug's development server logs each client's address and a timestamp at INFO.
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.WARNING)
    if not any(isinstance(f, RedactAddresses) for f in werkzeug.filters):
        werkzeug.addFilter(RedactAddresses())
    # pikepdf logs qpdf's complaints about an uploaded PDF, and warns on saving some: either
    # would put a line in the log at the moment a file was submitted. The outcome of cleaning
    # a file is recorded, encrypted, with the file itself instead.
    pikepdf = logging.getLogger("pikepdf")  # the parent of every pikepdf logger
    pikepdf.setLevel(logging.CRITICAL + 1)
    pikepdf.propagate = False
    warnings.filterwarnings("ignore", module=r"pikepdf(\.|$)")
