"""The portal's tables, as typed SQLAlchemy models. Models hold data only: no side effects.

A column is either an age file (ciphertext to the inspectorate) or kept in the clear because
triage needs it; every clear column below says why it is safe to keep.
"""

from __future__ import annotations

import datetime
import enum
import uuid

from sqlalchemy import Enum, ForeignKey, LargeBinary, MetaData, String, Text, UniqueConstraint, Uuid
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations can refer to them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ReportKind(enum.StrEnum):
    RISK_RATING = "risk_rating"
    WORKLOAD = "workload"
    OTHER = "other"


class Author(enum.StrEnum):
    SUBMITTER = "submitter"
    INSPECTOR = "inspector"


class ReportStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSESSING = "assessing"
    ESCALATED = "escalated"
    REFERRED = "referred"
    CLOSED = "closed"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Outcome(enum.StrEnum):
    """Why a closed report was closed."""

    ACTION_TAKEN = "action_taken"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    NO_ACTION = "no_action"
    NOT_ENOUGH_INFORMATION = "not_enough_info"
    DUPLICATE = "duplicate"


class Role(enum.StrEnum):
    INSPECTOR = "inspector"
    ADMIN = "admin"
    AUDITOR = "auditor"


def _stored_enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: a short string checked by a named constraint, not a native type."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Report(Base):
    """One submitted report: what triage needs, in the clear. Its content, a single age file,
    lives in `ReportContent` and is reached through `Report.content`."""

    __tablename__ = "reports"

    # Random, so an identifier reveals neither how many reports exist nor their order of arrival.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Clear: the inbox filters by kind.
    kind: Mapped[ReportKind] = mapped_column(_stored_enum(ReportKind, "report_kind"))
    # Clear: urgent reports are shown first.
    urgent: Mapped[bool] = mapped_column(default=False)
    # Clear: deadlines run from it. A UTC date only, never a time (DESIGN decision 4).
    received_on: Mapped[datetime.date] = mapped_column(index=True)
    # Clear: the inspectors' own triage state.
    status: Mapped[ReportStatus] = mapped_column(
        _stored_enum(ReportStatus, "report_status"), default=ReportStatus.NEW, index=True
    )
    # Clear: the inbox and dashboard sort by it. Optional; the form tells the submitter it
    # narrows who they are and that inspectors can sort by it.
    region: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    # Clear: a slow salted hash of the submitter's codename, the only way back into follow-up.
    # None once the submitter ends follow-up. Never the codename itself.
    codename_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    # Clear: a public key derived from the codename; inspectors' replies are encrypted to it.
    reply_recipient: Mapped[str | None] = mapped_column(Text)
    # Clear: the inspectors' own triage state, filtered and sorted on in the inbox.
    priority: Mapped[Priority] = mapped_column(
        _stored_enum(Priority, "report_priority"), default=Priority.NORMAL, index=True
    )
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reviewers.id", ondelete="SET NULL"), index=True
    )
    labels: Mapped[str] = mapped_column(String(200), default="")
    # Clear: deadlines are shown against them; dates only, as for arrival.
    acknowledged_on: Mapped[datetime.date | None]
    closed_on: Mapped[datetime.date | None] = mapped_column(index=True)
    # Clear: the dashboard counts closed reports by outcome.
    outcome: Mapped[Outcome | None] = mapped_column(_stored_enum(Outcome, "report_outcome"))
    # A review-host MAC over the report's id, reply recipient and content (DESIGN decision 10):
    # None until the review site first opens the row (`portal.services.bindings`).
    binding: Mapped[bytes | None] = mapped_column(LargeBinary)

    messages: Mapped[list[Message]] = relationship(
        back_populates="report", order_by="Message.position", passive_deletes=True
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="report", passive_deletes=True
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="report", order_by="Note.position", passive_deletes=True
    )
    assignee: Mapped[Reviewer | None] = relationship()
    sealed: Mapped[ReportContent] = relationship(
        back_populates="report", cascade="all, delete-orphan", passive_deletes=True
    )
    content: AssociationProxy[bytes] = association_proxy(
        "sealed", "content", creator=lambda content: ReportContent(content=content)
    )
    """The report's age file: `Report(content=...)` and `report.content` read and write it."""

    @property
    def follow_up_open(self) -> bool:
        return self.codename_hash is not None

    def __repr__(self) -> str:
        return f"<Report {self.id} {self.kind.value} {self.status.value}>"


