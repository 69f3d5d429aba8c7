"""rows bound to their report, author and position under a review-host MAC

Revision ID: 0009
Revises: 0008

Every existing row starts unbound: the review site binds each the first time it opens it and
its document checks out (`portal.services.bindings`), and `portal audit verify` counts the rows
not bound yet. Nothing here can bind them: that needs the review-host key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("reports", "messages", "attachments", "notes")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("binding", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Bindings are only evidence: dropping them loses nothing that reads a report.
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("binding")
