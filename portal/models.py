"""The portal's tables, as typed SQLAlchemy models. Models hold data only: no side effects.

A column is either an age file (ciphertext to the inspectorate) or kept in the clear because
triage needs it; every clear column below says why it is safe to keep.
"""

from __future__ import annotations

import datetime
import enum
import uuid

from sqlalchemy import Enum, LargeBinary, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class ReportStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSESSING = "assessing"
    ESCALATED = "escalated"
    REFERRED = "referred"
    CLOSED = "closed"


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
    """One submitted report: its content is a single age file; the rest is what triage needs."""

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
    # Encrypted: the report's fields, serialised and encrypted to the inspectorate (age v1).
    content: Mapped[bytes] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        return f"<Report {self.id} {self.kind.value} {self.status.value}>"
