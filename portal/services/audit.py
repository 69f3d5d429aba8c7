"""The audit log: every reviewer action, as one entry in a hash chain.

Each entry's hash covers the hash of the entry before it, so changing, removing or reordering an
entry anywhere but at the very end breaks the chain, and `verify_chain` says where.

Entries hold no report content. An entry says who did what to which object (a report id, a
username), and `detail` adds small facts such as a new status or a count: never a report's text,
a message, a note, a file name or anything a submitter wrote. `record` refuses any detail string
longer than 200 characters, as a guard against content slipping in.

The hash, so an auditor can recompute it without the portal
-----------------------------------------------------------
An entry's hash is SHA-256, in lowercase hex, of this message, made from the row as stored::

    import hashlib, json

    def entry_hash(previous_hash, occurred_at, actor, action, subject, detail):
        fields = [
            "portal-audit-v1",                               # label: this hash and no other
            previous_hash,                                   # 64 hex digits
            occurred_at.isoformat(timespec="microseconds"),  # naive UTC: 2025-03-01T09:30:00.000000
            actor,
            action,
            subject,                                         # None becomes JSON null
            detail,                                          # the detail column's text, as stored
        ]
        message = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(message.encode("ascii")).hexdigest()

That is: a JSON array of the label and the six fields, with no whitespace, every non-ASCII
character escaped as \\uXXXX, and `detail` included as a string (the stored text of a JSON object
whose keys are sorted, written the same way). The first entry's previous hash is GENESIS_HASH,
64 zeros; each later entry's is the entry hash of the entry before it in `sequence` order.
Sequence numbers may have gaps (PostgreSQL does not reuse a number a rolled-back insert took), so
the chain, not the numbering, is what proves order.

Signatures: what a database writer cannot rebuild
------------------------------------------------
The chain alone is unkeyed: whoever writes the database can change an entry and recompute every
hash after it. So when the session carries the review host's audit signer (`session_info`, set
by the review site's request sessions and by commands run where the review-host key is), each
new entry also stores `head_signature`, an Ed25519 signature over its sequence number and hash
(`portal.custody.audit_signing` documents the message). A signed entry vouches for every entry
before it, since its hash covers theirs. `verify_chain` checks every signature it is given a
public key for, and requires the newest entry to be signed: entries a writer appends, or a
chain they rebuild, carry no valid signature. What signatures cannot show is entries cut from
the end (the rest is still a signed chain): a head exported earlier (`SignedHead`) shows that.

The database itself refuses to update or delete entries (triggers, migration 0010), so only a
role that can drop triggers (the tables' owner, a superuser) can attempt any of this.

Transactions
------------
`record` never commits. It writes the entry inside the caller's transaction, so the entry is
committed together with the action it records, or rolled back with it: there is never an action
without its entry, nor an entry for an action that did not happen.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.custody.audit_signing import AuditPublicKey, AuditSigner, SignedHead
from portal.models import AuditEntry

GENESIS_HASH = "0" * 64
"""The previous hash of the first entry: the chain starts here."""

HASH_LABEL = "portal-audit-v1"
"""The first element of every hashed message, so an entry hash can never be mistaken for (or
made to collide with) any other SHA-256 the portal computes, and the encoding can be versioned."""

MAX_DETAIL_STRING = 200
"""The longest string `detail` may hold: enough for a status or an id, too short for content."""
MAX_DETAIL_KEY = 40
MAX_ACTOR = 64
MAX_SUBJECT = 80

MAX_ATTEMPTS = 30
"""How often `record` re-reads the end of the chain after another writer claimed it first."""

MAX_PROBLEMS_LISTED = 1000
"""`verify_chain` lists this many problems and counts the rest, so a log that is wholly wrong
cannot fill memory with a line per entry."""

_VERIFY_BATCH = 1000
# PostgreSQL's advisory lock for appending to the log: the first 8 bytes of
# SHA-256("portal.audit_log"), as a signed 64-bit integer (the type advisory locks take).
_APPEND_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"portal.audit_log").digest()[:8], "big", signed=True
)
HASH_PATTERN = re.compile(r"[0-9a-f]{64}")
"""An entry hash: SHA-256 in lowercase hex."""

SIGNER_INFO = "portal.audit_signer"
"""The `Session.info` key under which a session carries the review host's AuditSigner."""

DetailValue = str | int | bool | None