class ReportContent(Base):
    """A report's fields, serialised and encrypted to the inspectorate: one age file.

    Kept apart from `Report` so the rows the inbox and the dashboard filter, count and sort stay
    a few dozen bytes each. Inline, every report row carried several KiB of ciphertext: on
    SQLite a filter on a column stored after it read an overflow page per row, and a count
    over the table read about a page per report.
    """

    __tablename__ = "report_contents"

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    # Encrypted: the report's fields, to the inspectorate (age v1), bound to the report's id.
    content: Mapped[bytes] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship(back_populates="sealed")


class Message(Base):
    """One message in a report's conversation: a follow-up from the submitter or a reply."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("report_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    # Clear: 1, 2, 3 ... within the report, so the conversation reads in order without times.
    position: Mapped[int]
    # Clear: who wrote it decides who can read it and how it is shown.
    author: Mapped[Author] = mapped_column(_stored_enum(Author, "message_author"))
    # Clear: a UTC date only, never a time (DESIGN decision 4).
    sent_on: Mapped[datetime.date]
    # Encrypted: the message text, to the inspectorate and to the submitter's reply key.
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # A review-host MAC over where the row belongs and its ciphertext (DESIGN decision 10):
    # None until the review site first opens the row (`portal.services.bindings`).
    binding: Mapped[bytes | None] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship(back_populates="messages")

    def __repr__(self) -> str:
        return f"<Message {self.position} of {self.report_id} by {self.author.value}>"


class Attachment(Base):
    """A file sent with a report or a follow-up. Its bytes are an age file in the blob folder,
    named by the attachment's id; only its description lives here."""

    __tablename__ = "attachments"

    # Random: also the blob's file name, so it reveals nothing either.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    # Clear: which message it came with (None: with the report itself).
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    # Encrypted: file name, content type, size and whether metadata was removed.
    details: Mapped[bytes] = mapped_column(LargeBinary)
    # A review-host MAC over where the row belongs and its ciphertext (DESIGN decision 10):
    # None until the review site first opens the row (`portal.services.bindings`).
    binding: Mapped[bytes | None] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship(back_populates="attachments")
    message: Mapped[Message | None] = relationship()

    def __repr__(self) -> str:
        return f"<Attachment {self.id} of {self.report_id}>"


