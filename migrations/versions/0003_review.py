"""review area: reviewers, their sessions, triage on reports, notes, links, audit log

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROLES = ("inspector", "admin", "auditor")
PRIORITIES = ("low", "normal", "high")
OUTCOMES = (
    "action_taken",
    "referred_elsewhere",
    "no_action",
    "not_enough_info",
    "duplicate",
)


def _checked_string(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", _checked_string("reviewer_role", ROLES), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("keyring", sa.LargeBinary(), nullable=True),
        sa.Column("enrolment_hash", sa.String(200), nullable=True),
        sa.Column("enrolment_expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_totp_step", sa.Integer(), nullable=True),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewers")),
        sa.UniqueConstraint("username", name=op.f("uq_reviewers_username")),
    )
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.LargeBinary(32), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("sealed_keyring", sa.LargeBinary(), nullable=False),
        sa.Column("enrolling", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
            name=op.f("fk_review_sessions_reviewer_id_reviewers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_sessions")),
    )
    op.create_index(op.f("ix_review_sessions_reviewer_id"), "review_sessions", ["reviewer_id"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(
            sa.Column(
                "priority",
                _checked_string("report_priority", PRIORITIES),
                nullable=False,
                server_default="normal",
            )
        )
        batch.add_column(sa.Column("assignee_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("labels", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("acknowledged_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("outcome", _checked_string("report_outcome", OUTCOMES), nullable=True)
        )
        batch.create_foreign_key(
            batch.f("fk_reports_assignee_id_reviewers"),
            "reviewers",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(batch.f("ix_reports_priority"), ["priority"])
        batch.create_index(batch.f("ix_reports_assignee_id"), ["assignee_id"])
        batch.create_index(batch.f("ix_reports_closed_on"), ["closed_on"])
    # The server defaults only filled the existing rows; the models give new rows their values.
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("priority", server_default=None)
        batch.alter_column("labels", server_default=None)
    op.create_table(
        "report_links",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("related_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["related_id"],
            ["reports.id"],
            name=op.f("fk_report_links_related_id_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_links_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "related_id", name=op.f("pk_report_links")),
    )
    op.create_index(op.f("ix_report_links_related_id"), "report_links", ["related_id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["reviewers.id"],
            name=op.f("fk_notes_author_id_reviewers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_notes_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
        sa.UniqueConstraint("report_id", "position", name=op.f("uq_notes_report_id")),
    )
    op.create_index(op.f("ix_notes_report_id"), "notes", ["report_id"])
    op.create_table(
        "audit_log",
        sa.Column("sequence", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(80), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_audit_log_entry_hash")),
        sa.UniqueConstraint("previous_hash", name=op.f("uq_audit_log_previous_hash")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_notes_report_id"), table_name="notes")
    op.drop_table("notes")
    op.drop_index(op.f("ix_report_links_related_id"), table_name="report_links")
    op.drop_table("report_links")
    with op.batch_alter_table("reports") as batch:
        batch.drop_index(batch.f("ix_reports_closed_on"))
        batch.drop_index(batch.f("ix_reports_assignee_id"))
        batch.drop_index(batch.f("ix_reports_priority"))
        batch.drop_constraint(batch.f("fk_reports_assignee_id_reviewers"), type_="foreignkey")
        batch.drop_constraint(batch.f("ck_reports_report_outcome"), type_="check")
        batch.drop_constraint(batch.f("ck_reports_report_priority"), type_="check")
        batch.drop_column("outcome")
        batch.drop_column("closed_on")
        batch.drop_column("acknowledged_on")
        batch.drop_column("labels")
        batch.drop_column("assignee_id")
        batch.drop_column("priority")
    op.drop_index(op.f("ix_review_sessions_reviewer_id"), table_name="review_sessions")
    op.drop_table("review_sessions")
    op.drop_table("reviewers")