class AuditAction(enum.StrEnum):
    """Every action the audit log knows; `record` refuses any other."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    ACCOUNT_LOCKED = "account_locked"
    ENROLLED = "enrolled"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an action's name, not a password)
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_REVOKED = "account_revoked"
    REPORT_VIEWED = "report_viewed"
    ATTACHMENT_DOWNLOADED = "attachment_downloaded"
    REPLY_SENT = "reply_sent"
    NOTE_ADDED = "note_added"
    TRIAGE_CHANGED = "triage_changed"
    DASHBOARD_EXPORTED = "dashboard_exported"
    AUDIT_VIEWED = "audit_viewed"
    AUDIT_VERIFIED = "audit_verified"
    KEYS_RECOVERED = "keys_recovered"
    KEYS_ROTATED = "keys_rotated"
    KEYS_GRANTED = "keys_granted"
    EPOCH_RETIRED = "epoch_retired"
    RETENTION_RUN = "retention_run"
    REPORT_DESTROYED = "report_destroyed"


class AuditLogBusy(Exception):
    """Other writers kept extending the chain: the entry could not be appended. Retry later."""


def session_info(signer: AuditSigner | None) -> dict[str, object]:
    """What to give a session (`Session(info=...)`, a sessionmaker's `info`) so that `record`
    signs every entry it appends with `signer`; nothing when there is no signer (off the review
    host), so entries are appended unsigned and `verify_chain` reports them until a signed entry
    follows."""
    return {SIGNER_INFO: signer} if signer is not None else {}


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
    now: datetime.datetime | None = None,
) -> AuditEntry:
    """Append an entry for `action` by `actor` on `subject`, inside the caller's transaction.

    Flushes but never commits: the entry commits (or rolls back) with what it records. If the
    session carries a signer (`session_info`), the entry is signed. `now` is for tests; a
    naive value is taken as UTC. Raises ValueError for an unknown action, an
    actor or subject too long for its column, or a detail that could carry content (see the
    module docstring).

    Concurrent writers are safe: the chain's previous hashes are unique, so of two entries that
    claim the same end of the chain one fails to insert; it is rolled back to a savepoint and
    tries again on the new end, up to MAX_ATTEMPTS times (then AuditLogBusy). Writers also
    take turns on a lock held until their transaction ends (see `_wait_for_turn`), so that
    race is rare: keep the transaction short after calling this.
    """
    action = AuditAction(action).value
    _check_text("actor", actor, MAX_ACTOR, required=True)
    if subject is not None:
        _check_text("subject", subject, MAX_SUBJECT, required=False)
    detail_text = canonical_detail(detail or {})
    occurred_at = _utc_naive(now or datetime.datetime.now(datetime.UTC))

    # The caller's own pending changes are flushed first, so that an error in them is theirs
    # and is not mistaken below for a lost race on the end of the chain.
    session.flush()
    signer = _signer(session)
    _wait_for_turn(session)
    last_error: IntegrityError | None = None
    for _attempt in range(MAX_ATTEMPTS):
        previous_hash = _chain_end(session)
        this_hash = entry_hash(
            previous_hash=previous_hash,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            subject=subject,
            detail=detail_text,
        )
        # The signature covers the sequence number, so the number is taken before the insert:
        # the table refuses updates, so nothing can be added to the row afterwards.
        sequence = _next_sequence(session)
        entry = AuditEntry(
            sequence=sequence,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            subject=subject,
            detail=detail_text,
            previous_hash=previous_hash,
            entry_hash=this_hash,
            head_signature=signer.sign(sequence, this_hash) if signer is not None else None,
        )
        try:
            with session.begin_nested():
                session.add(entry)
        except IntegrityError as error:
            # Another writer appended to the same end first: only the savepoint was rolled
            # back, so the caller's transaction goes on and this entry tries the new end.
            last_error = error
            continue
        return entry
    raise AuditLogBusy(
        f"the audit log's end moved {MAX_ATTEMPTS} times while appending"
    ) from last_error


def entry_hash(
    *,
    previous_hash: str,
    occurred_at: datetime.datetime,
    actor: str,
    action: str,
    subject: str | None,
    detail: str,
) -> str:
    """The hash of an entry with these stored values (the encoding is in the module docstring)."""
    fields = [
        HASH_LABEL,
        previous_hash,
        occurred_at.isoformat(timespec="microseconds"),
        actor,
        action,
        subject,
        detail,
    ]
    message = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(message.encode("ascii")).hexdigest()


def canonical_detail(detail: Mapping[str, DetailValue]) -> str:
    """`detail` as the stored JSON text: sorted keys, no whitespace, ASCII only.

    Raises ValueError for anything but short string keys and short strings, integers, booleans
    or None as values: detail is for small facts, never content.
    """
    for key, value in detail.items():
        if not isinstance(key, str) or not key or len(key) > MAX_DETAIL_KEY:
            raise ValueError(f"audit detail keys must be names of 1 to {MAX_DETAIL_KEY} characters")
        if value is not None and not isinstance(value, str | int):
            raise ValueError(
                f"audit detail {key!r} must be a string, integer, boolean or None, "
                f"not {type(value).__name__}"
            )
        if isinstance(value, str) and len(value) > MAX_DETAIL_STRING:
            # The value itself is not quoted: it may be exactly the content that must not leak.
            raise ValueError(
                f"audit detail {key!r} is longer than {MAX_DETAIL_STRING} characters: "
                "the audit log never holds report content"
            )
    return json.dumps(dict(detail), sort_keys=True, ensure_ascii=True, separators=(",", ":"))


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found."""

    entries: int
    head_hash: str
    """The hash of the last entry (GENESIS_HASH for an empty log). Write it down: next time,
    pass it as `expected_head` to find out whether entries were removed from the end."""
    problems: list[str]
    """One plain-English line per problem, in log order."""
    head_sequence: int | None = None
    """The last entry's sequence number (None for an empty log)."""
    head_signature: str | None = None
    """The last entry's signature, if it has one: with the two above, the head to export."""
    signed: int = 0
    """How many entries carry a signature."""
    signatures_checked: bool = False
    """Whether those signatures were checked (a public key was given), not only counted."""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(
    session: Session,
    *,
    expected_head: str | None = None,
    public_keys: Sequence[AuditPublicKey] = (),
    signed_head: SignedHead | None = None,
) -> ChainReport:
    """Check every entry's hash, its link to the entry before it and its signature, in
    sequence order.

    Finds an entry whose stored values were changed (its hash no longer matches them), an entry
    deleted from anywhere but the end, entries reordered, and a changed previous hash (the next
    entry no longer follows). Entries are streamed in batches, so memory stays flat however long
    the log is.

    Signatures: every signature present must verify under one of `public_keys` (the review
    host's, and the key of a head exported before that host's key was replaced); with no key
    given, they are only counted (`signatures_checked` is False). Whatever the keys, the newest
    entry must carry one: entries appended without the review-host key, or a chain rebuilt
    without it, end unsigned.

    What the log alone cannot show is entries removed from its end: what remains is still a
    valid, signed chain. An auditor keeps a head from an earlier run off the host and passes it
    back: `signed_head` (from `portal audit export-head`), whose own signature is checked too,
    or `expected_head`, a bare hash. If that entry is no longer in the log, the log was cut
    back (or replaced), and this is reported as a problem.
    """
    if expected_head is not None:
        expected_head = expected_head.strip().lower()
        if not HASH_PATTERN.fullmatch(expected_head):
            raise ValueError("the expected head must be a hash of 64 hex digits")
    problems = _Problems()
    signatures = _Signatures(public_keys, problems)
    heads = _Heads(expected_head, signed_head, problems)
    expected_previous = GENESIS_HASH
    previous_sequence: int | None = None
    previous_signature: str | None = None
    entries = 0
    rows = session.execute(
        select(
            AuditEntry.sequence,
            AuditEntry.occurred_at,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.subject,
            AuditEntry.detail,
            AuditEntry.previous_hash,
            AuditEntry.entry_hash,
            AuditEntry.head_signature,
        )
        .order_by(AuditEntry.sequence)
        .execution_options(yield_per=_VERIFY_BATCH)
    )
    for row in rows:
        entries += 1
        recomputed = entry_hash(
            previous_hash=row.previous_hash,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            detail=row.detail,
        )
        if recomputed != row.entry_hash:
            problems.add(f"entry {row.sequence}: its hash does not match its contents (modified)")
        if row.previous_hash != expected_previous:
            if previous_sequence is None:
                problems.add(
                    f"entry {row.sequence}: is the first entry but does not start the chain "
                    "(entries before it are missing)"
                )
            else:
                problems.add(
                    f"entry {row.sequence}: does not follow entry {previous_sequence}'s hash "
                    "(an entry is missing or out of order)"
                )
        signatures.see(row.sequence, row.entry_hash, row.head_signature)
        heads.see(row.sequence, row.entry_hash)
        # The next entry must follow the hash stored here: that is the hash it was chained to.
        expected_previous = row.entry_hash
        previous_sequence, previous_signature = row.sequence, row.head_signature
    signatures.finish()
    heads.finish()
    return ChainReport(
        entries=entries,
        head_hash=expected_previous,
        problems=problems.lines(),
        head_sequence=previous_sequence,
        head_signature=previous_signature,
        signed=signatures.signed,
        signatures_checked=bool(public_keys),
    )


class _Signatures:
    """`verify_chain`'s signature checks: each one present, and one on the newest entry."""

    def __init__(self, public_keys: Sequence[AuditPublicKey], problems: _Problems) -> None:
        self._keys = tuple(public_keys)
        self._problems = problems
        self.signed = 0
        self._unsigned_at_end = 0

    def see(self, sequence: int, entry_hash: str, signature: str | None) -> None:
        if signature is None:
            self._unsigned_at_end += 1
            return
        self.signed += 1
        self._unsigned_at_end = 0
        if self._keys and not any(
            key.verifies(sequence, entry_hash, signature) for key in self._keys
        ):
            self._problems.add(
                f"entry {sequence}: its signature does not match it (not made with the "
                "review-host key, or copied from another entry)"
            )

    def finish(self) -> None:
        if self._unsigned_at_end:
            count = self._unsigned_at_end
            entries_are = "entry is" if count == 1 else f"{count} entries are"
            self._problems.add(
                f"the newest {entries_are} not signed: appended without the review-host key"
            )


class _Heads:
    """`verify_chain`'s checks that a head kept from an earlier run is still in the log."""

    def __init__(
        self, expected_head: str | None, signed_head: SignedHead | None, problems: _Problems
    ) -> None:
        self._expected = expected_head
        self._signed = signed_head
        self._problems = problems
        self._expected_seen = expected_head in {None, GENESIS_HASH}
        self._signed_seen = signed_head is None
        if signed_head is not None and not signed_head.is_genuine():
            problems.add(
                f"the signed head given (entry {signed_head.sequence}) does not match its "
                "signature (it was changed, or was not exported by a review host)"
            )

    def see(self, sequence: int, entry_hash: str) -> None:
        self._expected_seen = self._expected_seen or entry_hash == self._expected
        if self._signed is not None and sequence == self._signed.sequence:
            self._signed_seen = entry_hash == self._signed.entry_hash

    def finish(self) -> None:
        if not self._expected_seen:
            self._problems.add(
                f"the head recorded earlier ({self._expected}) is no longer in the log "
                "(entries were removed from its end, or the log was replaced)"
            )
        if self._signed is not None and not self._signed_seen:
            self._problems.add(
                f"the signed head exported earlier (entry {self._signed.sequence}, "
                f"{self._signed.entry_hash}) is no longer in the log "
                "(entries were removed from its end, or the log was replaced)"
            )


class _Problems:
    """Problem lines up to MAX_PROBLEMS_LISTED, then only a count."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._unlisted = 0

    def add(self, line: str) -> None:
        if len(self._lines) < MAX_PROBLEMS_LISTED:
            self._lines.append(line)
        else:
            self._unlisted += 1

    def lines(self) -> list[str]:
        if self._unlisted:
            return [*self._lines, f"... and {self._unlisted} more problems, not listed"]
        return list(self._lines)


def _signer(session: Session) -> AuditSigner | None:
    signer = session.info.get(SIGNER_INFO)
    if signer is not None and not isinstance(signer, AuditSigner):
        raise TypeError(f"session.info[{SIGNER_INFO!r}] must be an AuditSigner")
    return signer


def _next_sequence(session: Session) -> int:
    """The sequence number the next entry takes, known before its insert so it can be signed.

    PostgreSQL: the column's own sequence (a role that may insert entries may use it), so
    numbers never clash; a rolled-back insert leaves a gap. SQLite: one past the last entry,
    read under the write lock `_wait_for_turn` took (what the rowid would have been)."""
    if session.get_bind().dialect.name == "postgresql":
        number = session.scalar(
            text("SELECT nextval(pg_get_serial_sequence('audit_log', 'sequence'))")
        )
    else:
        number = session.scalar(select(func.coalesce(func.max(AuditEntry.sequence), 0) + 1))
    return int(number)


def _chain_end(session: Session) -> str:
    last = session.scalar(
        select(AuditEntry.entry_hash).order_by(AuditEntry.sequence.desc()).limit(1)
    )
    return last or GENESIS_HASH


def _wait_for_turn(session: Session) -> None:
    """Queue behind other transactions appending to the log, until they commit or roll back.

    The unique previous hash alone keeps the chain from forking, but it is not fair: under
    steady contention a writer can lose the race to the end of the chain again and again
    (measured on PostgreSQL: 8 writers, some losing more than 30 times in a row). Taking a lock
    first makes writers take turns, so the retries in `record` become a safety net for writers
    that skip this step rather than the normal path.

    PostgreSQL: a transaction-level advisory lock, released at commit or rollback; it needs no
    privilege on the table, so a role that may only insert into the log can still take it.
    SQLite: a write that changes nothing takes the database's single write lock, waiting up to
    the busy timeout. It must come before the chain's end is read: a transaction that read first
    cannot write at all once another writer has committed (its snapshot is stale, and no
    savepoint can refresh it). For the same reason, on SQLite, a caller's transaction that has
    read but not yet written may fail here with "database is locked"; retry the transaction.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("UPDATE audit_log SET sequence = sequence WHERE 0 = 1"))


def _check_text(name: str, value: str, limit: int, *, required: bool) -> None:
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise ValueError(f"audit {name} must be text of at most {limit} characters")


def _utc_naive(moment: datetime.datetime) -> datetime.datetime:
    """`moment` in UTC without a time zone, as the column stores it (naive means UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment
