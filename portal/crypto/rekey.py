"""Re-keying: moving an age file to new recipients by rewriting its header alone.

The payload key is derived from the file key and the payload's nonce only (HKDF), never from a
recipient. So a file moves from one recipient to another by unwrapping its file key with the old
identity, wrapping the same file key for the new recipients, and writing a new header; the payload
(nonce and chunks) is copied byte for byte and never decrypted. That is what lets `portal keys
rekey` move every stored ciphertext off a retiring key epoch at the speed of a file copy, without
ever holding a plaintext (DESIGN decision 3, "Re-keying is a header rewrite").

Armored input is refused (HeaderError): the portal stores binary files, and a re-key is meant to
change the header and nothing else, not the file's encoding as well.

The payload is not authenticated here (that would mean decrypting it): a corrupt or truncated
payload is carried over as it is, and decryption refuses the new file as it would have the old.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import BinaryIO

from portal.crypto import pq, scrypt, x25519
from portal.crypto.age import (
    binary_reader,
    check_recipient_kinds,
    check_recipients,
    check_scrypt_alone,
    verify_header_mac,
)
from portal.crypto.errors import HeaderError
from portal.crypto.format import (
    Identity,
    ParsedHeader,
    Recipient,
    RecipientKind,
    Stanza,
    read_header,
    write_header,
)
from portal.crypto.stream import CHUNK_SIZE, Sink

# How much of the payload is held at once while it is copied: one chunk's worth, so memory stays
# flat whatever the file's size.
COPY_SIZE = CHUNK_SIZE

# The kind of recipient each known stanza type stands for, so that the stanzas a re-key keeps are
# held to the same mixing rule as new recipients (check_recipients). ssh-ed25519 and ssh-rsa are
# the spec's other classic types, which the portal does not make but may find in a file. Any other
# type (a plugin's, or the random "grease" stanzas some implementations add) is of no known kind
# and constrains nothing.
STANZA_KINDS: dict[str, RecipientKind] = {
    pq.STANZA_TYPE: "postquantum",
    x25519.STANZA_TYPE: "classic",
    "ssh-ed25519": "classic",
    "ssh-rsa": "classic",
    scrypt.STANZA_TYPE: "passphrase",
}


def rekey(ciphertext: bytes, old: Sequence[Identity], new: Sequence[Recipient]) -> bytes | None:
    """`ciphertext` (a binary age file) with the stanzas `old` opens replaced by stanzas for `new`.

    Every other stanza is kept verbatim and in its place, and the payload is copied unchanged.
    Returns None when no stanza opens with `old` (the file was already moved, or was never on
    that key), so a re-key job can be run again, or resumed, without harm. Raises HeaderError
    for a malformed or armored file, MacMismatch for a header changed since it was written, and
    RecipientMixError if `new` cannot share the file with the stanzas it keeps.
    """
    rekeyed = io.BytesIO()
    if not rekey_stream(io.BytesIO(ciphertext), rekeyed, old, new):
        return None
    return rekeyed.getvalue()


def rekey_stream(
    source: BinaryIO, destination: Sink, old: Sequence[Identity], new: Sequence[Recipient]
) -> bool:
    """`rekey` from `source` into `destination`, for a file of any size, with flat memory.

    The new header is written first, then the payload is copied 64 KiB at a time. Returns False,
    having written nothing, when no stanza opens with `old`. Every check is made before the first
    byte is written, so an error also leaves `destination` untouched; only a failure to read the
    payload part way leaves partial output, which the caller should discard.
    """
    check_recipients(new)
    reader = binary_reader(source, armor_allowed=False)
    header = _rewrite_header(read_header(reader), old, new)
    if header is None:
        return False
    # The header goes out with the start of the payload, so that every later write begins on a
    # 64 KiB boundary of the destination: with unaligned writes a re-key measured 0.75-0.8x the
    # speed of a plain copy of the file, and now matches it (benchmarks/README.md).
    destination.write(header + reader.read(-len(header) % COPY_SIZE))
    while data := reader.read(COPY_SIZE):
        destination.write(data)
    return True


def _rewrite_header(
    header: ParsedHeader, old: Sequence[Identity], new: Sequence[Recipient]
) -> bytes | None:
    """The new header for a re-key, or None if no stanza of `header` opens with `old`.

    The old MAC is checked with the file key before anything is rewritten: the new MAC is made
    with the same file key, so without that check a tampered header (say, an attacker's stanza
    added beside the others) would come out of the re-key with a valid MAC, laundered. The MAC
    must be recomputed because it covers every stanza, and some have changed.

    The other stanzas are kept verbatim because they are other people's access to the file (a
    submitter's reply key beside the inspectorate's): nothing here could re-create them, as it
    holds none of their keys. Parsing is canonical, so writing a parsed stanza back gives exactly
    the bytes it was read from. The new stanzas take the place of the first one replaced.
    """
    check_scrypt_alone(header.stanzas)
    opened = _stanzas_opened_by(header.stanzas, old)
    if not opened:
        return None
    file_keys = set(opened.values())
    if len(file_keys) != 1:
        raise HeaderError("the stanzas the old identities open hold different file keys")
    [file_key] = file_keys
    verify_header_mac(header, file_key)
    kept = [stanza for index, stanza in enumerate(header.stanzas) if index not in opened]
    check_recipient_kinds(
        [*(STANZA_KINDS[s.type] for s in kept if s.type in STANZA_KINDS), *(r.kind for r in new)]
    )
    wrapped = [stanza for recipient in new for stanza in recipient.wrap(file_key)]
    first_replaced = min(opened)
    stanzas: list[Stanza] = []
    for index, stanza in enumerate(header.stanzas):
        if index == first_replaced:
            stanzas += wrapped
        elif index not in opened:
            stanzas.append(stanza)
    return write_header(stanzas, file_key)


def _stanzas_opened_by(
    stanzas: Sequence[Stanza], identities: Sequence[Identity]
) -> dict[int, bytes]:
    """The position of each stanza one of `identities` opens, with the file key it holds.

    Identities report only a file key, not which stanza gave it, so each stanza is offered on its
    own. Every stanza is tried, not just up to the first match, because all of them must go: a
    file left with any stanza the old key opens would still be readable with that key.
    """
    opened = {}
    for index, stanza in enumerate(stanzas):
        for identity in identities:
            file_key = identity.unwrap([stanza])
            if file_key is not None:
                opened[index] = file_key
                break
    return opened
