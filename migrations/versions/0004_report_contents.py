"""report contents in their own table, so report rows hold only what triage needs

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_contents",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_contents_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_contents")),
    )
    op.execute("INSERT INTO report_contents (report_id, content) SELECT id, content FROM reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("content")


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE reports SET content = "
        "(SELECT content FROM report_contents WHERE report_contents.report_id = reports.id)"
    )
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("report_contents")