class ReportLink(Base):
    """Two reports an inspector has marked as related (stored once, lower id first)."""

    __tablename__ = "report_links"

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    related_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Note(Base):
    """An inspectors' internal note on a report, never shown to the submitter."""

    __tablename__ = "notes"
    __table_args__ = (UniqueConstraint("report_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    # Clear: who wrote it, among the inspectors; kept if the account is later removed.
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reviewers.id", ondelete="SET NULL")
    )
    written_on: Mapped[datetime.date]
    # Encrypted: the note's text, to the inspectorate.
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # A review-host MAC over where the row belongs and its ciphertext (DESIGN decision 10):
    # None until the review site first opens the row (`portal.services.bindings`).
    binding: Mapped[bytes | None] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship(back_populates="notes")
    author: Mapped[Reviewer | None] = relationship()


class Reviewer(Base):
    """An account on the review site: an inspector, an administrator or an auditor."""

    __tablename__ = "reviewers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_stored_enum(Role, "reviewer_role"))
    # Argon2id of the password (parameters, salt and hash), keyed by the review-host key from
    # custody version 2; None until the account is enrolled.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Encrypted (age, scrypt): the TOTP secret and, except for auditors, the inspectorate's
    # identity; under the one-time enrolment code until enrolment, then under the password.
    # From custody version 2, sealed under the review-host key as well.
    keyring: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The TOTP secret sealed under the review-host key (custody version 2), so a code can be
    # checked before the password is.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # 1: keyring and hashes as before the review-host key; 2: sealed and keyed by it. A
    # version 1 account is moved to version 2 the next time its owner signs in or enrols.
    custody_version: Mapped[int] = mapped_column(default=2)
    # Argon2id of the one-time enrolment code; None once used.
    enrolment_hash: Mapped[str | None] = mapped_column(String(200))
    enrolment_expires_at: Mapped[datetime.datetime | None]
    # The last TOTP time step accepted: a code is accepted once only.
    last_totp_step: Mapped[int | None]
    # The public recipient of the reviewer's own identity: the inspectorate's epoch keys are
    # granted to it (`EpochGrant`). None for auditors, and for accounts not yet moved on.
    recipient: Mapped[str | None] = mapped_column(Text)
    # Failed sign-ins since the last success: shown to administrators, never a lock.
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime.datetime]
    revoked_at: Mapped[datetime.datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.password_hash is not None

    def __repr__(self) -> str:
        return f"<Reviewer {self.username} {self.role.value}>"


class ReviewSession(Base):
    """A signed-in reviewer's session. The identity it holds is encrypted under a key that
    lives only in the reviewer's cookie: the server alone cannot open it."""

    __tablename__ = "review_sessions"

    # SHA-256 of the session token in the cookie, so a copy of this table opens no session.
    id: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reviewers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime.datetime]
    last_seen_at: Mapped[datetime.datetime]
    # The reviewer's keyring, encrypted under a key derived from the cookie's session key and
    # the review-host key (ChaCha20-Poly1305): neither alone opens it.
    sealed_keyring: Mapped[bytes] = mapped_column(LargeBinary)
    # True while an account is half way through enrolment (password set, TOTP not confirmed).
    enrolling: Mapped[bool] = mapped_column(default=False)

    reviewer: Mapped[Reviewer] = relationship()


class EpochState(enum.StrEnum):
    CURRENT = "current"
    """New reports are sealed to it (once the submission host has its recipients file)."""
    PREVIOUS = "previous"
    """Replaced by a newer epoch; what was sealed to it is read with it until re-keyed."""
    RETIRED = "retired"
    """Every ciphertext was moved off it (`portal keys rekey`) and its grants destroyed."""


class KeyEpoch(Base):
    """One generation of the inspectorate's key (DESIGN decision 3). Its identity is stored
    only as grants: age files of it to each reader's recipient and to the recovery recipient."""

    __tablename__ = "key_epochs"

    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    recipient: Mapped[str] = mapped_column(Text)
    state: Mapped[EpochState] = mapped_column(_stored_enum(EpochState, "epoch_state"))
    created_on: Mapped[datetime.date]


class EpochGrant(Base):
    """An epoch's identity, encrypted (age) to one holder: a reviewer, or (no reviewer) the
    recovery recipient, whose identity is in the offline recovery file."""

    __tablename__ = "epoch_grants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    epoch_number: Mapped[int] = mapped_column(
        ForeignKey("key_epochs.number", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reviewers.id", ondelete="CASCADE"), index=True
    )
    # The recipient the grant is encrypted to: the reviewer's, or the recovery recipient.
    recipient: Mapped[str] = mapped_column(Text)
    sealed_identity: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEntry(Base):
    """One reviewer action. Each entry's hash covers the previous entry's hash, so changing,
    removing or reordering any entry breaks the chain, and the review host signs each entry it
    appends, so a database writer cannot rebuild the chain unseen. The database refuses UPDATE,
    DELETE and TRUNCATE on this table (triggers, migration 0010). Entries hold no report
    content."""

    __tablename__ = "audit_log"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # Unique: two entries can never claim the same predecessor, so concurrent writers cannot
    # fork the chain; the loser of a race retries on the new end of the chain.
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Ed25519 over (sequence, entry_hash) with the review-host key's audit signing key
    # (portal.custody.audit_signing), in hex; NULL for an entry appended without that key.
    head_signature: Mapped[str | None] = mapped_column(String(128))
