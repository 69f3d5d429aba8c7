"""follow-up and files: region, codename hash and reply key on reports; messages; attachments

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE_AUTHORS = ("submitter", "inspector")


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("region", sa.String(40), nullable=True))
        batch.add_column(sa.Column("codename_hash", sa.LargeBinary(32), nullable=True))
        batch.add_column(sa.Column("reply_recipient", sa.Text(), nullable=True))
        batch.create_index(batch.f("ix_reports_region"), ["region"])
        batch.create_unique_constraint(batch.f("uq_reports_codename_hash"), ["codename_hash"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "author",
            sa.Enum(
                *MESSAGE_AUTHORS,
                name="message_author",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_messages_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("report_id", "position", name=op.f("uq_messages_report_id")),
    )
    op.create_index(op.f("ix_messages_report_id"), "messages", ["report_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_attachments_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_message_id"), "attachments", ["message_id"])
    op.create_index(op.f("ix_attachments_report_id"), "attachments", ["report_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_attachments_report_id"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_message_id"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(op.f("ix_messages_report_id"), table_name="messages")
    op.drop_table("messages")
    with op.batch_alter_table("reports") as batch:
        batch.drop_constraint(batch.f("uq_reports_codename_hash"), type_="unique")
        batch.drop_index(batch.f("ix_reports_region"))
        batch.drop_column("reply_recipient")
        batch.drop_column("codename_hash")
        batch.drop_column("region")
