"""Row bindings: a MAC under a key only the review host has, over a row's context and content.

Whoever can write the database can also encrypt: the inspectorate's recipient is public, so a
database writer can seal a document of their choosing, or move a genuine one to another row.
The review host alone can make a binding, so a row it has bound cannot be changed, moved or
replaced without its binding failing (DESIGN decision 10).

A binding is two MACs (HMAC-SHA256 under the review host's binding key, HKDF-derived from the
review-host key with a label of its own), each over a canonical, versioned encoding:

- the *context* MAC covers the table, the row's id and the clear fields that say where the row
  belongs and who wrote it (its report, position, author, message, or a report's reply
  recipient);
- the *content* MAC covers the table, the row's id and SHA-256 of its age file's payload.

Two MACs so a failure says what changed (moved or relabelled, or content replaced). The payload
is what follows the age header: re-keying (`portal keys rekey`) rewrites the header only and
copies the payload, so bindings survive it; a header cannot be changed to open differently
without the file key, which a database writer does not have.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from portal.crypto.errors import HeaderError
from portal.crypto.format import read_header
from portal.custody.host_key import HostKey

BINDING_VERSION = 1
"""The first byte of every binding, and part of every encoding it MACs."""
_PURPOSE = "row binding"
_ENCODING_LABEL = b"portal/row-binding/v1"
_MAC_SIZE = 32
BINDING_SIZE = 1 + 2 * _MAC_SIZE

ContextValue = str | int | None


@dataclass(frozen=True)
class BindingCheck:
    """Which parts of a stored binding still match the row."""

    context_matches: bool
    content_matches: bool

    @property
    def ok(self) -> bool:
        return self.context_matches and self.content_matches


@dataclass(frozen=True)
class BindingKey:
    """The review host's key for row bindings. Handle as secret."""

    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return "<BindingKey>"

    def bind(
        self, table: str, row_id: str, context: Mapping[str, ContextValue], ciphertext: bytes
    ) -> bytes:
        """The binding of the row `row_id` of `table`, with `context` and `ciphertext`."""
        return (
            bytes([BINDING_VERSION])
            + self._mac(_encode("context", table, row_id, context))
            + self._mac(_content_encoding(table, row_id, ciphertext))
        )

    def check(
        self,
        table: str,
        row_id: str,
        context: Mapping[str, ContextValue],
        ciphertext: bytes,
        binding: bytes,
    ) -> BindingCheck:
        """Whether `binding` (as stored) still matches the row's context and ciphertext. A
        binding of another version or length matches nothing."""
        binding = bytes(binding)
        if len(binding) != BINDING_SIZE or binding[0] != BINDING_VERSION:
            return BindingCheck(context_matches=False, content_matches=False)
        context_mac, content_mac = binding[1 : 1 + _MAC_SIZE], binding[1 + _MAC_SIZE :]
        return BindingCheck(
            context_matches=hmac.compare_digest(
                context_mac, self._mac(_encode("context", table, row_id, context))
            ),
            content_matches=hmac.compare_digest(
                content_mac, self._mac(_content_encoding(table, row_id, ciphertext))
            ),
        )

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self.secret, message, hashlib.sha256).digest()


def binding_key(host_key: HostKey) -> BindingKey:
    """The binding key of this review host: HKDF-SHA256 of the review-host key, own label."""
    return BindingKey(host_key.subkey(_PURPOSE))


def payload_sha256(ciphertext: bytes) -> bytes:
    """SHA-256 of an age file's payload (all that follows its header), which re-keying keeps.
    A value that is not an age file is hashed whole, under another prefix: it matches nothing
    a genuine file was bound with."""
    source = io.BytesIO(ciphertext)
    try:
        read_header(source)
    except HeaderError:
        return hashlib.sha256(b"not an age file\n" + ciphertext).digest()
    return hashlib.sha256(source.read()).digest()


def _content_encoding(table: str, row_id: str, ciphertext: bytes) -> bytes:
    return _encode("content", table, row_id, {"payload_sha256": payload_sha256(ciphertext).hex()})


def _encode(part: str, table: str, row_id: str, fields: Mapping[str, ContextValue]) -> bytes:
    """A canonical encoding: label, part, table, row id, then each field by name in sorted
    order; every item length-prefixed, and the type of each value (absent, integer, text)
    marked, so no two different inputs encode alike."""
    items = [_ENCODING_LABEL, part.encode(), table.encode(), row_id.encode()]
    for name in sorted(fields):
        items.append(name.encode())
        value = fields[name]
        if value is None:
            items.append(b"n")
        elif isinstance(value, int):
            items.append(b"i" + str(value).encode())
        else:
            items.append(b"s" + value.encode("utf-8"))
    return b"".join(len(item).to_bytes(4, "big") + item for item in items)
