"""Sealed documents: serialise, pad to a size bucket, encrypt as one age file. And the reverse.

Every report, message, note and file description is a small JSON document sealed here.
Each document names the row it belongs to and, from version 2, where that row belongs: its
report, position and author, a file's message, a report's reply recipient (the fields are
listed in `portal.services.contexts`). Readers say what they are reading (`bound_to`): age has
no associated data, so without this a ciphertext copied from one row into another, or a row
moved to another report or relabelled, would be read as genuine. `unseal_document` is the one
place the comparison is made.
Padding hides the length of what was written: a one-line report and a long one can land in the
same bucket, so ciphertext sizes say little about who wrote what. JSON ignores trailing
whitespace, so spaces are the padding and nothing has to be stripped again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from portal import crypto

SMALLEST_BUCKET = 1024
DOCUMENT_VERSION = 2
"""Written into every document, so a later format can tell the documents of this one.
Version 1 documents name only their own row's id; version 2 documents carry every field of
their row's context (`portal.services.contexts`)."""


class DocumentError(Exception):
    """A sealed document decrypted, but is not a document this portal wrote."""


class DocumentMismatch(DocumentError):
    """A document names another row, report, position, author or reply recipient than the row
    it was read from: `field` says which."""

    def __init__(self, field: str) -> None:
        super().__init__(f"the content belongs to another row ({field} differs)")
        self.field = field


def padded_size(length: int) -> int:
    """The bucket for `length` bytes: the next power of two, at least SMALLEST_BUCKET."""
    bucket = SMALLEST_BUCKET
    while bucket < length:
        bucket *= 2
    return bucket


def seal_document(document: Mapping[str, Any], recipients: Sequence[crypto.Recipient]) -> bytes:
    """`document` as JSON, padded to its bucket and encrypted to `recipients`."""
    serialised = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    padded = serialised.ljust(padded_size(len(serialised)), b" ")
    return crypto.encrypt(padded, recipients)


def unseal_document(
    ciphertext: bytes,
    identities: Sequence[crypto.Identity],
    *,
    bound_to: Mapping[str, str | int | None] | None = None,
) -> dict[str, Any]:
    """The document inside `ciphertext`. Raises crypto.AgeError if it does not decrypt,
    DocumentError if it is not a document, and DocumentMismatch if it names another row,
    report, position or author than `bound_to` says.

    Every field of `bound_to` is compared. A version 1 document, written before documents
    carried their context, is compared on the fields it has (its own row's id); from version 2
    a field missing from the document is a mismatch too.
    """
    plaintext = crypto.decrypt(ciphertext, identities)
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DocumentError("the decrypted content is not a JSON document") from None
    if not isinstance(document, dict):
        raise DocumentError("the decrypted content is not a JSON object")
    complete = document.get("version", 1) != 1
    for key, expected in (bound_to or {}).items():
        if (complete or key in document) and document.get(key, _MISSING) != expected:
            raise DocumentMismatch(key)
    return document


_MISSING = object()
