"""reports: one row per report, its content a single age file

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

REPORT_KINDS = ("risk_rating", "workload", "other")
REPORT_STATUSES = ("new", "acknowledged", "assessing", "escalated", "referred", "closed")


def _checked_string(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", _checked_string("report_kind", REPORT_KINDS), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("status", _checked_string("report_status", REPORT_STATUSES), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_reports_received_on"), "reports", ["received_on"])
    op.create_index(op.f("ix_reports_status"), "reports", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_status"), table_name="reports")
    op.drop_index(op.f("ix_reports_received_on"), table_name="reports")
    op.drop_table("reports")
