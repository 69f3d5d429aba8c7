"""Sealed documents: serialise, pad to a size bucket, encrypt as one age file. And the reverse.

Every report, message, note and file description is a small JSON document sealed here.
Each document names the row it belongs to (`report_id`, `message_id` ...), and readers say which
row they are reading (`bound_to`): age has no associated data, so without this a ciphertext
copied from one row into another would be read as the second row's content.
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
DOCUMENT_VERSION = 1
"""Written into every document, so a later format can tell the documents of this one."""


class DocumentError(Exception):
    """A sealed document decrypted, but is not a document this portal wrote."""


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
    bound_to: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The document inside `ciphertext`. Raises crypto.AgeError if it does not decrypt, and
    DocumentError if it is not a document or names another row than `bound_to` says."""
    plaintext = crypto.decrypt(ciphertext, identities)
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DocumentError("the decrypted content is not a JSON document") from None
    if not isinstance(document, dict):
        raise DocumentError("the decrypted content is not a JSON object")
    for key, expected in (bound_to or {}).items():
        if document.get(key) != expected:
            raise DocumentError(f"the content belongs to another row ({key} differs)")
    return document
