"""The portal's X25519 and passphrase age files interoperate with Debian's `age` command.

Auditors, reviewers and the recovery procedure handle the portal's files with the reference
implementation (Go `age`, packaged by Debian as 1.1.1), so files and keys must cross between the
two in both directions: X25519 recipients and identities from either side, binary and armored
files, and scrypt (passphrase) files. Debian's `age` has no post-quantum support; that type is
covered against typage in test_interop_typage.py.

Identities never touch a regular file: they reach `age` through a pipe (`-i /dev/fd/N`) and
`age-keygen` through stdin or stdout. `age` reads passphrases from its controlling terminal only,
so the passphrase tests run it on a pseudo-terminal with no other way in (stdin is /dev/null),
answer its prompts once it has turned echo off, and check the passphrase never shows on screen.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import io
import os
import re
import select
import shutil
import subprocess
import termios
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal import crypto
from tests.support.components import unavailable

TIMEOUT_SECONDS = 60
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
NONCE_SIZE = 16
# Empty, one byte, exactly one full chunk, one byte into a second chunk, and 5 MiB (80 chunks).
PAYLOAD_SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * 1024 * 1024]
# Low, to keep the portal-to-age passphrase tests fast; `age -p` itself always uses 18.
PORTAL_WORK_FACTOR = 10
AGE_WORK_FACTOR = "18"
# Non-ASCII on purpose: both sides must take the passphrase as the same UTF-8 bytes.
PASSPHRASE = "Grüße vom Prüfdienst, 7 staples"
WRONG_PASSPHRASE = "Grüße vom Prüfdienst, 8 staples"
# Both of age's prompts: "Enter passphrase...: " and "Confirm passphrase: ".
PROMPT = re.compile(rb"[A-Z][a-z]+ passphrase[^\r\n]*: ")


class AgeRefused(Exception):
    """`age` exited with status 1: it refused the input (its message is the text)."""


@dataclass(frozen=True)
class KeyPair:
    identity: str
    recipient: str


@dataclass(frozen=True)
class TerminalSession:
    """What `age` showed on its terminal: the whole screen and the prompts on it."""

    screen: bytes

    @property
    def prompts(self) -> list[str]:
        return [prompt.decode() for prompt in PROMPT.findall(self.screen)]


@contextmanager
def _identity_pipe(identity: str) -> Iterator[int]:
    """The read end of a pipe holding `identity` (a key file's text), for `-i /dev/fd/N`."""
    read_end, write_end = os.pipe()
    try:
        # A key is far smaller than a pipe's buffer: the write cannot block.
        os.write(write_end, f"{identity}\n".encode())
        os.close(write_end)
        yield read_end
    finally:
        os.close(read_end)


def _take_terminal(terminal: int) -> None:
    """In the child, after setsid: make `terminal` its controlling terminal (its /dev/tty)."""
    fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)


def _wait_for_echo_off(master: int, deadline: float) -> None:
    """Wait until the terminal stops echoing: only then is typing the passphrase invisible."""
    # On Linux, tcgetattr on the master side reports the slave side's settings.
    while termios.tcgetattr(master)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            raise AssertionError("age prompted but never turned the terminal's echo off")
        time.sleep(0.005)


def _answer_prompts(master: int, answers: Sequence[str], deadline: float) -> bytes:
    """Type one answer per prompt until every copy of the slave side is closed (age exited)."""
    screen = b""
    answered = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"age still runs after {TIMEOUT_SECONDS} s; screen: {screen!r}")
        ready, _, _ = select.select([master], [], [], remaining)
        if not ready:
            continue
        try:
            data = os.read(master, 4096)
        except OSError as error:
            if error.errno == errno.EIO:  # Linux: no process holds the terminal any more.
                break
            raise
        if not data:
            break
        screen += data
        while answered < len(PROMPT.findall(screen)):
            if answered == len(answers):
                raise AssertionError(f"age asked more often than expected; screen: {screen!r}")
            _wait_for_echo_off(master, deadline)
            os.write(master, f"{answers[answered]}\n".encode())
            answered += 1
    if answered != len(answers):
        raise AssertionError(f"age asked {answered} of {len(answers)} times; screen: {screen!r}")
    return screen


def _check_exit(returncode: int, stderr: bytes, args: Sequence[str]) -> None:
    message = stderr.decode(errors="replace").strip()
    if returncode == 1:
        raise AgeRefused(message)
    if returncode != 0:
        raise AssertionError(f"age {' '.join(args)} exited {returncode}: {message}")


