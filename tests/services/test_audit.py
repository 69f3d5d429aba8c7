"""The audit log's hash chain: appending, verifying, and seeing every kind of tampering.

Each test runs on SQLite and on PostgreSQL. Tampering is done with plain SQL, as someone with
database access and no knowledge of the portal would do it.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal.custody.audit_signing import AuditSigner
from portal.models import AuditEntry, Report, ReportKind
from portal.services import audit
from portal.services.audit import GENESIS_HASH, AuditAction, record, verify_chain
from tests.support.audit_log import past_the_triggers

NOW = datetime.datetime(2025, 3, 1, 9, 30, 0)


def _chain_of(session: Session, length: int) -> list[int]:
    """Append `length` committed entries; return their sequence numbers in order."""
    sequences = []
    for number in range(length):
        entry = record(
            session,
            actor=f"inspector{number}",
            action=AuditAction.REPORT_VIEWED,
            subject=f"report-{number}",
            detail={"position": number},
            now=NOW + datetime.timedelta(minutes=number),
        )
        sequences.append(entry.sequence)
    session.commit()
    return sequences


def _tamper(session: Session, statement: str, **values: object) -> None:
    with past_the_triggers(session.connection()):
        session.execute(text(statement), values)
    session.commit()


def test_a_chain_of_entries_verifies_and_reports_its_head(session: Session) -> None:
    # Given five entries, the first starting from the genesis hash
    sequences = _chain_of(session, 5)

    # When the chain is verified
    report = verify_chain(session)

    # Then it is intact, and its head is the last entry's hash
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)).all()
    assert report.ok and report.problems == []
    assert report.entries == 5
    assert report.head_hash == entries[-1].entry_hash
    assert entries[0].previous_hash == GENESIS_HASH
    assert [entry.sequence for entry in entries] == sequences
    for before, after in itertools.pairwise(entries):
        assert after.previous_hash == before.entry_hash


def test_an_empty_log_is_intact_and_its_head_is_genesis(session: Session) -> None:
    report = verify_chain(session)

    assert report.ok and report.entries == 0 and report.head_hash == GENESIS_HASH


def test_an_auditor_can_recompute_a_hash_from_the_documented_recipe(session: Session) -> None:
    # Given entries with a subject, without one, and with non-ASCII text in them
    first = record(
        session,
        actor="inspectorÿ",
        action="triage_changed",
        subject="rhybudd \u2013 Cymraeg (ŵ, ŷ)",
        detail={"status": "escalated", "urgent": True, "count": 3, "was": None},
        now=NOW,
    )
    second = record(session, actor="admin", action=AuditAction.SIGN_OUT, now=NOW)
    session.commit()

    # When each hash is recomputed the way the module docstring tells an auditor to
    def recomputed(entry: AuditEntry) -> str:
        fields = [
            "portal-audit-v1",
            entry.previous_hash,
            entry.occurred_at.isoformat(timespec="microseconds"),
            entry.actor,
            entry.action,
            entry.subject,
            entry.detail,
        ]
        message = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(message.encode("ascii")).hexdigest()

    session.expire_all()  # read back what the database stored, not what Python kept

    # Then it matches the stored hash, and the detail is stored with sorted keys
    assert recomputed(first) == first.entry_hash
    assert recomputed(second) == second.entry_hash
    assert first.detail == '{"count":3,"status":"escalated","urgent":true,"was":null}'
    assert second.detail == "{}" and second.subject is None
    assert first.occurred_at == NOW


def test_a_time_with_a_zone_is_stored_as_naive_utc(session: Session) -> None:
    british_summer_time = datetime.timezone(datetime.timedelta(hours=1))

    entry = record(
        session,
        actor="inspector",
        action=AuditAction.SIGN_IN,
        now=datetime.datetime(2025, 7, 1, 10, 0, tzinfo=british_summer_time),
    )
    session.commit()
    session.expire_all()

    assert entry.occurred_at == datetime.datetime(2025, 7, 1, 9, 0)


def test_record_writes_inside_the_callers_transaction_and_never_commits(
    session: Session, engine: Engine
) -> None:
    # Given an action and its entry in one transaction
    record(session, actor="inspector", action=AuditAction.NOTE_ADDED, subject="r1")

    # When that transaction is rolled back (the action failed)
    session.rollback()

    # Then the entry is gone with it: no entry records an action that did not happen
    with Session(engine) as other:
        assert other.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_entry_whose_action_was_changed_is_reported_as_modified(session: Session) -> None:
    # Given a chain, and one entry's action changed behind the portal's back
    sequences = _chain_of(session, 5)
    _tamper(
        session,
        "UPDATE audit_log SET action = 'sign_out' WHERE sequence = :sequence",
        sequence=sequences[2],
    )

    # When it is verified
    report = verify_chain(session)

    # Then exactly that entry is named
    assert not report.ok
    assert report.problems == [
        f"entry {sequences[2]}: its hash does not match its contents (modified)"
    ]


def test_a_deleted_entry_in_the_middle_is_reported(session: Session) -> None:
    sequences = _chain_of(session, 5)
    _tamper(session, "DELETE FROM audit_log WHERE sequence = :sequence", sequence=sequences[2])

    report = verify_chain(session)

    assert not report.ok
    assert report.entries == 4
    assert report.problems == [
        f"entry {sequences[3]}: does not follow entry {sequences[1]}'s hash "
        "(an entry is missing or out of order)"
    ]


def test_a_deleted_first_entry_is_reported(session: Session) -> None:
    sequences = _chain_of(session, 3)
    _tamper(session, "DELETE FROM audit_log WHERE sequence = :sequence", sequence=sequences[0])

    report = verify_chain(session)

    assert report.problems == [
        f"entry {sequences[1]}: is the first entry but does not start the chain "
        "(entries before it are missing)"
    ]


def test_two_swapped_entries_are_reported_as_out_of_order(session: Session) -> None:
    # Given a chain in which two entries have traded sequence numbers
    first, second, third, fourth = _chain_of(session, 4)
    with past_the_triggers(session.connection()):
        for old, new in ((second, -1), (third, second), (-1, third)):
            session.execute(
                text("UPDATE audit_log SET sequence = :new WHERE sequence = :old"),
                {"old": old, "new": new},
            )
    session.commit()

    # When it is verified
    report = verify_chain(session)

    # Then every broken link is named; no entry's own contents changed
    out_of_order = "(an entry is missing or out of order)"
    assert report.problems == [
        f"entry {second}: does not follow entry {first}'s hash {out_of_order}",
        f"entry {third}: does not follow entry {second}'s hash {out_of_order}",
        f"entry {fourth}: does not follow entry {third}'s hash {out_of_order}",
    ]


def test_a_changed_previous_hash_is_reported(session: Session) -> None:
    # Given an entry pointed at a different predecessor
    sequences = _chain_of(session, 4)
    _tamper(
        session,
        "UPDATE audit_log SET previous_hash = :forged WHERE sequence = :sequence",
        forged="f" * 64,
        sequence=sequences[2],
    )

    report = verify_chain(session)

    # Then it no longer follows its predecessor, and its own hash no longer covers it
    assert report.problems == [
        f"entry {sequences[2]}: its hash does not match its contents (modified)",
        f"entry {sequences[2]}: does not follow entry {sequences[1]}'s hash "
        "(an entry is missing or out of order)",
    ]


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(
    session: Session,
) -> None:
    # Given a forger who changes an entry and recomputes its hash with the published recipe
    sequences = _chain_of(session, 3)
    entry = session.get(AuditEntry, sequences[1])
    assert entry is not None
    forged = audit.entry_hash(
        previous_hash=entry.previous_hash,
        occurred_at=entry.occurred_at,
        actor="someone-else",
        action=entry.action,
        subject=entry.subject,
        detail=entry.detail,
    )
    _tamper(
        session,
        "UPDATE audit_log SET actor = 'someone-else', entry_hash = :forged "
        "WHERE sequence = :sequence",
        forged=forged,
        sequence=sequences[1],
    )

    report = verify_chain(session)

    # Then the entry after it shows the break
    assert report.problems == [
        f"entry {sequences[2]}: does not follow entry {sequences[1]}'s hash "
        "(an entry is missing or out of order)"
    ]


def test_a_deleted_last_entry_is_caught_only_with_the_head_recorded_earlier(
    session: Session,
) -> None:
    # Given a chain whose head an auditor wrote down, then its last entry deleted
    sequences = _chain_of(session, 4)
    head = verify_chain(session).head_hash
    _tamper(session, "DELETE FROM audit_log WHERE sequence = :sequence", sequence=sequences[-1])

    # When it is verified without and then with the recorded head
    alone = verify_chain(session)
    with_head = verify_chain(session, expected_head=head.upper())

    # Then the log alone looks intact; the recorded head shows what is missing
    assert alone.ok and alone.entries == 3
    assert not with_head.ok
    assert with_head.problems == [
        f"the head recorded earlier ({head}) is no longer in the log "
        "(entries were removed from its end, or the log was replaced)"
    ]


def test_a_recorded_head_followed_by_new_entries_still_verifies(session: Session) -> None:
    _chain_of(session, 2)
    head = verify_chain(session).head_hash
    _chain_of(session, 2)

    report = verify_chain(session, expected_head=head)

    assert report.ok and report.entries == 4 and report.head_hash != head


def test_an_expected_head_that_is_not_a_hash_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        verify_chain(session, expected_head="not a hash")


def test_problems_beyond_the_listed_limit_are_counted(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a log in which every entry was changed, and a limit of two listed problems
    _chain_of(session, 5)
    _tamper(session, "UPDATE audit_log SET actor = 'forger'")
    monkeypatch.setattr(audit, "MAX_PROBLEMS_LISTED", 2)

    report = verify_chain(session)

    # Then two are listed and the rest counted, in one more line
    assert len(report.problems) == 3
    assert report.problems[-1] == "... and 3 more problems, not listed"


def test_concurrent_writers_make_one_unbroken_chain(
    engine: Engine, audit_signer: AuditSigner
) -> None:
    # Given four writers, each with its own session, released at the same moment
    threads, per_thread = 4, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with Session(engine, info=audit.session_info(audit_signer)) as session:
                start.wait()
                for index in range(per_thread):
                    record(
                        session,
                        actor=f"writer{number}",
                        action=AuditAction.REPORT_VIEWED,
                        detail={"index": index},
                    )
                    session.commit()
        except BaseException as error:  # reported below, so a failure is not lost in a thread
            errors.append(error)

    # When they all append at once, each committing after every entry
    _run_all(write, threads)

    # Then every entry is in one chain, with none lost and no fork
    assert errors == []
    with Session(engine) as session:
        report = verify_chain(session)
        actors = session.execute(
            select(AuditEntry.actor, func.count()).group_by(AuditEntry.actor)
        ).all()
    assert report.ok, report.problems
    assert report.entries == threads * per_thread
    assert dict(actors) == {f"writer{number}": per_thread for number in range(threads)}


def test_writers_that_skip_taking_turns_still_never_fork_the_chain(
    engine: Engine, audit_signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given writers that race for the end of the chain with no lock to queue on, so that only
    # the unique previous hash (and the retries after it) stands between them and a fork
    monkeypatch.setattr(audit, "_wait_for_turn", lambda _session: None)
    threads, per_thread = 4, 25
    start = threading.Barrier(threads)
    committed: list[int] = []
    unexpected: list[BaseException] = []

    def write(number: int) -> None:
        with Session(engine, info=audit.session_info(audit_signer)) as session:
            start.wait()
            for _index in range(per_thread):
                try:
                    record(session, actor=f"writer{number}", action=AuditAction.SIGN_IN)
                    session.commit()
                    committed.append(number)
                except (audit.AuditLogBusy, OperationalError):
                    # Allowed here: a writer that kept losing gave up (or, on SQLite, found its
                    # snapshot stale). What must never happen is a second entry on one end.
                    session.rollback()
                except BaseException as error:
                    unexpected.append(error)
                    return

    # When they all append at once
    _run_all(write, threads)

    # Then what was committed is one unbroken chain
    assert unexpected == []
    with Session(engine) as session:
        report = verify_chain(session)
    assert report.ok, report.problems
    assert report.entries == len(committed) > 0


def _run_all(target: Callable[[int], None], threads: int) -> None:
    workers = [threading.Thread(target=target, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)


def test_a_lost_race_is_retried_on_the_new_end_and_keeps_the_callers_work(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an existing entry, and a writer that first reads a stale end of the chain
    # (as if another writer appended between its read and its insert)
    _chain_of(session, 1)
    real_chain_end = audit._chain_end
    reads: list[str] = []

    def stale_then_real(session: Session) -> str:
        reads.append("read")
        return GENESIS_HASH if len(reads) == 1 else real_chain_end(session)

    monkeypatch.setattr(audit, "_chain_end", stale_then_real)

    # When it records an entry in a transaction that has already done its own work
    session.add(_report())
    entry = record(session, actor="inspector", action=AuditAction.TRIAGE_CHANGED)
    session.commit()

    # Then the clash rolled back only the entry's savepoint: it was retried on the real end,
    # and the caller's work was committed with it
    assert len(reads) == 2
    assert entry.previous_hash != GENESIS_HASH
    assert verify_chain(session).ok
    assert session.scalar(select(func.count()).select_from(Report)) == 1


def test_a_writer_that_keeps_losing_gives_up_after_a_bounded_number_of_tries(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an end of the chain that is always already taken
    _chain_of(session, 1)
    monkeypatch.setattr(audit, "_chain_end", lambda _session: GENESIS_HASH)

    # When an entry is recorded
    with pytest.raises(audit.AuditLogBusy):
        record(session, actor="inspector", action=AuditAction.SIGN_IN)

    # Then the caller's transaction is still usable (to roll back, or to retry)
    session.rollback()
    assert verify_chain(session).entries == 1


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        ({"text": "x" * 201}, "longer than 200 characters"),
        ({"ratio": 0.5}, "must be a string, integer, boolean or None"),
        ({"list": ["a"]}, "must be a string, integer, boolean or None"),
        ({"k" * 41: 1}, "names of 1 to 40 characters"),
    ],
)
def test_a_detail_that_could_carry_content_is_refused(
    session: Session, detail: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        record(session, actor="inspector", action=AuditAction.NOTE_ADDED, detail=detail)  # type: ignore[arg-type]

    # The refusal does not repeat the value: it may be the very content that must not leak
    assert "x" * 201 not in str(refused.value)
    assert verify_chain(session).entries == 0


def test_a_detail_string_of_200_characters_is_accepted(session: Session) -> None:
    entry = record(
        session, actor="inspector", action=AuditAction.NOTE_ADDED, detail={"ref": "x" * 200}
    )

    assert entry.sequence is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"actor": "inspector", "action": "read_minds"}, "is not a valid AuditAction"),
        ({"actor": "", "action": "sign_in"}, "actor must be text"),
        ({"actor": "a" * 65, "action": "sign_in"}, "actor must be text"),
        ({"actor": "inspector", "action": "sign_in", "subject": "s" * 81}, "subject must be"),
    ],
)
def test_an_unknown_action_or_an_oversized_field_is_refused(
    session: Session, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        record(session, **fields)  # type: ignore[arg-type]


def test_every_action_name_fits_its_column() -> None:
    assert all(len(action.value) <= 40 for action in AuditAction)


def _report() -> Report:
    return Report(
        kind=ReportKind.WORKLOAD,
        received_on=NOW.date(),
        content=b"age-encryption.org/v1\n(a stand-in: only its row matters here)",
    )
