"""The portal's post-quantum age files interoperate with typage, an independent implementation.

The portal's default recipient type is the hybrid `mlkem768x25519` (`age1pq1...`). Debian's `age`
(1.1.1) has no post-quantum support, so the tests against it cannot show that these files follow
the spec rather than just agreeing with themselves. typage (the npm package `age-encryption`, by
the author of age) implements the hybrid type independently; here files and keys cross between
the two in both directions. typage is pinned in tests/node/package.json and package-lock.json,
installed by scripts/install-test-prerequisites, and driven through tests/node/age_tool.mjs.
Identities reach node on stdin only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal import crypto
from tests.support.components import unavailable

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
AGE_TOOL = NODE_DIR / "age_tool.mjs"
PACKAGE = "age-encryption"
TIMEOUT_SECONDS = 60
PQ_STANZA_TYPE = "mlkem768x25519"
CHUNK_SIZE = 64 * 1024
# Empty, one byte, exactly one full chunk, one byte into a second chunk, and 1 MiB (16 chunks).
PAYLOAD_SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1024 * 1024]


class TypageRefused(Exception):
    """age_tool.mjs exited with status 1: typage refused the input (its message is the text)."""


@dataclass(frozen=True)
class TypageKeyPair:
    identity: str
    recipient: str


@dataclass(frozen=True)
class Typage:
    """tests/node/age_tool.mjs, run with `node` for each operation."""

    node: str

    def run(self, *args: str, stdin: bytes = b"") -> bytes:
        result = subprocess.run(
            [self.node, str(AGE_TOOL), *args],
            input=stdin,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            # PATH only: nothing secret travels in the environment, and no NODE_OPTIONS interferes.
            env={"PATH": os.environ.get("PATH", "")},
        )
        message = result.stderr.decode(errors="replace").strip()
        if result.returncode == 1:
            raise TypageRefused(message)
        if result.returncode != 0:
            raise AssertionError(f"age_tool.mjs {args[0]} exited {result.returncode}: {message}")
        return result.stdout

    def keygen(self) -> TypageKeyPair:
        identity, recipient = self.run("keygen").decode().splitlines()
        return TypageKeyPair(identity=identity, recipient=recipient)

    def recipient_of(self, identity: str) -> str:
        return self.run("recipient", stdin=f"{identity}\n".encode()).decode().strip()

    def encrypt(self, plaintext: bytes, recipient: str) -> bytes:
        return self.run("encrypt", recipient, stdin=plaintext)

    def decrypt(self, ciphertext: bytes, identity: str) -> bytes:
        return self.run("decrypt", stdin=f"{identity}\n".encode() + ciphertext)


def _pinned_version() -> str:
    package_json = json.loads((NODE_DIR / "package.json").read_text())
    return package_json["dependencies"][PACKAGE]


@pytest.fixture(scope="module")
def typage() -> Typage:
    node = shutil.which("node")
    if node is None:
        unavailable("node (Node.js 20+) is not installed: cannot run typage")
    if not (NODE_DIR / "node_modules" / PACKAGE).is_dir():
        unavailable(f"{PACKAGE} is not installed in tests/node (run `npm ci` there)")
    tool = Typage(node)
    try:
        installed, node_version = tool.run("version").decode().split()
    except (TypageRefused, AssertionError, subprocess.TimeoutExpired) as error:
        unavailable(f"node {node} cannot run tests/node/age_tool.mjs: {error}")
    if installed != _pinned_version():
        unavailable(
            f"{PACKAGE} {installed} is installed in tests/node but {_pinned_version()} is pinned "
            f"(run `npm ci` there); node {node_version}"
        )
    return tool


@pytest.fixture(scope="module")
def typage_key_pair(typage: Typage) -> TypageKeyPair:
    """A key pair made by typage's own generator (generateHybridIdentity)."""
    return typage.keygen()


@pytest.fixture(scope="module")
def portal_identity() -> crypto.HybridIdentity:
    identity = crypto.generate_identity("pq")
    assert isinstance(identity, crypto.HybridIdentity)
    return identity


def _stanza_types(ciphertext: bytes) -> list[str]:
    """The types of the recipient stanzas in a binary age file's header."""
    header, separator, _ = ciphertext.partition(b"\n---")
    assert separator, "no header MAC line: not a binary age file"
    lines = header.split(b"\n")
    assert lines[0] == b"age-encryption.org/v1"
    return [line.split(b" ")[1].decode() for line in lines[1:] if line.startswith(b"-> ")]