@dataclass(frozen=True)
class DebianAge:
    """Debian's `age` and `age-keygen`, run once per operation."""

    age: str
    age_keygen: str

    def run(self, *args: str, stdin: bytes = b"", pass_fds: Sequence[int] = ()) -> bytes:
        result = subprocess.run(
            [self.age, *args],
            input=stdin,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
            pass_fds=pass_fds,
            # PATH only: nothing secret travels in the environment.
            env={"PATH": os.environ.get("PATH", "")},
        )
        _check_exit(result.returncode, result.stderr, args)
        return result.stdout

    def run_on_terminal(self, *args: str, answers: Sequence[str]) -> TerminalSession:
        """Run age with a pseudo-terminal as its only terminal, typing `answers` at its prompts."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        master, slave = os.openpty()
        try:
            try:
                process = subprocess.Popen(
                    [self.age, *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(slave,),
                    start_new_session=True,
                    preexec_fn=lambda: _take_terminal(slave),  # noqa: PLW1509 (no threads here)
                    env={"PATH": os.environ.get("PATH", "")},
                )
            finally:
                os.close(slave)
            try:
                screen = _answer_prompts(master, answers, deadline)
                stdout, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        finally:
            os.close(master)
        assert stdout == b"", "age wrote to stdout although -o names the output"
        _check_exit(process.returncode, stderr, args)
        return TerminalSession(screen)

    def keygen(self) -> str:
        """A new identity file's text, exactly as age-keygen prints it."""
        result = subprocess.run(
            [self.age_keygen],
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
            env={"PATH": os.environ.get("PATH", "")},
        )
        return result.stdout.decode()

    def recipient_of(self, identity: str) -> str:
        result = subprocess.run(
            [self.age_keygen, "-y"],
            input=f"{identity}\n".encode(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
            env={"PATH": os.environ.get("PATH", "")},
        )
        return result.stdout.decode().strip()

    def encrypt(self, plaintext: bytes, recipient: str, *, armor: bool = False) -> bytes:
        return self.run("-r", recipient, *(["-a"] if armor else []), stdin=plaintext)

    def decrypt(self, ciphertext: bytes, identity: str) -> bytes:
        with _identity_pipe(identity) as fd:
            return self.run("-d", "-i", f"/dev/fd/{fd}", stdin=ciphertext, pass_fds=(fd,))

    def encrypt_with_passphrase(
        self, source: Path, destination: Path, passphrase: str
    ) -> TerminalSession:
        return self.run_on_terminal(
            "-p", "-o", str(destination), str(source), answers=[passphrase, passphrase]
        )

    def decrypt_with_passphrase(
        self, source: Path, destination: Path, passphrase: str
    ) -> TerminalSession:
        return self.run_on_terminal("-d", "-o", str(destination), str(source), answers=[passphrase])


@pytest.fixture(scope="module")
def debian_age() -> DebianAge:
    age, age_keygen = shutil.which("age"), shutil.which("age-keygen")
    if age is None or age_keygen is None:
        unavailable("Debian's age is not installed (apt-get install age)")
    tool = DebianAge(age, age_keygen)
    try:
        version = tool.run("--version").decode().strip()
    except (AgeRefused, AssertionError, OSError, subprocess.TimeoutExpired) as error:
        unavailable(f"{age} cannot run: {error}")
    if not version.startswith("1."):
        unavailable(f"{age} reports version {version!r}, not an age 1.x release")
    return tool


@pytest.fixture(scope="module")
def age_key_pair(debian_age: DebianAge) -> KeyPair:
    """A key pair made by age-keygen; the recipient is the one age-keygen derives itself."""
    key_file = debian_age.keygen()
    [identity] = [line for line in key_file.splitlines() if line.startswith("AGE-SECRET-KEY-1")]
    return KeyPair(identity=identity, recipient=debian_age.recipient_of(identity))


@pytest.fixture(scope="module")
def portal_identity() -> crypto.X25519Identity:
    identity = crypto.generate_identity("x25519")
    assert isinstance(identity, crypto.X25519Identity)
    return identity


def _header_and_payload(ciphertext: bytes) -> tuple[list[list[str]], bytes]:
    """A binary age file's stanza lines (type and arguments) and everything after the MAC line."""
    header, separator, rest = ciphertext.partition(b"\n---")
    assert separator, "no header MAC line: not a binary age file"
    lines = header.split(b"\n")
    assert lines[0] == b"age-encryption.org/v1"
    stanzas = [line.decode().split(" ")[1:] for line in lines[1:] if line.startswith(b"-> ")]
    _, newline, payload = rest.partition(b"\n")
    assert newline, "header MAC line does not end"
    return stanzas, payload


def _assert_encrypts(ciphertext: bytes, plaintext: bytes) -> list[list[str]]:
    """Check `ciphertext` is an age file whose payload fits `plaintext` but does not show it.

    Returns the stanza lines for the caller to check.
    """
    stanzas, payload = _header_and_payload(ciphertext)
    chunks = max(1, -(-len(plaintext) // CHUNK_SIZE))
    assert len(payload) == NONCE_SIZE + len(plaintext) + chunks * TAG_SIZE
    if len(plaintext) >= 16:
        assert plaintext[:16] not in ciphertext
        assert plaintext[-16:] not in ciphertext
    return stanzas


def _dearmor(armored: bytes) -> bytes:
    lines = armored.decode("ascii").splitlines()
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-1] == "-----END AGE ENCRYPTED FILE-----"
    return base64.b64decode("".join(lines[1:-1]), validate=True)


def _read_age_output(path: Path, expected_size: int) -> bytes:
    """The file age wrote with -o, which age 1.1.1 creates on its first write.

    So an empty plaintext leaves no file at all (and would leave an existing file unchanged).
    """
    if expected_size == 0 and not path.exists():
        return b""
    return path.read_bytes()


def _payload_id(size: int) -> str:
    return f"{size}-bytes"


# X25519: the portal's keys and files in age.


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_age_decrypts_what_the_portal_encrypts_to_a_portal_x25519_recipient(
    debian_age: DebianAge, portal_identity: crypto.X25519Identity, size: int
) -> None:
    # Given a payload and the portal's own X25519 key pair
    plaintext = os.urandom(size)

    # When the portal encrypts to the recipient
    ciphertext = crypto.encrypt(plaintext, [portal_identity.recipient()])

    # Then the file has one X25519 stanza, and age decrypts it with the portal's identity
    assert [stanza[0] for stanza in _assert_encrypts(ciphertext, plaintext)] == ["X25519"]
    assert debian_age.decrypt(ciphertext, str(portal_identity)) == plaintext


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_portal_decrypts_what_age_encrypts_to_a_portal_x25519_recipient(
    debian_age: DebianAge, portal_identity: crypto.X25519Identity, size: int
) -> None:
    # Given a payload and the portal's recipient string
    plaintext = os.urandom(size)
    recipient = str(portal_identity.recipient())

    # When age encrypts to that string
    ciphertext = debian_age.encrypt(plaintext, recipient)

    # Then the portal decrypts it with its identity
    assert [stanza[0] for stanza in _assert_encrypts(ciphertext, plaintext)] == ["X25519"]
    assert crypto.decrypt(ciphertext, [portal_identity]) == plaintext


def test_age_keygen_derives_the_portals_recipient_from_a_portal_identity(
    debian_age: DebianAge,
) -> None:
    for _ in range(3):
        # Given an X25519 identity the portal generated
        identity = crypto.generate_identity("x25519")
        assert str(identity).startswith("AGE-SECRET-KEY-1")

        # When age-keygen derives its recipient
        recipient = debian_age.recipient_of(str(identity))

        # Then it is the portal's recipient string
        assert recipient.startswith("age1")
        assert recipient == str(identity.recipient())


# X25519: age-keygen's keys and age's files in the portal.


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_portal_decrypts_what_age_encrypts_to_an_age_keygen_recipient(
    debian_age: DebianAge, age_key_pair: KeyPair, size: int
) -> None:
    # Given a payload, and an identity made by age-keygen that the portal parses
    plaintext = os.urandom(size)
    identity = crypto.parse_identity(age_key_pair.identity)

    # When age encrypts to age-keygen's recipient
    ciphertext = debian_age.encrypt(plaintext, age_key_pair.recipient)

    # Then the portal decrypts it with the parsed identity
    assert [stanza[0] for stanza in _assert_encrypts(ciphertext, plaintext)] == ["X25519"]
    assert crypto.decrypt(ciphertext, [identity]) == plaintext


def test_portal_reads_an_age_keygen_file_and_derives_its_recipient(
    debian_age: DebianAge,
) -> None:
    # Given a whole key file as age-keygen prints it (comments included)
    key_file = debian_age.keygen()
    [identity_line] = [line for line in key_file.splitlines() if line.startswith("AGE-SECRET")]
    [comment] = [line for line in key_file.splitlines() if line.startswith("# public key: ")]

    # When the portal parses the file, and age-keygen -y derives the recipient
    [identity] = crypto.parse_identities(key_file)
    recipient = debian_age.recipient_of(identity_line)

    # Then all agree on both strings
    assert isinstance(identity, crypto.X25519Identity)
    assert str(identity) == identity_line
    assert str(identity.recipient()) == recipient == comment.removeprefix("# public key: ")
    assert str(crypto.parse_recipient(recipient)) == recipient


# Armor.


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_portal_decrypts_age_armor_and_armors_the_same_way(
    debian_age: DebianAge, portal_identity: crypto.X25519Identity, size: int
) -> None:
    # Given a payload
    plaintext = os.urandom(size)

    # When age encrypts it with -a
    armored = debian_age.encrypt(plaintext, str(portal_identity.recipient()), armor=True)

    # Then the portal decrypts the armor, and armoring the binary file inside gives the same text
    binary = _dearmor(armored)
    _assert_encrypts(binary, plaintext)
    assert crypto.decrypt(armored, [portal_identity]) == plaintext
    assert crypto.armor(binary) == armored


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_age_decrypts_the_portals_armor(
    debian_age: DebianAge, age_key_pair: KeyPair, size: int
) -> None:
    # Given a payload the portal encrypts to age-keygen's recipient
    plaintext = os.urandom(size)
    binary = crypto.encrypt(plaintext, [crypto.parse_recipient(age_key_pair.recipient)])

    # When the portal armors the file
    armored = crypto.armor(binary)

    # Then it is plain PEM-style text and age decrypts it
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert _dearmor(armored) == binary
    assert debian_age.decrypt(armored, age_key_pair.identity) == plaintext


# X25519: wrong keys are refused on both sides.


def test_age_refuses_a_portal_file_to_another_key(
    debian_age: DebianAge, age_key_pair: KeyPair, portal_identity: crypto.X25519Identity
) -> None:
    # Given a file the portal encrypted to its own key
    plaintext = b"for the portal key only, " * 100
    ciphertext = crypto.encrypt(plaintext, [portal_identity.recipient()])
    assert b"portal key" not in ciphertext

    # When age tries age-keygen's key, then it refuses (exit status 1)
    with pytest.raises(AgeRefused, match="no identity matched"):
        debian_age.decrypt(ciphertext, age_key_pair.identity)


def test_portal_raises_no_identity_match_for_an_age_file_to_another_key(
    debian_age: DebianAge, age_key_pair: KeyPair, portal_identity: crypto.X25519Identity
) -> None:
    # Given a file age encrypted to age-keygen's key
    plaintext = b"for the age-keygen key only, " * 100
    ciphertext = debian_age.encrypt(plaintext, age_key_pair.recipient)
    assert b"age-keygen key" not in ciphertext

    # When the portal tries its own key, then no identity matches
    with pytest.raises(crypto.NoIdentityMatch):
        crypto.decrypt(ciphertext, [portal_identity])


# Re-keyed X25519 files: the portal rewrites the header, age reads the result.


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_age_decrypts_a_portal_file_rekeyed_to_an_age_keygen_recipient(
    debian_age: DebianAge, age_key_pair: KeyPair, portal_identity: crypto.X25519Identity, size: int
) -> None:
    # Given a file the portal encrypted to its own key
    plaintext = os.urandom(size)
    original = crypto.encrypt(plaintext, [portal_identity.recipient()])

    # When the portal re-keys it to age-keygen's recipient
    rekeyed = crypto.rekey(
        original, [portal_identity], [crypto.parse_recipient(age_key_pair.recipient)]
    )
    assert rekeyed is not None

    # Then age decrypts it with age-keygen's identity, and refuses the portal's; the payload is
    # the original's, byte for byte
    assert debian_age.decrypt(rekeyed, age_key_pair.identity) == plaintext
    with pytest.raises(AgeRefused, match="no identity matched"):
        debian_age.decrypt(rekeyed, str(portal_identity))
    assert _header_and_payload(rekeyed)[1] == _header_and_payload(original)[1]


def test_age_decrypts_its_own_file_after_the_portal_rekeys_it(
    debian_age: DebianAge, age_key_pair: KeyPair, portal_identity: crypto.X25519Identity
) -> None:
    # Given a two-chunk file age encrypted to the portal's recipient
    plaintext = os.urandom(CHUNK_SIZE + 1)
    original = debian_age.encrypt(plaintext, str(portal_identity.recipient()))

    # When the portal re-keys it to age-keygen's recipient, streaming
    rekeyed = io.BytesIO()
    assert crypto.rekey_stream(
        io.BytesIO(original),
        rekeyed,
        [portal_identity],
        [crypto.parse_recipient(age_key_pair.recipient)],
    )

    # Then age decrypts it, and its payload is the one age wrote
    assert debian_age.decrypt(rekeyed.getvalue(), age_key_pair.identity) == plaintext
    assert _header_and_payload(rekeyed.getvalue())[1] == _header_and_payload(original)[1]


# Passphrases (scrypt), with age on a pseudo-terminal.


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_age_decrypts_what_the_portal_encrypts_with_a_passphrase(
    debian_age: DebianAge, tmp_path: Path, size: int
) -> None:
    # Given a file the portal encrypted under a passphrase, at a low work factor
    plaintext = os.urandom(size)
    ciphertext = crypto.encrypt(
        plaintext, [crypto.ScryptRecipient(PASSPHRASE, work_factor=PORTAL_WORK_FACTOR)]
    )
    [stanza] = _assert_encrypts(ciphertext, plaintext)
    assert stanza[0] == "scrypt"
    assert stanza[2] == str(PORTAL_WORK_FACTOR)
    (tmp_path / "in.age").write_bytes(ciphertext)

    # When age decrypts it and the passphrase is typed at its prompt
    session = debian_age.decrypt_with_passphrase(
        tmp_path / "in.age", tmp_path / "out.bin", PASSPHRASE
    )

    # Then age asked once, the passphrase never showed, and the output is the payload
    assert session.prompts == ["Enter passphrase: "]
    assert PASSPHRASE.encode() not in session.screen
    assert _read_age_output(tmp_path / "out.bin", size) == plaintext


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=_payload_id)
def test_portal_decrypts_what_age_encrypts_with_a_passphrase(
    debian_age: DebianAge, tmp_path: Path, size: int
) -> None:
    # Given a payload in a file
    plaintext = os.urandom(size)
    (tmp_path / "in.bin").write_bytes(plaintext)

    # When age -p encrypts it and the passphrase is typed twice
    session = debian_age.encrypt_with_passphrase(
        tmp_path / "in.bin", tmp_path / "out.age", PASSPHRASE
    )

    # Then age asked to enter and to confirm without showing it, wrote one scrypt stanza at its
    # own work factor, and the portal decrypts the file with the passphrase
    assert [prompt.split()[0] for prompt in session.prompts] == ["Enter", "Confirm"]
    assert PASSPHRASE.encode() not in session.screen
    ciphertext = (tmp_path / "out.age").read_bytes()
    [stanza] = _assert_encrypts(ciphertext, plaintext)
    assert stanza[0] == "scrypt"
    assert stanza[2] == AGE_WORK_FACTOR
    assert crypto.decrypt(ciphertext, [crypto.ScryptIdentity(PASSPHRASE)]) == plaintext


def test_portal_raises_no_identity_match_for_a_wrong_passphrase_on_an_age_file(
    debian_age: DebianAge, tmp_path: Path
) -> None:
    # Given a file age -p encrypted under one passphrase
    (tmp_path / "in.bin").write_bytes(b"passphrase-protected")
    debian_age.encrypt_with_passphrase(tmp_path / "in.bin", tmp_path / "out.age", PASSPHRASE)
    ciphertext = (tmp_path / "out.age").read_bytes()

    # When the portal tries another passphrase, then no identity matches
    with pytest.raises(crypto.NoIdentityMatch):
        crypto.decrypt(ciphertext, [crypto.ScryptIdentity(WRONG_PASSPHRASE)])


def test_age_refuses_a_wrong_passphrase_on_a_portal_file(
    debian_age: DebianAge, tmp_path: Path
) -> None:
    # Given a file the portal encrypted under one passphrase
    ciphertext = crypto.encrypt(
        b"passphrase-protected",
        [crypto.ScryptRecipient(PASSPHRASE, work_factor=PORTAL_WORK_FACTOR)],
    )
    (tmp_path / "in.age").write_bytes(ciphertext)

    # When age is given another passphrase, then it refuses and writes no output file
    with pytest.raises(AgeRefused, match="incorrect passphrase"):
        debian_age.decrypt_with_passphrase(
            tmp_path / "in.age", tmp_path / "out.bin", WRONG_PASSPHRASE
        )
    assert not (tmp_path / "out.bin").exists()
