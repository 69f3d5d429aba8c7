"""key custody version 2: the review-host key seals keyrings and TOTP secrets; no lock-out

Revision ID: 0005
Revises: 0004

Existing accounts keep custody version 1 (their keyrings and hashes as they were) until their
owner next signs in or enrols, which moves them to version 2. Nothing here can do that: moving
a keyring needs the password that opens it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviewers") as batch:
        batch.add_column(sa.Column("totp_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("custody_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch.drop_column("locked_until")


def downgrade() -> None:
    # Only version 1 accounts can go back: a version 2 keyring needs the review-host key, which
    # the older code does not know. Refuse rather than leave accounts nobody can open.
    connection = op.get_bind()
    moved = connection.execute(
        sa.text("SELECT count(*) FROM reviewers WHERE custody_version = 2 AND keyring IS NOT NULL")
    ).scalar_one()
    if moved:
        raise RuntimeError(
            f"{moved} account(s) use custody version 2: revoke them, or keep revision 0005"
        )
    with op.batch_alter_table("reviewers") as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch.drop_column("custody_version")
        batch.drop_column("totp_sealed")