def _payload_id(size: int) -> str:
    return f"{size}-bytes"


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_typage_decrypts_what_the_portal_encrypts_to_a_typage_recipient(
    typage: Typage, typage_key_pair: TypageKeyPair, size: int
) -> None:
    plaintext = os.urandom(size)
    ciphertext = crypto.encrypt(plaintext, [crypto.parse_recipient(typage_key_pair.recipient)])

    assert _stanza_types(ciphertext) == [PQ_STANZA_TYPE]
    assert typage.decrypt(ciphertext, typage_key_pair.identity) == plaintext


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_portal_decrypts_what_typage_encrypts_to_a_portal_recipient(
    typage: Typage, portal_identity: crypto.HybridIdentity, size: int
) -> None:
    plaintext = os.urandom(size)
    ciphertext = typage.encrypt(plaintext, str(portal_identity.recipient()))

    assert _stanza_types(ciphertext) == [PQ_STANZA_TYPE]
    assert crypto.decrypt(ciphertext, [portal_identity]) == plaintext


def test_typage_derives_the_same_recipient_from_a_portal_identity(typage: Typage) -> None:
    for _ in range(3):
        identity = crypto.generate_identity("pq")
        assert str(identity).startswith("AGE-SECRET-KEY-PQ-1")
        assert str(identity.recipient()).startswith("age1pq1")

        assert typage.recipient_of(str(identity)) == str(identity.recipient())


def test_portal_reads_a_typage_identity_and_derives_its_recipient(
    typage: Typage, typage_key_pair: TypageKeyPair
) -> None:
    identity = crypto.parse_identity(typage_key_pair.identity)

    assert isinstance(identity, crypto.HybridIdentity)
    assert str(identity) == typage_key_pair.identity
    assert str(identity.recipient()) == typage_key_pair.recipient
    assert str(crypto.parse_recipient(typage_key_pair.recipient)) == typage_key_pair.recipient


def test_portal_raises_no_identity_match_for_a_typage_file_to_another_key(
    typage: Typage, typage_key_pair: TypageKeyPair, portal_identity: crypto.HybridIdentity
) -> None:
    ciphertext = typage.encrypt(b"for the typage key only", typage_key_pair.recipient)
    assert _stanza_types(ciphertext) == [PQ_STANZA_TYPE]

    with pytest.raises(crypto.NoIdentityMatch):
        crypto.decrypt(ciphertext, [portal_identity])


def test_typage_refuses_a_portal_file_to_another_key(
    typage: Typage, typage_key_pair: TypageKeyPair, portal_identity: crypto.HybridIdentity
) -> None:
    ciphertext = crypto.encrypt(b"for the portal key only", [portal_identity.recipient()])

    with pytest.raises(TypageRefused, match="no identity matched"):
        typage.decrypt(ciphertext, typage_key_pair.identity)


# Re-keyed post-quantum files: the portal rewrites the header, typage reads the result.


def _payload(ciphertext: bytes) -> bytes:
    """Everything after a binary age file's header: the nonce and the chunks."""
    _, separator, after_footer = ciphertext.partition(b"\n---")
    assert separator, "no header MAC line: not a binary age file"
    return after_footer.partition(b"\n")[2]


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_typage_decrypts_a_portal_file_rekeyed_to_a_typage_recipient(
    typage: Typage,
    typage_key_pair: TypageKeyPair,
    portal_identity: crypto.HybridIdentity,
    size: int,
) -> None:
    # Given a file the portal encrypted to its own post-quantum key
    plaintext = os.urandom(size)
    original = crypto.encrypt(plaintext, [portal_identity.recipient()])

    # When the portal re-keys it to typage's recipient
    rekeyed = crypto.rekey(
        original, [portal_identity], [crypto.parse_recipient(typage_key_pair.recipient)]
    )
    assert rekeyed is not None

    # Then typage decrypts it with its identity, and refuses the portal's; the payload is the
    # original's, byte for byte
    assert _stanza_types(rekeyed) == [PQ_STANZA_TYPE]
    assert typage.decrypt(rekeyed, typage_key_pair.identity) == plaintext
    with pytest.raises(TypageRefused, match="no identity matched"):
        typage.decrypt(rekeyed, str(portal_identity))
    assert _payload(rekeyed) == _payload(original)


def test_typage_decrypts_its_own_file_after_the_portal_rekeys_it(
    typage: Typage, typage_key_pair: TypageKeyPair, portal_identity: crypto.HybridIdentity
) -> None:
    # Given a two-chunk file typage encrypted to the portal's recipient
    plaintext = os.urandom(CHUNK_SIZE + 1)
    original = typage.encrypt(plaintext, str(portal_identity.recipient()))

    # When the portal re-keys it to typage's own recipient
    rekeyed = crypto.rekey(
        original, [portal_identity], [crypto.parse_recipient(typage_key_pair.recipient)]
    )
    assert rekeyed is not None

    # Then typage decrypts it, and its payload is the one typage wrote
    assert typage.decrypt(rekeyed, typage_key_pair.identity) == plaintext
    assert _payload(rekeyed) == _payload(original)
