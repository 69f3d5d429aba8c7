"""age v1 encryption (C2SP age specification), built on `cryptography`'s primitives only.

Every stored report, attachment, message and note is one age file made here. The API is small
on purpose; outside auditors' scripts can use it too:

    identity = generate_identity()            # post-quantum by default; "x25519" for classic
    ciphertext = encrypt(b"report", [identity.recipient()])
    assert decrypt(ciphertext, [identity]) == b"report"

`encrypt_stream` / `decrypt_stream` do the same between binary file objects with flat memory;
`EncryptingWriter` encrypts data pushed to it in pieces (an upload as it arrives).
`rekey` / `rekey_stream` move a file to new recipients by rewriting its header only, copying the
payload unchanged (a key epoch's retirement).
Every failure is an `AgeError`; its subclasses say what kind of failure it was.
"""

from portal.crypto.age import (
    EncryptingWriter,
    check_recipients,
    decrypt,
    decrypt_chunks,
    decrypt_stream,
    encrypt,
    encrypt_stream,
)
from portal.crypto.armor import armor
from portal.crypto.errors import (
    AgeError,
    ArmorError,
    HeaderError,
    KeyFormatError,
    MacMismatch,
    NoIdentityMatch,
    PayloadError,
    RecipientMixError,
)
from portal.crypto.format import Identity, Recipient, Stanza
from portal.crypto.keys import (
    generate_identity,
    parse_identities,
    parse_identity,
    parse_recipient,
    parse_recipients,
)
from portal.crypto.pq import HybridIdentity, HybridRecipient
from portal.crypto.rekey import rekey, rekey_stream
from portal.crypto.scrypt import ScryptIdentity, ScryptRecipient
from portal.crypto.x25519 import X25519Identity, X25519Recipient

__all__ = [
    "AgeError",
    "ArmorError",
    "EncryptingWriter",
    "HeaderError",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "KeyFormatError",
    "MacMismatch",
    "NoIdentityMatch",
    "PayloadError",
    "Recipient",
    "RecipientMixError",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "armor",
    "check_recipients",
    "decrypt",
    "decrypt_chunks",
    "decrypt_stream",
    "encrypt",
    "encrypt_stream",
    "generate_identity",
    "parse_identities",
    "parse_identity",
    "parse_recipient",
    "parse_recipients",
    "rekey",
    "rekey_stream",
]
