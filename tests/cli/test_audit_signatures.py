"""`portal audit verify` against a database writer: signed entries, signed heads, and the
battery of tamperings it names (DESIGN decision 10). On SQLite and PostgreSQL.

The writer here can get round the append-only triggers (PostgreSQL's superuser or the tables'
owner; on SQLite, anyone who can write the file) and knows the published hash recipe, but does
not have the review-host key. Each tampering in TAMPERINGS is one thing such a writer would do
to hide or forge a reviewer's action; the battery asserts the exact line verify names it with.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from portal.cli import main
from portal.config import Settings
from portal.custody import audit_signing
from portal.custody.host_key import HostKey
from portal.db import make_engine
from portal.models import AuditEntry
from portal.services import audit
from portal.services.audit import AuditAction, record
from tests.support.audit_log import past_the_triggers

ENTRIES = 5
UNSIGNED = "not signed: appended without the review-host key"
BAD_SIGNATURE = (
    "its signature does not match it (not made with the review-host key, "
    "or copied from another entry)"
)


def _run(env: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=env).invoke(main, ["audit", *arguments])


def _append(settings: Settings, count: int, *, host_key: HostKey | None) -> list[int]:
    """`count` entries, signed when `host_key` is given (the review host), else unsigned."""
    info = audit.session_info(audit_signing.signer(host_key) if host_key is not None else None)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, info=info) as session:
            sequences = [
                record(
                    session,
                    actor=f"inspector{number}",
                    action=AuditAction.REPORT_VIEWED,
                    subject=f"report-{number}",
                ).sequence
                for number in range(count)
            ]
            session.commit()
            return sequences
    finally:
        engine.dispose()


def _as_writer(settings: Settings, tamper: Callable[[Connection], None]) -> None:
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection, past_the_triggers(connection):
            tamper(connection)
    finally:
        engine.dispose()


def _rows(connection: Connection) -> list[dict[str, Any]]:
    table = AuditEntry.__table__
    result = connection.execute(select(table).order_by(table.c.sequence))
    return [dict(row._mapping) for row in result]


def _rehash_from(connection: Connection, index: int, *, strip_signatures: bool) -> None:
    """Recompute every entry's links and hashes from the `index`th on, with the published
    recipe, as a writer covering a change would; optionally setting their signatures to NULL."""
    rows = _rows(connection)
    previous = rows[index - 1]["entry_hash"] if index else audit.GENESIS_HASH
    for row in rows[index:]:
        new_hash = audit.entry_hash(
            previous_hash=str(previous),
            occurred_at=row["occurred_at"],
            actor=str(row["actor"]),
            action=str(row["action"]),
            subject=row["subject"],
            detail=str(row["detail"]),
        )
        connection.execute(
            text(
                "UPDATE audit_log SET previous_hash = :previous, entry_hash = :hash "
                "WHERE sequence = :sequence"
            ),
            {"previous": previous, "hash": new_hash, "sequence": row["sequence"]},
        )
        if strip_signatures:
            connection.execute(
                text("UPDATE audit_log SET head_signature = NULL WHERE sequence = :sequence"),
                {"sequence": row["sequence"]},
            )
        previous = new_hash


@dataclass(frozen=True)
class Scene:
    settings: Settings
    host_key: HostKey
    sequences: list[int]
    head_file: Path


Tampering = Callable[[Scene], None]


def delete_an_entry_and_rebuild_the_chain(scene: Scene) -> None:
    def tamper(connection: Connection) -> None:
        connection.execute(
            text("DELETE FROM audit_log WHERE sequence = :s"), {"s": scene.sequences[1]}
        )
        _rehash_from(connection, 1, strip_signatures=False)

    _as_writer(scene.settings, tamper)


def rewrite_an_entry_with_its_hash_recomputed(scene: Scene) -> None:
    def tamper(connection: Connection) -> None:
        connection.execute(
            text("UPDATE audit_log SET actor = 'someone-else' WHERE sequence = :s"),
            {"s": scene.sequences[2]},
        )
        _rehash_from(connection, 2, strip_signatures=False)

    _as_writer(scene.settings, tamper)


def rebuild_the_whole_chain_without_signatures(scene: Scene) -> None:
    def tamper(connection: Connection) -> None:
        connection.execute(text("UPDATE audit_log SET actor = 'nobody'"))
        _rehash_from(connection, 0, strip_signatures=True)

    _as_writer(scene.settings, tamper)


def cut_the_newest_entries(scene: Scene) -> None:
    def tamper(connection: Connection) -> None:
        connection.execute(
            text("DELETE FROM audit_log WHERE sequence >= :s"), {"s": scene.sequences[-2]}
        )

    _as_writer(scene.settings, tamper)


def append_unsigned_entries(scene: Scene) -> None:
    # Through the portal's own code, with the database's credentials but no review-host key.
    _append(scene.settings, 2, host_key=None)


def copy_a_signature_from_another_entry(scene: Scene) -> None:
    def tamper(connection: Connection) -> None:
        connection.execute(
            text(
                "UPDATE audit_log SET head_signature = "
                "(SELECT head_signature FROM audit_log WHERE sequence = :source) "
                "WHERE sequence = :target"
            ),
            {"source": scene.sequences[1], "target": scene.sequences[3]},
        )

    _as_writer(scene.settings, tamper)


def forge_the_exported_head(scene: Scene) -> None:
    # Whoever can reach the auditor's copy of the head moves it back, to hide a cut.
    fields = json.loads(scene.head_file.read_text())
    fields["sequence"] = scene.sequences[1]
    scene.head_file.write_text(json.dumps(fields))


def _expected(scene: Scene, tampering: Tampering) -> list[str]:
    """The problem lines verify must print for each tampering (in the order it prints them)."""
    s = scene.sequences
    head = json.loads(scene.head_file.read_text())
    return {
        delete_an_entry_and_rebuild_the_chain: [
            f"  entry {sequence}: {BAD_SIGNATURE}" for sequence in s[2:]
        ],
        rewrite_an_entry_with_its_hash_recomputed: [
            f"  entry {sequence}: {BAD_SIGNATURE}" for sequence in s[2:]
        ],
        rebuild_the_whole_chain_without_signatures: [
            f"  the newest {ENTRIES} entries are {UNSIGNED}"
        ],
        cut_the_newest_entries: [
            f"  the signed head exported earlier (entry {s[-1]}, {head['entry_hash']}) is no "
            "longer in the log (entries were removed from its end, or the log was replaced)"
        ],
        append_unsigned_entries: [f"  the newest 2 entries are {UNSIGNED}"],
        copy_a_signature_from_another_entry: [f"  entry {s[3]}: {BAD_SIGNATURE}"],
        forge_the_exported_head: [
            f"  the signed head given (entry {s[1]}) does not match its signature "
            "(it was changed, or was not exported by a review host)",
            f"  the signed head exported earlier (entry {s[1]}, {head['entry_hash']}) is no "
            "longer in the log (entries were removed from its end, or the log was replaced)",
        ],
    }[tampering]


TAMPERINGS: list[Tampering] = [
    delete_an_entry_and_rebuild_the_chain,
    rewrite_an_entry_with_its_hash_recomputed,
    rebuild_the_whole_chain_without_signatures,
    cut_the_newest_entries,
    append_unsigned_entries,
    copy_a_signature_from_another_entry,
    forge_the_exported_head,
]


@pytest.fixture
def scene(settings: Settings, env: dict[str, str], host_key: HostKey, tmp_path: Path) -> Scene:
    """A log of ENTRIES signed entries, and its head exported and kept off the host."""
    sequences = _append(settings, ENTRIES, host_key=host_key)
    exported = _run(env, "export-head")
    assert exported.exit_code == 0, exported.output
    head_file = tmp_path / "kept-elsewhere" / "head.json"
    head_file.parent.mkdir()
    head_file.write_text(exported.output)
    return Scene(settings=settings, host_key=host_key, sequences=sequences, head_file=head_file)


def test_appended_entries_are_signed_and_an_honest_log_verifies_with_its_head(
    scene: Scene, env: dict[str, str]
) -> None:
    # Given entries appended by the review host, and the head exported after them
    head = json.loads(scene.head_file.read_text())
    public_key = audit_signing.AuditPublicKey.from_hex(head["public_key"])
    engine = make_engine(scene.settings.database_url)
    try:
        with engine.connect() as connection:
            rows = _rows(connection)
    finally:
        engine.dispose()

    # When the log is verified with that head
    result = _run(env, "verify", "--head", str(scene.head_file))

    # Then every entry carries a signature of its own position and hash, the head is the
    # newest of them, and verify passes
    assert all(
        public_key.verifies(row["sequence"], row["entry_hash"], row["head_signature"])
        for row in rows
    )
    assert (head["sequence"], head["entry_hash"]) == (rows[-1]["sequence"], rows[-1]["entry_hash"])
    assert head["signature"] == rows[-1]["head_signature"]
    assert result.exit_code == 0, result.output
    assert (
        f"Signatures: {ENTRIES} of {ENTRIES} entries signed, checked with this review host's key"
        in result.output
    )


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=lambda tampering: tampering.__name__)
def test_each_tampering_is_named_by_verify(
    scene: Scene, env: dict[str, str], tampering: Tampering
) -> None:
    expected = _expected(scene, tampering)

    # When a database writer tampers with the log, and the auditor verifies with the head kept
    tampering(scene)
    result = _run(env, "verify", "--head", str(scene.head_file))

    # Then verify fails and names exactly what was done
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    signatures_line = next(i for i, line in enumerate(lines) if line.startswith("Signatures:"))
    problems = lines[1:signatures_line]
    assert [line for line in expected if line not in problems] == [], result.output


def test_the_battery_counts_seven_tamperings() -> None:
    # The count the closing note reports: each one detected on SQLite and on PostgreSQL.
    assert len(TAMPERINGS) == 7


def test_a_cut_from_the_end_passes_without_the_head_and_fails_with_it(
    scene: Scene, env: dict[str, str]
) -> None:
    cut_the_newest_entries(scene)

    assert _run(env, "verify").exit_code == 0
    assert _run(env, "verify", "--head", str(scene.head_file)).exit_code == 1


def test_off_the_review_host_signatures_are_checked_with_the_heads_key_or_said_unchecked(
    scene: Scene, env: dict[str, str]
) -> None:
    # Given the log verified where there is no review-host key
    (scene.settings.instance_dir / "review-host-key").unlink()

    unchecked = _run(env, "verify")
    with_head = _run(env, "verify", "--head", str(scene.head_file))

    # Then without a head it says plainly that the signatures were not checked; with the head
    # kept elsewhere they are checked with its public key
    assert unchecked.exit_code == 0, unchecked.output
    assert "NOT checked: no review-host key here" in unchecked.output
    assert "checked with the public key of the head given (no review-host key here)" in (
        with_head.output
    )
    # The first run's own entry was appended here, without the key: the second one says so
    assert with_head.exit_code == 1
    assert f"  the newest entry is {UNSIGNED}" in with_head.output


def test_export_head_refuses_a_log_that_does_not_verify(scene: Scene, env: dict[str, str]) -> None:
    append_unsigned_entries(scene)

    result = _run(env, "export-head")

    assert result.exit_code == 1
    assert "the audit log does not verify (1 problems)" in result.output


def test_export_head_needs_the_review_host_key(scene: Scene, env: dict[str, str]) -> None:
    (scene.settings.instance_dir / "review-host-key").unlink()

    result = _run(env, "export-head")

    assert result.exit_code == 1
    assert "no review-host key here" in result.output


def test_a_file_that_is_not_a_head_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "head.json"
    path.write_text('{"sequence": 1}')

    result = _run(env, "verify", "--head", str(path))

    assert result.exit_code == 2
    assert "is not a signed head: it must hold exactly the fields" in result.output


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
def test_verify_as_a_read_only_role_checks_and_says_it_could_not_record(
    scene: Scene, env: dict[str, str]
) -> None:
    # Given a role that may only read (as the auditors' role), on the review host
    role = f"portal_test_reader_{secrets.token_hex(4)}"
    owner = make_engine(scene.settings.database_url)
    with owner.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
    reader_url = make_url(scene.settings.database_url).set(username=role).render_as_string(False)
    reader_env = {**env, "PORTAL_DATABASE_URL": reader_url}
    try:
        # When it verifies an honest log, and then a tampered one
        honest = _run(reader_env, "verify", "--head", str(scene.head_file))
        cut_the_newest_entries(scene)
        tampered = _run(reader_env, "verify", "--head", str(scene.head_file))
    finally:
        with owner.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()

    # Then the checks ran and decide the exit status; the run says it could not be recorded
    not_recorded = "This check could not be recorded: the database role may not write to the log."
    assert honest.exit_code == 0, honest.output
    assert honest.output.splitlines()[-1] == not_recorded
    assert tampered.exit_code == 1, tampered.output
    assert "is no longer in the log" in tampered.output
    assert tampered.output.splitlines()[-1] == not_recorded
