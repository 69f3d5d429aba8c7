"""The audit signing key and signed heads, and the two ways AUDIT.md gives an auditor to check an
exported head without the portal: a few lines of Python with `cryptography`, and `openssl`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

from portal.custody import audit_signing
from portal.custody.audit_signing import HeadFileError, SignedHead
from portal.custody.host_key import HostKey
from tests.support.components import unavailable

ENTRY_HASH = "9f" * 32


def _head(host_key: HostKey, sequence: int = 42, entry_hash: str = ENTRY_HASH) -> SignedHead:
    signer = audit_signing.signer(host_key)
    return SignedHead(
        sequence=sequence,
        entry_hash=entry_hash,
        signature=signer.sign(sequence, entry_hash),
        public_key=signer.public_key,
    )


def test_the_signing_key_is_the_host_keys_own_and_no_other_subkey() -> None:
    host_key = HostKey(os.urandom(32))

    first, again = audit_signing.signer(host_key), audit_signing.signer(host_key)
    other = audit_signing.signer(HostKey(os.urandom(32)))

    assert first.public_key == again.public_key != other.public_key
    assert first.public_key.raw != host_key.subkey(audit_signing.SIGNING_PURPOSE)
    assert "secret" not in repr(first) and repr(first) == "<AuditSigner>"


def test_a_signature_covers_the_label_the_sequence_and_the_hash() -> None:
    signer = audit_signing.signer(HostKey(os.urandom(32)))
    signature = signer.sign(7, ENTRY_HASH)

    assert signer.public_key.verifies(7, ENTRY_HASH, signature)
    assert not signer.public_key.verifies(8, ENTRY_HASH, signature)
    assert not signer.public_key.verifies(7, "8f" + ENTRY_HASH[2:], signature)
    assert not signer.public_key.verifies(7, ENTRY_HASH, "00" * 64)
    assert not signer.public_key.verifies(7, ENTRY_HASH, "not hex")
    assert audit_signing.head_message(7, ENTRY_HASH) == (
        f'["portal-audit-head-v1",7,"{ENTRY_HASH}"]'.encode("ascii")
    )


def test_an_exported_head_reads_back_and_a_changed_one_is_not_genuine() -> None:
    head = _head(HostKey(os.urandom(32)))

    read = SignedHead.from_json(head.to_json())
    moved = SignedHead.from_json(head.to_json().replace('"sequence": 42', '"sequence": 41'))

    assert read == head and read.is_genuine()
    assert not moved.is_genuine()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": "portal-audit-head-v2"}, "its label is not"),
        ({"sequence": "42"}, "sequence must be a positive whole number"),
        ({"sequence": True}, "sequence must be a positive whole number"),
        ({"entry_hash": "9F" * 32}, "entry hash must be 64 lowercase hex digits"),
        ({"signature": "ab"}, "signature must be 128 lowercase hex digits"),
        ({"public_key": "ab"}, "public key must be 64 hex digits"),
        ({"extra": 1}, "must hold exactly the fields"),
    ],
)
def test_a_malformed_head_is_refused(change: dict[str, object], message: str) -> None:
    fields = {**json.loads(_head(HostKey(os.urandom(32))).to_json()), **change}

    with pytest.raises(HeadFileError, match=message):
        SignedHead.from_json(json.dumps(fields))


def test_a_head_checks_out_with_the_python_recipe_in_audit_md() -> None:
    head_json = _head(HostKey(os.urandom(32))).to_json()

    # The recipe, as AUDIT.md gives it (only `cryptography`, no portal code)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    def check(head_json: str) -> None:
        head = json.loads(head_json)
        message = json.dumps(
            ["portal-audit-head-v1", head["sequence"], head["entry_hash"]], separators=(",", ":")
        ).encode("ascii")
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(head["public_key"]))
        key.verify(bytes.fromhex(head["signature"]), message)  # raises InvalidSignature

    check(head_json)
    with pytest.raises(InvalidSignature):
        check(head_json.replace('"sequence": 42', '"sequence": 43'))


def test_a_head_checks_out_with_the_openssl_commands_in_audit_md(tmp_path: Path) -> None:
    missing = [tool for tool in ("openssl", "jq", "xxd") if shutil.which(tool) is None]
    if missing:
        unavailable(f"AUDIT.md's openssl check needs {', '.join(missing)}")
    head_file = tmp_path / "head.json"
    script = tmp_path / "check.sh"
    # The commands, as AUDIT.md gives them
    script.write_text(
        "set -e\n"
        'printf \'["portal-audit-head-v1",%s,"%s"]\' '
        '"$(jq .sequence head.json)" "$(jq -r .entry_hash head.json)" > head.msg\n'
        "{ printf 302a300506032b6570032100; jq -r .public_key head.json; } "
        "| xxd -r -p > head.pub.der\n"
        "jq -r .signature head.json | xxd -r -p > head.sig\n"
        "openssl pkeyutl -verify -pubin -keyform DER -inkey head.pub.der "
        "-rawin -in head.msg -sigfile head.sig\n"
    )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    head_file.write_text(_head(HostKey(os.urandom(32))).to_json())
    genuine = run()
    head_file.write_text(_head(HostKey(os.urandom(32))).to_json().replace("42", "43", 1))
    forged = run()

    assert genuine.returncode == 0 and "Signature Verified Successfully" in genuine.stdout
    assert forged.returncode != 0
