"""key custody version 2: per-reviewer identities, key epochs and their grants

Revision ID: 0006
Revises: 0005

Existing accounts hold the inspectorate's identity itself in their keyrings. The first of them
to sign in starts epoch 1 from it and each moves to an identity of its own as its owner signs in
(`portal.services.review_sessions`): moving a keyring needs the password that opens it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_epochs",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "current",
                "previous",
                "retired",
                name="epoch_state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_key_epochs")),
    )
    op.create_table(
        "epoch_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("epoch_number", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("sealed_identity", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["epoch_number"],
            ["key_epochs.number"],
            name=op.f("fk_epoch_grants_epoch_number_key_epochs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
            name=op.f("fk_epoch_grants_reviewer_id_reviewers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epoch_grants")),
    )
    op.create_index(op.f("ix_epoch_grants_epoch_number"), "epoch_grants", ["epoch_number"])
    op.create_index(op.f("ix_epoch_grants_reviewer_id"), "epoch_grants", ["reviewer_id"])
    with op.batch_alter_table("reviewers") as batch:
        batch.add_column(sa.Column("recipient", sa.Text(), nullable=True))


def downgrade() -> None:
    # An account with an identity of its own reads reports only through its grants, which
    # revision 0005 does not know: refuse rather than leave accounts that can read nothing.
    moved = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM reviewers WHERE recipient IS NOT NULL"))
        .scalar_one()
    )
    if moved:
        raise RuntimeError(f"{moved} account(s) hold identities of their own: keep revision 0006")
    with op.batch_alter_table("reviewers") as batch:
        batch.drop_column("recipient")
    op.drop_index(op.f("ix_epoch_grants_reviewer_id"), table_name="epoch_grants")
    op.drop_index(op.f("ix_epoch_grants_epoch_number"), table_name="epoch_grants")
    op.drop_table("epoch_grants")
    op.drop_table("key_epochs")
