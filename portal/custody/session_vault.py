"""A signed-in reviewer's keyring between requests, sealed under their cookie's key and the
review-host key together.

Each review session has a random 32-byte key that lives in the reviewer's cookie and nowhere
else; the keyring is stored in the session's row only as ChaCha20-Poly1305 ciphertext under a
key derived from that key and the review-host key. Neither a copy of the database, nor the
cookie, nor both without the review host's key open it, and deleting the row (signing out,
timing out) leaves the cookie's key nothing to open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from portal.crypto.format import hkdf_sha256
from portal.custody.host_key import HostKey
from portal.custody.keyrings import Keyring

SESSION_KEY_SIZE = 32
_NONCE_SIZE = 12
_VAULT_PURPOSE = "session-vault"
_VAULT_LABEL = b"portal/session-vault/v2"


def new_session_key() -> bytes:
    return os.urandom(SESSION_KEY_SIZE)


def seal_keyring(keyring: Keyring, key: bytes, row_id: bytes, host_key: HostKey) -> bytes:
    """`keyring` encrypted under `key` and the host key, bound to the session row `row_id`."""
    nonce = os.urandom(_NONCE_SIZE)
    # The row's id is bound in as associated data: a sealed keyring moved to another row fails.
    aead = ChaCha20Poly1305(_vault_key(key, host_key))
    return nonce + aead.encrypt(nonce, keyring.to_bytes(), row_id)


def open_keyring(sealed: bytes, key: bytes, row_id: bytes, host_key: HostKey) -> Keyring | None:
    """The keyring sealed in `sealed` for `row_id`, or None if the keys do not open it."""
    if len(key) != SESSION_KEY_SIZE:
        return None
    try:
        plaintext = ChaCha20Poly1305(_vault_key(key, host_key)).decrypt(
            sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:], row_id
        )
    except InvalidTag:
        return None
    return Keyring.from_bytes(plaintext)


def _vault_key(session_key: bytes, host_key: HostKey) -> bytes:
    return hkdf_sha256(session_key, host_key.subkey(_VAULT_PURPOSE), _VAULT_LABEL)
